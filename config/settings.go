package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Settings are the server's own settings. Each field is declared here once:
// its file key (json), its flags (flag: long name, then any shorthand), an
// environment variable where one is read (env), its default (default, in
// the flag's syntax; none means the zero value) and its documentation
// (usage, which is the flag help). DefaultSettings, the flags and the
// README's table all come from these tags (TestREADMESettings checks the
// table). Load resolves them: defaults < the file's rafka section <
// environment < flags.
type Settings struct {
	Host                   string            `json:"host" flag:"host" usage:"listen address (default 127.0.0.1, or 0.0.0.0 with --requirepass or --acl-file: protected mode)"`
	Port                   int               `json:"port" flag:"port,p" default:"6380" usage:"listen port; 0 lets the system pick one (see --ready-file)"`
	Brokers                string            `json:"brokers" flag:"brokers" env:"RAFKA_BROKERS" usage:"Kafka bootstrap servers (default $RAFKA_BROKERS, then bootstrap.servers of the config file; none: embedded try-it broker)"`
	DataDir                string            `json:"data_dir" flag:"data-dir" default:"./rafka-data" usage:"data directory of the embedded try-it broker"`
	MaxClients             int               `json:"max_clients" flag:"max-clients" default:"10000" usage:"most connections at once"`
	MaxBulkBytes           int64             `json:"max_bulk_bytes" flag:"max-bulk-bytes" default:"33554432" usage:"largest bulk argument (a message)"`
	MaxArgs                int64             `json:"max_args" flag:"max-args" default:"1048576" usage:"most arguments of one command"`
	MaxInlineBytes         int64             `json:"max_inline_bytes" flag:"max-inline-bytes" default:"65536" usage:"longest inline (telnet-style) command line"`
	MaxCommandBytes        int64             `json:"max_command_bytes" flag:"max-command-bytes" default:"67108864" usage:"largest command, all its bulk arguments together, refused before they are buffered"`
	MaxBatchBytes          int               `json:"max_batch_bytes" flag:"max-batch-bytes" default:"16777216" usage:"ceiling of ARROW.BLPOP MAXBYTES and Flight max_batch_bytes; at least 1024"`
	MonitorBufferBytes     int64             `json:"monitor_buffer_bytes" flag:"monitor-buffer-bytes" default:"1048576" usage:"bytes of lines waiting for one MONITOR client before lines are dropped"`
	AuthFailuresPerSecond  float64           `json:"auth_failures_per_second" flag:"auth-failures-per-second" default:"10" usage:"failed logins (AUTH, Flight handshakes and bearer tokens) one address gets a second, after as many at once"`
	IdleTimeout            Duration          `json:"idle_timeout" flag:"idle-timeout" usage:"close connections that sent nothing this long (0: never)"`
	AuthTimeout            Duration          `json:"auth_timeout" flag:"auth-timeout" default:"10s" usage:"with a password or ACL file, close connections not authenticated this long after connecting (0: never)"`
	ProducerCloseTimeout   Duration          `json:"producer_close_timeout" flag:"producer-close-timeout" default:"5s" usage:"how long a closing connection's outstanding messages are waited for"`
	MaxOutstandingMessages int64             `json:"max_outstanding_messages" flag:"max-outstanding-messages" default:"10000" usage:"a connection with more messages awaiting delivery is not read until they are delivered"`
	MaxOutstandingBytes    int64             `json:"max_outstanding_bytes" flag:"max-outstanding-bytes" default:"16777216" usage:"a connection with more message bytes awaiting delivery is not read until they are delivered"`
	ShutdownTimeout        Duration          `json:"shutdown_timeout" flag:"shutdown-timeout" default:"30s" usage:"limit of the whole shutdown"`
	FlightAddr             string            `json:"flight_addr" flag:"flight-addr" default:"127.0.0.1:8815" usage:"Arrow Flight listen address, or off"`
	FlightAdvertise        string            `json:"flight_advertise" flag:"flight-advertise" usage:"host:port put in Flight endpoint locations"`
	FlightTokens           []string          `json:"flight_tokens" flag:"flight-token" usage:"a static Flight bearer token with full access (repeatable; the command line's replace the file's)"`
	FlightUsers            map[string]string `json:"flight_users" flag:"flight-user" usage:"Flight Basic credentials user:password with full access, exchanged for a bearer token (repeatable; the command line's replace the file's)"`
	FlightTLSCert          string            `json:"flight_tls_cert" flag:"flight-tls-cert" usage:"Flight TLS certificate file (PEM)"`
	FlightTLSKey           string            `json:"flight_tls_key" flag:"flight-tls-key" usage:"Flight TLS key file (PEM)"`
	FlightMaxStreams       int               `json:"flight_max_streams" flag:"flight-max-streams" default:"64" usage:"most concurrent Flight data streams (DoGet, DoPut)"`
	RequirePass            string            `json:"requirepass" flag:"requirepass" usage:"require AUTH with this password"`
	ACLFile                string            `json:"acl_file" flag:"acl-file" usage:"users file: hashed passwords and the topics and groups each user may use"`
	TLSCert                string            `json:"tls_cert" flag:"tls-cert" usage:"serve RESP over TLS with this certificate file (PEM)"`
	TLSKey                 string            `json:"tls_key" flag:"tls-key" usage:"key file of --tls-cert (PEM)"`
	TLSCA                  string            `json:"tls_ca" flag:"tls-ca" usage:"require RESP client certificates signed by this CA file (PEM)"`
	MetricsAddr            string            `json:"metrics_addr" flag:"metrics-addr" usage:"serve Prometheus /metrics, /healthz and /readyz on this address"`
	PprofAddr              string            `json:"pprof_addr" flag:"pprof-addr" usage:"serve Go pprof profiles on this address, e.g. 127.0.0.1:6060 (opt-in; keep it on loopback)"`
	StreamPayloadFields    []string          `json:"stream_payload_fields" flag:"stream-payload-field" default:"payload,data,message,body,value" usage:"an XADD field whose value becomes the Kafka record's value, the first of an entry's fields in this list winning (repeatable; the command line's replace the default)"`
	StreamMaxPending       int64             `json:"stream_max_pending" flag:"stream-max-pending" default:"100000" usage:"most pending (delivered, not acked) entries of one stream consumer group on this rafka; past it XREADGROUP > is refused until entries are acked"`
	MaxConsumers           int               `json:"max_consumers" flag:"max-consumers" default:"4096" usage:"most BLPOP consumers (a librdkafka consumer each, with its threads) on this rafka; an ACL user's at most a quarter; past it a new one is refused"`
	StreamMaxMembers       int               `json:"stream_max_members" flag:"stream-max-members" default:"256" usage:"most Kafka group members (librdkafka consumers) this rafka runs for stream groups, one per group and topic set; past it XREADGROUP of a new one is refused"`
	StreamMemberIdle       Duration          `json:"stream_member_idle" flag:"stream-member-idle" default:"5m0s" usage:"close a stream group's Kafka member on this rafka once no command used it this long and it has nothing pending, so the group's members on other rafkas get its partitions (0: never)"`
	TransactionalIDPrefix  string            `json:"transactional_id_prefix" flag:"transactional-id-prefix" usage:"transactional.id prefix of the producers of MULTI/EXEC transactions, unique to this rafka and the same after a restart (default rafka-<hostname>-<RESP address>)"`
	KafkaStatsInterval     Duration          `json:"kafka_stats_interval" flag:"kafka-stats-interval" usage:"librdkafka statistics interval of the consumers and producers, for consumer lag and producer queue depth in /metrics (0: off)"`
	LogLevel               string            `json:"log_level" flag:"log-level" default:"info" usage:"debug, info, warn or error (or trace, fatal, panic, disabled)"`
	LogFormat              string            `json:"log_format" flag:"log-format" default:"console" usage:"console or json"`
}

// maxStatsInterval is the largest statistics.interval.ms librdkafka takes.
const maxStatsInterval = 24 * time.Hour

// DefaultSettings returns the settings used when nothing is configured: the
// default tags of Settings.
func DefaultSettings() Settings {
	var s Settings
	v := reflect.ValueOf(&s).Elem()
	for _, d := range declared() {
		if d.def == "" {
			continue
		}
		defs := []string{d.def}
		if v.Field(d.field).Kind() == reflect.Slice {
			defs = strings.Split(d.def, ",") // a list's default is comma-separated
		}
		for _, def := range defs {
			if err := setField(v.Field(d.field), def); err != nil {
				panic(fmt.Sprintf("config: default of %s: %v", d.key, err)) // a typo in a tag above
			}
		}
	}
	return s
}

// Validate reports the first setting that is out of range.
func (s Settings) Validate() error {
	switch {
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("port %d out of range", s.Port)
	case s.MaxClients < 1:
		return fmt.Errorf("max clients must be at least 1, got %d", s.MaxClients)
	case s.MaxBulkBytes < 1 || s.MaxArgs < 1 || s.MaxInlineBytes < 1 || s.MaxCommandBytes < 1:
		return fmt.Errorf("max bulk bytes, max args, max inline bytes and max command bytes must be at least 1")
	case s.MaxBatchBytes < 1024:
		return fmt.Errorf("max batch bytes must be at least 1024, got %d", s.MaxBatchBytes)
	case s.MonitorBufferBytes < 1:
		return fmt.Errorf("monitor buffer bytes must be at least 1")
	case !(s.AuthFailuresPerSecond > 0):
		return fmt.Errorf("auth failures per second must be positive")
	case s.IdleTimeout < 0:
		return fmt.Errorf("idle timeout must not be negative")
	case s.AuthTimeout < 0:
		return fmt.Errorf("auth timeout must not be negative")
	case s.ProducerCloseTimeout < 0:
		return fmt.Errorf("producer close timeout must not be negative")
	case s.MaxOutstandingMessages < 1 || s.MaxOutstandingBytes < 1:
		return fmt.Errorf("max outstanding messages and max outstanding bytes must be at least 1")
	case s.ShutdownTimeout <= 0:
		return fmt.Errorf("shutdown timeout must be positive")
	case s.KafkaStatsInterval < 0 || (s.KafkaStatsInterval > 0 && time.Duration(s.KafkaStatsInterval) < time.Millisecond) ||
		time.Duration(s.KafkaStatsInterval) > maxStatsInterval:
		return fmt.Errorf("kafka stats interval must be 0 (off) or from 1ms to %v", maxStatsInterval)
	case len(s.StreamPayloadFields) > 32 || slices.Contains(s.StreamPayloadFields, ""):
		return fmt.Errorf("stream payload fields: at most 32, none empty")
	case s.StreamMemberIdle < 0:
		return fmt.Errorf("stream member idle must not be negative")
	case s.StreamMaxPending < 1:
		return fmt.Errorf("stream max pending must be at least 1")
	case s.StreamMaxMembers < 1:
		return fmt.Errorf("stream max members must be at least 1")
	case s.MaxConsumers < 1:
		return fmt.Errorf("max consumers must be at least 1")
	case s.FlightMaxStreams < 1:
		return fmt.Errorf("flight max streams must be at least 1")
	case (s.FlightTLSCert == "") != (s.FlightTLSKey == ""):
		return fmt.Errorf("flight TLS needs both a certificate and a key")
	case (s.TLSCert == "") != (s.TLSKey == ""):
		return fmt.Errorf("TLS needs both a certificate and a key")
	case s.TLSCA != "" && s.TLSCert == "":
		return fmt.Errorf("a TLS CA needs a TLS certificate and key")
	}
	if _, err := zerolog.ParseLevel(s.LogLevel); err != nil {
		return fmt.Errorf("log level %q: expected debug, info, warn or error (or trace, fatal, panic, disabled)", s.LogLevel)
	}
	switch s.LogFormat {
	case "console", "json":
	default:
		return fmt.Errorf("log format %q: expected console or json", s.LogFormat)
	}
	return nil
}

// Duration is a time.Duration that reads from JSON as a Go duration string
// ("5s", "250ms") or as a number of milliseconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration: expected a string like \"5s\" or milliseconds, got %s", b)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// String implements flag.Value and fmt.Stringer.
func (d *Duration) String() string { return time.Duration(*d).String() }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// FlightEnabled reports whether the Flight listener is on.
func (s Settings) FlightEnabled() bool { return s.FlightAddr != "" && s.FlightAddr != "off" }
