// Command rafka serves Apache Kafka over the Redis protocol: produce with
// RPUSHX, consume in consumer groups with CLIENT SETNAME + BLPOP, acknowledge
// with RPUSH acks. See README.md.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"rafka/acl"
	"rafka/arrowflight"
	"rafka/authlimit"
	"rafka/config"
	"rafka/consumer"
	"rafka/embedded"
	"rafka/producer"
	"rafka/server"
	"rafka/stats"
)

// version and commit are set at build time with -ldflags -X.
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

// gcPercent is the garbage collector's target unless GOGC is set: every
// produced and consumed message leaves a few hundred bytes of garbage
// (confluent-kafka-go's per-message allocations) on a heap of a few MB, so
// Go's default of 100 collects many times a second; 400 collects a quarter
// as often for a few MB more.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "rafka:", err)
		os.Exit(1)
	}
}

// options are the command-line flags that are not settings.
type options struct {
	configPath  string
	showVersion bool
	readyFile   string // where to write the bound addresses once serving
}

// newFlagSet defines every flag; the settings flags write into set and take
// set's values as their defaults, so a flag given on the command line
// overrides set's value, even with a zero value (--producer-close-timeout 0),
// and leaves it alone otherwise.
func newFlagSet(o *options, set *config.Settings, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rafka", flag.ContinueOnError)
	fs.SetOutput(out)
	d := config.DefaultSettings()
	var tokens, users bool
	fs.StringVar(&o.configPath, "config", "", "configuration file (kafka.json); default $RAFKA_CONFIG")
	fs.StringVar(&o.readyFile, "ready-file", "", "once every listener is up, write their bound addresses (JSON) to this file; with --port 0 and :0 addresses, how a harness learns the ports")
	fs.StringVar(&o.configPath, "c", "", "shorthand for --config")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.BoolVar(&o.showVersion, "v", false, "shorthand for --version")
	fs.StringVar(&set.Host, "host", set.Host, "listen address (default 127.0.0.1, or 0.0.0.0 with --requirepass or --acl-file: protected mode)")
	fs.IntVar(&set.Port, "port", set.Port, fmt.Sprintf("listen port (default %d)", d.Port))
	fs.IntVar(&set.Port, "p", set.Port, "shorthand for --port")
	fs.StringVar(&set.Brokers, "brokers", set.Brokers, "Kafka bootstrap servers (default $RAFKA_BROKERS, then bootstrap.servers of the config file; none: embedded try-it broker)")
	fs.StringVar(&set.DataDir, "data-dir", set.DataDir, "data directory of the embedded broker (default "+d.DataDir+")")
	fs.IntVar(&set.MaxClients, "max-clients", set.MaxClients, fmt.Sprintf("most connections at once (default %d)", d.MaxClients))
	fs.Int64Var(&set.MaxBulkBytes, "max-bulk-bytes", set.MaxBulkBytes, fmt.Sprintf("largest bulk argument (default %d)", d.MaxBulkBytes))
	fs.Int64Var(&set.MaxArgs, "max-args", set.MaxArgs, fmt.Sprintf("most arguments of one command (default %d)", d.MaxArgs))
	fs.Int64Var(&set.MaxInlineBytes, "max-inline-bytes", set.MaxInlineBytes, fmt.Sprintf("longest inline command line (default %d)", d.MaxInlineBytes))
	fs.Int64Var(&set.MaxCommandBytes, "max-command-bytes", set.MaxCommandBytes, fmt.Sprintf("largest command, all its arguments together (default %d)", d.MaxCommandBytes))
	fs.IntVar(&set.MaxBatchBytes, "max-batch-bytes", set.MaxBatchBytes, fmt.Sprintf("ceiling of ARROW.BLPOP MAXBYTES and Flight max_batch_bytes (default %d)", d.MaxBatchBytes))
	fs.Int64Var(&set.MonitorBufferBytes, "monitor-buffer-bytes", set.MonitorBufferBytes, fmt.Sprintf("bytes of lines waiting for one MONITOR client before lines are dropped (default %d)", d.MonitorBufferBytes))
	fs.Float64Var(&set.AuthFailuresPerSecond, "auth-failures-per-second", set.AuthFailuresPerSecond, fmt.Sprintf("failed logins one address gets a second, after as many at once (default %g)", d.AuthFailuresPerSecond))
	fs.Var(&set.IdleTimeout, "idle-timeout", "close connections idle this long (default 0: never)")
	fs.Var(&set.AuthTimeout, "auth-timeout", "with a password or ACL file, close connections not authenticated this long after connecting (default "+d.AuthTimeout.String()+"; 0: never)")
	fs.Var(&set.ProducerCloseTimeout, "producer-close-timeout", "how long a closing connection's outstanding messages are waited for (default "+d.ProducerCloseTimeout.String()+")")
	fs.Int64Var(&set.MaxOutstandingMessages, "max-outstanding-messages", set.MaxOutstandingMessages, fmt.Sprintf("a connection with more messages awaiting delivery is not read until they are delivered (default %d)", d.MaxOutstandingMessages))
	fs.Int64Var(&set.MaxOutstandingBytes, "max-outstanding-bytes", set.MaxOutstandingBytes, fmt.Sprintf("a connection with more message bytes awaiting delivery is not read until they are delivered (default %d)", d.MaxOutstandingBytes))
	fs.Var(&set.ShutdownTimeout, "shutdown-timeout", "limit of the whole shutdown (default "+d.ShutdownTimeout.String()+")")
	fs.StringVar(&set.FlightAddr, "flight-addr", set.FlightAddr, "Arrow Flight listen address, or off (default "+d.FlightAddr+")")
	fs.StringVar(&set.FlightAdvertise, "flight-advertise", set.FlightAdvertise, "host:port put in Flight endpoint locations (default none)")
	fs.Func("flight-token", "a static Flight bearer token (repeatable)", func(v string) error {
		if !tokens { // the command line replaces the file's list
			set.FlightTokens, tokens = nil, true
		}
		set.FlightTokens = append(set.FlightTokens, v)
		return nil
	})
	fs.Func("flight-user", "Flight Basic credentials user:password, exchanged for a bearer token (repeatable)", func(v string) error {
		user, pass, ok := strings.Cut(v, ":")
		if !ok || user == "" {
			return fmt.Errorf("expected user:password")
		}
		if !users {
			set.FlightUsers, users = map[string]string{}, true
		}
		set.FlightUsers[user] = pass
		return nil
	})
	fs.StringVar(&set.FlightTLSCert, "flight-tls-cert", set.FlightTLSCert, "Flight TLS certificate file (default none)")
	fs.StringVar(&set.FlightTLSKey, "flight-tls-key", set.FlightTLSKey, "Flight TLS key file (default none)")
	fs.IntVar(&set.FlightMaxStreams, "flight-max-streams", set.FlightMaxStreams, fmt.Sprintf("most concurrent Flight streams (default %d)", d.FlightMaxStreams))
	fs.StringVar(&set.RequirePass, "requirepass", set.RequirePass, "require AUTH with this password (default none)")
	fs.StringVar(&set.ACLFile, "acl-file", set.ACLFile, "users file: hashed passwords and the topics and groups each user may use (default none)")
	fs.StringVar(&set.TLSCert, "tls-cert", set.TLSCert, "serve RESP over TLS with this certificate file (default none)")
	fs.StringVar(&set.TLSKey, "tls-key", set.TLSKey, "key file of --tls-cert")
	fs.StringVar(&set.TLSCA, "tls-ca", set.TLSCA, "require client certificates signed by this CA file (default none)")
	fs.StringVar(&set.MetricsAddr, "metrics-addr", set.MetricsAddr, "serve Prometheus /metrics, /healthz and /readyz on this address (default off)")
	fs.StringVar(&set.PprofAddr, "pprof-addr", set.PprofAddr, "serve Go pprof profiles on this address, e.g. 127.0.0.1:6060 (default off)")
	fs.Var(&set.KafkaStatsInterval, "kafka-stats-interval", "librdkafka statistics interval of the consumers and producers, for consumer lag and producer queue depth in /metrics (default 0: off)")
	fs.StringVar(&set.LogLevel, "log-level", set.LogLevel, "debug, info, warn or error (default "+d.LogLevel+")")
	fs.StringVar(&set.LogFormat, "log-format", set.LogFormat, "console or json (default "+d.LogFormat+")")
	return fs
}

// parseFlags checks the command line and reads the flags that are not
// settings; loadConfig applies the settings flags over the file.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var (
		o       options
		scratch config.Settings
	)
	fs := newFlagSet(&o, &scratch, stderr)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

// loadConfig reads the file and layers defaults, the file's rafka section,
// the environment and the flags, in that order.
func loadConfig(o options, args []string) (*config.File, config.Settings, error) {
	path := o.configPath
	if path == "" {
		path = os.Getenv("RAFKA_CONFIG")
	}
	file := &config.File{General: config.Properties{}, Consumer: config.Properties{}, Producer: config.Properties{}, Rafka: config.DefaultSettings()}
	if path != "" {
		var err error
		if file, err = config.Load(path); err != nil {
			return nil, config.Settings{}, err
		}
	}
	s := file.Rafka
	if env := os.Getenv("RAFKA_BROKERS"); env != "" {
		s.Brokers = env
	}
	var ignored options
	if err := newFlagSet(&ignored, &s, io.Discard).Parse(args); err != nil {
		return nil, s, err // parseFlags accepted the same arguments
	}
	return file, s, s.Validate()
}

func newLogger(s config.Settings, stderr io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(s.LogLevel)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("log level: %w", err)
	}
	var w io.Writer = stderr
	if s.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.showVersion {
		fmt.Fprintf(stdout, "rafka %s (commit %s)\n", version, commit)
		return nil
	}
	file, settings, err := loadConfig(o, args)
	if err != nil {
		return err
	}
	log, err := newLogger(settings, stderr)
	if err != nil {
		return err
	}

	var users *acl.List
	if settings.ACLFile != "" {
		if users, err = acl.Load(settings.ACLFile); err != nil {
			return err
		}
	}
	authRequired := settings.RequirePass != "" || users != nil
	switch {
	case settings.Host == "" && authRequired:
		settings.Host = "0.0.0.0"
	case settings.Host == "":
		// Protected mode: with no authentication configured, serve only
		// this machine unless --host says otherwise.
		settings.Host = "127.0.0.1"
		log.Info().Msg("protected mode: no --requirepass, so listening on loopback only; pass --host 0.0.0.0 to serve other machines")
	case !isLoopback(settings.Host) && !authRequired:
		log.Warn().Str("host", settings.Host).Msg("serving a non-loopback address WITHOUT authentication: anyone who can reach it can produce and consume")
	}

	if settings.Brokers == "" && file.Brokers() == "" {
		broker, err := startTryItBroker(settings, log)
		if err != nil {
			return err
		}
		defer broker.Close()
		settings.Brokers = broker.Addr()
	}

	consumerProps := file.ConsumerProperties(settings.Brokers)
	producerProps := file.ProducerProperties(settings.Brokers)
	config.SetStatsInterval(consumerProps, time.Duration(settings.KafkaStatsInterval))
	config.SetStatsInterval(producerProps, time.Duration(settings.KafkaStatsInterval))
	log.Info().Interface("consumer", config.Masked(consumerProps)).
		Interface("producer", config.Masked(producerProps)).Msg("kafka configuration")
	if err := consumer.Validate(consumerProps); err != nil {
		return fmt.Errorf("consumer configuration: %w", err)
	}
	if err := producer.Validate(producerProps); err != nil {
		return fmt.Errorf("producer configuration: %w", err)
	}

	tlsConfig, err := respTLS(settings)
	if err != nil {
		return err
	}
	st := stats.New()
	metrics := stats.NewMetrics(st)
	logins := server.NewLoginLimiter(settings) // RESP and Flight count one host's failures together
	// One producer for every connection and DoPut call, each accounted on
	// its own; closed once both services have shut down.
	prod := producer.New(producerProps, producer.LimitsOf(settings), st, log)
	closeTimeout := time.Duration(settings.ProducerCloseTimeout)
	defer func() { prod.Close(closeTimeout) }() // when start-up fails; a no-op after shutdown
	srv := server.New(server.Config{
		Settings: settings,
		Consumer: consumerProps,
		Producer: prod,
		General:  file.GeneralProperties(settings.Brokers),
		Version:  version,
		Stats:    st,
		Log:      log,
		Metrics:  metrics,
		TLS:      tlsConfig,
		ACL:      users,
		Logins:   logins,
	})
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()

	var fl *flightListener
	if settings.FlightEnabled() {
		fl, err = startFlight(settings, consumerProps, prod, users, logins, st, metrics, log)
		if err != nil {
			return err
		}
		go func() { served <- fl.serve() }()
	}

	bound := boundAddrs{RESP: ln.Addr().String()}
	if fl != nil {
		bound.Flight = fl.ln.Addr().String()
	}
	if settings.MetricsAddr != "" {
		addr, stopMetrics, err := serveMetrics(settings.MetricsAddr, metrics, srv, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		bound.Metrics = addr.String()
	}
	if settings.PprofAddr != "" {
		addr, stopPprof, err := servePprof(settings.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
		bound.Pprof = addr.String()
	}
	log.Info().Str("resp", bound.RESP).Str("flight", bound.Flight).Str("metrics", bound.Metrics).
		Str("pprof", bound.Pprof).Msg("ready")
	if o.readyFile != "" {
		if err := bound.write(o.readyFile); err != nil {
			return err
		}
	}

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case sig := <-signals:
		log.Info().Str("signal", sig.String()).Dur("timeout", time.Duration(settings.ShutdownTimeout)).Msg("shutting down")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(settings.ShutdownTimeout))
	defer cancel()
	go func() {
		select {
		case <-signals:
			log.Warn().Msg("second signal: exiting now")
			os.Exit(1)
		case <-ctx.Done():
		}
	}()
	errs := make(chan error, 2)
	go func() { errs <- srv.Shutdown(ctx) }()
	go func() {
		if fl == nil {
			errs <- nil
			return
		}
		errs <- fl.svc.Shutdown(ctx)
	}()
	err = errors.Join(<-errs, <-errs)
	// The connections' accounts are closed: what is still queued gets the
	// close timeout (within the shutdown's) before it is purged.
	if left := time.Until(deadline(ctx)); left < closeTimeout {
		closeTimeout = max(left, 0)
	}
	prod.Close(closeTimeout)
	if err != nil {
		log.Error().Err(err).Msg("shutdown incomplete")
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info().Msg("shutdown complete")
	return nil
}

// deadline is ctx's deadline (it has one).
func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// flightListener is the running Flight service and its listener.
type flightListener struct {
	svc *arrowflight.Service
	ln  net.Listener
}

func (f *flightListener) serve() error { return f.svc.Serve(f.ln) }

// startFlight opens the Arrow Flight listener; users, when not nil, are the
// ACL users, who authenticate with Basic credentials and get their own
// permissions.
func startFlight(s config.Settings, consumerProps config.Properties, prod *producer.Producer, users *acl.List, logins *authlimit.Limiter, st *stats.Stats, metrics *stats.Metrics, log zerolog.Logger) (*flightListener, error) {
	svc, err := arrowflight.New(arrowflight.Config{
		Advertise:     s.FlightAdvertise,
		Tokens:        s.FlightTokens,
		Users:         flightUsers(s),
		ACL:           users,
		TLSCert:       s.FlightTLSCert,
		TLSKey:        s.FlightTLSKey,
		MaxStreams:    s.FlightMaxStreams,
		MaxBatchBytes: s.MaxBatchBytes,
		AuthLimiter:   logins,
		Consumer:      consumerProps,
		Producer:      prod,
		Version:       version,
		Stats:         st,
		Observer:      metrics,
		Log:           log.With().Str("component", "flight").Logger(),
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.FlightAddr)
	if err != nil {
		_ = svc.Shutdown(context.Background())
		return nil, fmt.Errorf("flight listen on %s: %w", s.FlightAddr, err)
	}
	host, _, _ := net.SplitHostPort(s.FlightAddr)
	if len(s.FlightTokens) == 0 && len(s.FlightUsers) == 0 && users == nil && s.RequirePass == "" && !isLoopback(host) {
		log.Warn().Str("addr", s.FlightAddr).Msg("Arrow Flight on a non-loopback address WITHOUT authentication")
	}
	return &flightListener{svc: svc, ln: ln}, nil
}

// flightUsers are Flight's full-access Basic users: the --flight-user ones
// and, with --requirepass, the default user with that password (as AUTH
// takes it on RESP), so a password set for the server protects Flight too.
// An explicit --flight-user default wins.
func flightUsers(s config.Settings) map[string]string {
	if s.RequirePass == "" {
		return s.FlightUsers
	}
	if _, ok := s.FlightUsers[acl.DefaultUser]; ok {
		return s.FlightUsers
	}
	users := make(map[string]string, len(s.FlightUsers)+1)
	maps.Copy(users, s.FlightUsers)
	users[acl.DefaultUser] = s.RequirePass
	return users
}

// respTLS builds the RESP listener's TLS configuration, nil without one.
func respTLS(s config.Settings) (*tls.Config, error) {
	if s.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if s.TLSCA != "" {
		pem, err := os.ReadFile(s.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA %s: no certificate found", s.TLSCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// serveMetrics serves /metrics (Prometheus), /healthz (the process is up)
// and /readyz (Kafka answers).
func serveMetrics(addr string, m *stats.Metrics, srv *server.Server, log zerolog.Logger) (net.Addr, func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := srv.Ready(); err != nil {
			http.Error(w, "kafka unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return serveHTTP(addr, "metrics", mux, log)
}

// serveHTTP serves handler on addr until stop is called; it returns the
// address it bound.
func serveHTTP(addr, what string, handler http.Handler, log zerolog.Logger) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s listen on %s: %w", what, addr, err)
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msgf("%s stopped serving", what)
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msgf("serving %s", what)
	return ln.Addr(), func() { _ = hs.Close() }, nil
}

// servePprof serves net/http/pprof on addr (opt-in, for profiling).
func servePprof(addr string, log zerolog.Logger) (net.Addr, func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveHTTP(addr, "pprof profiles", mux, log)
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startTryItBroker starts the embedded single-node broker used when no
// Kafka brokers are configured.
func startTryItBroker(s config.Settings, log zerolog.Logger) (*embedded.Broker, error) {
	b, err := embedded.Start(embedded.Options{
		DataDir:          s.DataDir,
		AutoCreateTopics: true,
		Partitions:       4,
		Log:              log.With().Str("component", "embedded-broker").Logger(),
	})
	if err != nil {
		return nil, err
	}
	log.Warn().Str("addr", b.Addr()).Str("data_dir", s.DataDir).
		Msg("no Kafka brokers configured: started the embedded single-node TRY-IT broker " +
			"(not for production; topics are auto-created with 4 partitions). " +
			"Point rafka at a real cluster with --brokers host:port, RAFKA_BROKERS, " +
			"or bootstrap.servers in the config file")
	return b, nil
}
