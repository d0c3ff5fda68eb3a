package config

import (
	"encoding/json"
	"fmt"
	"time"

	"rafka/authlimit"
)

// Settings are the server's own settings. They come from the "rafka" section
// of the configuration file and from command-line flags (flags win).
type Settings struct {
	// Host is the RESP listen address. Default "" (protected mode: main
	// listens on 127.0.0.1, as no authentication exists yet).
	Host string `json:"host"`
	// Port is the RESP listen port. Default 6380.
	Port int `json:"port"`
	// Brokers are the Kafka bootstrap servers; when set they override
	// bootstrap.servers in every section of the file. Default: RAFKA_BROKERS;
	// none here and none in the file means the embedded broker.
	Brokers string `json:"brokers"`
	// DataDir is where the embedded try-it broker keeps its data. Default
	// ./rafka-data.
	DataDir string `json:"data_dir"`
	// MaxClients is the most connections served at once. Default 10000.
	MaxClients int `json:"max_clients"`
	// MaxBulkBytes is the largest bulk argument a command may carry.
	// Default 32 MiB.
	MaxBulkBytes int64 `json:"max_bulk_bytes"`
	// MaxArgs is the most arguments one command may have. Default 1048576.
	MaxArgs int64 `json:"max_args"`
	// MaxInlineBytes is the longest inline (telnet-style) command line.
	// Default 64 KiB.
	MaxInlineBytes int64 `json:"max_inline_bytes"`
	// MaxCommandBytes bounds the sum of one command's arguments, refused
	// before they are buffered. Default 64 MiB.
	MaxCommandBytes int64 `json:"max_command_bytes"`
	// MaxBatchBytes is the ceiling of ARROW.BLPOP's MAXBYTES and of a
	// Flight read's max_batch_bytes. Default 16 MiB.
	MaxBatchBytes int `json:"max_batch_bytes"`
	// MonitorBufferBytes bounds the lines waiting for one MONITOR client;
	// past it lines are dropped. Default 1 MiB.
	MonitorBufferBytes int64 `json:"monitor_buffer_bytes"`
	// AuthFailuresPerSecond is how many failed logins (AUTH, Flight
	// handshakes and bearer tokens) one address gets a second, after as
	// many at once. Default 10.
	AuthFailuresPerSecond float64 `json:"auth_failures_per_second"`
	// IdleTimeout closes a connection that sent nothing for this long.
	// Default 0 (never).
	IdleTimeout Duration `json:"idle_timeout"`
	// AuthTimeout closes a connection that has not authenticated this long
	// after it connected, when authentication is required: connections
	// that never log in cannot hold every slot. Default 10s; 0 never.
	AuthTimeout Duration `json:"auth_timeout"`
	// ProducerCloseTimeout bounds how long a connection's outstanding
	// messages are waited for when the connection ends. Default 5s.
	ProducerCloseTimeout Duration `json:"producer_close_timeout"`
	// MaxOutstandingMessages and MaxOutstandingBytes bound one connection's
	// (or DoPut's) messages enqueued on the shared producer and not yet
	// reported: past either, the connection is not read until its
	// deliveries catch up. Defaults 10000 and 16 MiB.
	MaxOutstandingMessages int64 `json:"max_outstanding_messages"`
	MaxOutstandingBytes    int64 `json:"max_outstanding_bytes"`
	// ShutdownTimeout bounds the whole shutdown. Default 30s.
	ShutdownTimeout Duration `json:"shutdown_timeout"`
	// FlightAddr is the Arrow Flight listen address; "off" disables it.
	// Default 127.0.0.1:8815.
	FlightAddr string `json:"flight_addr"`
	// FlightAdvertise is the host:port put in Flight endpoint locations.
	// Default none (clients redeem tickets where they got them).
	FlightAdvertise string `json:"flight_advertise"`
	// FlightTokens are static bearer tokens for Flight. Default none.
	FlightTokens []string `json:"flight_tokens"`
	// FlightUsers are Basic credentials (user -> password) that Flight
	// clients exchange for a bearer token. Default none.
	FlightUsers map[string]string `json:"flight_users"`
	// FlightTLSCert and FlightTLSKey enable TLS on Flight. Default none.
	FlightTLSCert string `json:"flight_tls_cert"`
	FlightTLSKey  string `json:"flight_tls_key"`
	// FlightMaxStreams bounds concurrent Flight streams. Default 64.
	FlightMaxStreams int `json:"flight_max_streams"`
	// RequirePass makes clients AUTH with this password before any command
	// but AUTH, HELLO ... AUTH, PING and QUIT. Default none.
	RequirePass string `json:"requirepass"`
	// ACLFile names the users file (see package acl): users, hashed
	// passwords and the topics and groups each may use. Default none.
	ACLFile string `json:"acl_file"`
	// TLSCert and TLSKey serve the RESP listener over TLS; TLSCA, when set,
	// requires client certificates signed by it. Default none.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	TLSCA   string `json:"tls_ca"`
	// MetricsAddr serves Prometheus /metrics, /healthz and /readyz when set.
	// Default none.
	MetricsAddr string `json:"metrics_addr"`
	// PprofAddr serves Go's net/http/pprof profiles when set (opt-in; keep
	// it on loopback). Default none.
	PprofAddr string `json:"pprof_addr"`
	// KafkaStatsInterval, when positive, sets librdkafka's
	// statistics.interval.ms on the connections' consumers and producers
	// (and DoPut's producer), which feeds consumer lag and producer queue
	// depth to /metrics. Default 0 (off: the properties are left as the
	// file sets them).
	KafkaStatsInterval Duration `json:"kafka_stats_interval"`
	// LogLevel is one of debug, info, warn, error. Default info.
	LogLevel string `json:"log_level"`
	// LogFormat is "console" or "json". Default console.
	LogFormat string `json:"log_format"`
}

// maxStatsInterval is the largest statistics.interval.ms librdkafka takes.
const maxStatsInterval = 24 * time.Hour

// DefaultSettings returns the settings used when nothing is configured.
func DefaultSettings() Settings {
	return Settings{
		Port:                   6380,
		DataDir:                "./rafka-data",
		MaxClients:             10000,
		FlightAddr:             "127.0.0.1:8815",
		FlightMaxStreams:       64,
		MaxBulkBytes:           32 << 20,
		MaxArgs:                1 << 20,
		MaxInlineBytes:         64 << 10,
		MaxCommandBytes:        64 << 20,
		MaxBatchBytes:          16 << 20,
		MonitorBufferBytes:     1 << 20,
		AuthFailuresPerSecond:  authlimit.DefaultRate,
		ProducerCloseTimeout:   Duration(5 * time.Second),
		MaxOutstandingMessages: 10000,
		MaxOutstandingBytes:    16 << 20,
		AuthTimeout:            Duration(10 * time.Second),
		ShutdownTimeout:        Duration(30 * time.Second),
		LogLevel:               "info",
		LogFormat:              "console",
	}
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
	case s.FlightMaxStreams < 1:
		return fmt.Errorf("flight max streams must be at least 1")
	case (s.FlightTLSCert == "") != (s.FlightTLSKey == ""):
		return fmt.Errorf("flight TLS needs both a certificate and a key")
	case (s.TLSCert == "") != (s.TLSKey == ""):
		return fmt.Errorf("TLS needs both a certificate and a key")
	case s.TLSCA != "" && s.TLSCert == "":
		return fmt.Errorf("a TLS CA needs a TLS certificate and key")
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
