// Package process runs rafka: it builds every component the resolved
// configuration asks for (try-it broker, shared producer, RESP server,
// Flight service, metrics and pprof listeners), starts them, and shuts them
// all down behind one Shutdown. main is flags, Start, a signal and
// Shutdown.
package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"

	"rafka/arrowflight"
	"rafka/authlimit"
	"rafka/config"
	"rafka/consumer"
	"rafka/embedded"
	"rafka/producer"
	"rafka/server"
	"rafka/stats"
)

// Process is a running rafka: the components Start started.
type Process struct {
	cfg     *config.Resolved
	log     zerolog.Logger
	broker  *embedded.Broker // the try-it broker, nil with real brokers
	prod    *producer.Producer
	txns    *producer.Transactions // MULTI/EXEC's transactional producers
	resp    *server.Server
	flight  *arrowflight.Service
	servers []*http.Server // metrics and pprof
	addrs   Addrs
	failed  chan error // a listener that stopped serving by itself
}

// Start builds and starts every component cfg asks for and returns once
// they all listen. If one fails to start, those already started are shut
// down before Start returns its error.
func Start(cfg *config.Resolved, version string, log zerolog.Logger) (_ *Process, err error) {
	p := &Process{cfg: cfg, log: log, failed: make(chan error, 4)}
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Settings.ShutdownTimeout))
			defer cancel()
			if serr := p.Shutdown(ctx); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}()
	s := cfg.Settings
	for _, n := range cfg.Notices {
		ev := log.Info()
		if n.Warn {
			ev = log.Warn()
		}
		ev.Str("addr", n.Addr).Msg(n.Msg)
	}

	brokers := s.Brokers
	if brokers == "" && cfg.File.Brokers() == "" {
		if p.broker, err = startTryItBroker(s.DataDir, log); err != nil {
			return nil, err
		}
		brokers = p.broker.Addr()
	}
	consumerProps := cfg.File.ConsumerProperties(brokers)
	producerProps := cfg.File.ProducerProperties(brokers)
	config.SetStatsInterval(consumerProps, time.Duration(s.KafkaStatsInterval))
	config.SetStatsInterval(producerProps, time.Duration(s.KafkaStatsInterval))
	log.Info().Interface("consumer", config.Masked(consumerProps)).
		Interface("producer", config.Masked(producerProps)).Msg("kafka configuration")
	if err := consumer.Validate(consumerProps); err != nil {
		return nil, fmt.Errorf("consumer configuration: %w", err)
	}
	if err := producer.Validate(producerProps); err != nil {
		return nil, fmt.Errorf("producer configuration: %w", err)
	}

	st := stats.New()
	metrics := stats.NewMetrics(st)
	logins := server.NewLoginLimiter(s) // RESP and Flight count one host's failures together
	// One producer for every connection and DoPut call, each accounted on
	// its own; closed once both services have shut down.
	p.prod = producer.New(producerProps, producer.LimitsOf(s), st, log)
	ln, err := server.Listen(s)
	if err != nil {
		return nil, err
	}
	p.addrs.RESP = ln.Addr().String()
	txnIDs := transactionalIDPrefix(s, ln.Addr())
	log.Info().Str("transactional_id_prefix", txnIDs).Msg("MULTI/EXEC transactions")
	p.txns = producer.NewTransactions(producerProps, txnIDs, st, log)
	p.resp = server.New(server.Config{
		Settings: s,
		Consumer: consumerProps,
		Producer: p.prod,
		General:  cfg.File.GeneralProperties(brokers),
		Version:  version,
		Stats:    st,
		Log:      log,
		Metrics:  metrics,
		TLS:      cfg.RESPTLS,
		ACL:      cfg.ACL,
		Logins:   logins,

		Transactions: p.txns,
	})
	log.Info().Str("addr", p.addrs.RESP).Msg("listening for RESP")
	go p.serve("resp", func() error { return p.resp.Serve(ln) })

	if s.FlightEnabled() {
		if p.addrs.Flight, err = p.startFlight(consumerProps, logins, st, metrics, version); err != nil {
			return nil, err
		}
	}
	if s.MetricsAddr != "" {
		if p.addrs.Metrics, err = p.serveHTTP(s.MetricsAddr, "metrics", metricsHandler(metrics, p.resp)); err != nil {
			return nil, err
		}
	}
	if s.PprofAddr != "" {
		if p.addrs.Pprof, err = p.serveHTTP(s.PprofAddr, "pprof profiles", pprofHandler()); err != nil {
			return nil, err
		}
	}
	log.Info().Str("resp", p.addrs.RESP).Str("flight", p.addrs.Flight).Str("metrics", p.addrs.Metrics).
		Str("pprof", p.addrs.Pprof).Msg("ready")
	return p, nil
}

// Addrs are the addresses the listeners bound.
func (p *Process) Addrs() Addrs { return p.addrs }

// Failed delivers the error of a RESP or Flight listener that stopped
// serving before Shutdown (an HTTP listener's is only logged).
func (p *Process) Failed() <-chan error { return p.failed }

// serve runs a listener's Serve, reporting an early end on Failed.
func (p *Process) serve(what string, serve func() error) {
	if err := serve(); err != nil {
		p.failed <- fmt.Errorf("%s: %w", what, err)
	}
}

func (p *Process) startFlight(consumerProps config.Properties, logins *authlimit.Limiter, st *stats.Stats, metrics *stats.Metrics, version string) (string, error) {
	s := p.cfg.Settings
	svc, err := arrowflight.New(arrowflight.Config{
		Advertise:     s.FlightAdvertise,
		Tokens:        s.FlightTokens,
		Users:         p.cfg.FlightUsers,
		ACL:           p.cfg.ACL,
		TLS:           p.cfg.FlightTLS,
		MaxStreams:    s.FlightMaxStreams,
		MaxBatchBytes: s.MaxBatchBytes,
		AuthLimiter:   logins,
		Consumer:      consumerProps,
		Producer:      p.prod,
		Version:       version,
		Stats:         st,
		Observer:      metrics,
		Log:           p.log.With().Str("component", "flight").Logger(),
	})
	if err != nil {
		return "", err
	}
	p.flight = svc
	ln, err := net.Listen("tcp", s.FlightAddr)
	if err != nil {
		return "", fmt.Errorf("flight listen on %s: %w", s.FlightAddr, err)
	}
	p.log.Info().Str("addr", ln.Addr().String()).Msg("listening for Arrow Flight")
	go p.serve("flight", func() error { return svc.Serve(ln) })
	return ln.Addr().String(), nil
}

// Shutdown stops everything Start started: the RESP server and Flight
// (their connections end, within ctx), then the shared producer's last
// flush (the close timeout, within ctx), the HTTP listeners and the try-it
// broker. It may be called on a process Start is still unwinding.
func (p *Process) Shutdown(ctx context.Context) error {
	errs := make(chan error, 2)
	go func() {
		if p.resp == nil {
			errs <- nil
			return
		}
		errs <- p.resp.Shutdown(ctx)
	}()
	go func() {
		if p.flight == nil {
			errs <- nil
			return
		}
		errs <- p.flight.Shutdown(ctx)
	}()
	err := errors.Join(<-errs, <-errs)
	if p.txns != nil {
		p.txns.Close(ctx)
	}
	if p.prod != nil {
		// The connections' accounts are closed: what is still queued gets
		// the close timeout (within the shutdown's) before it is purged.
		closeTimeout := time.Duration(p.cfg.Settings.ProducerCloseTimeout)
		if d, ok := ctx.Deadline(); ok {
			closeTimeout = max(min(closeTimeout, time.Until(d)), 0)
		}
		p.prod.Close(closeTimeout)
	}
	for _, hs := range p.servers {
		_ = hs.Close()
	}
	if p.broker != nil {
		p.broker.Close()
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// transactionalIDPrefix names the transactional producers: the setting, or
// rafka-<hostname>-<RESP address>, the same for this rafka after a restart
// and different for another rafka on another host, address or port
// (replicas sharing a hostname must set the prefix).
func transactionalIDPrefix(s config.Settings, resp net.Addr) string {
	if s.TransactionalIDPrefix != "" {
		return s.TransactionalIDPrefix
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return fmt.Sprintf("rafka-%s-%s", host, resp.String())
}

// startTryItBroker starts the embedded single-node broker used when no
// Kafka brokers are configured.
func startTryItBroker(dataDir string, log zerolog.Logger) (*embedded.Broker, error) {
	b, err := embedded.Start(embedded.Options{
		DataDir:          dataDir,
		AutoCreateTopics: true,
		Partitions:       4,
		Log:              log.With().Str("component", "embedded-broker").Logger(),
	})
	if err != nil {
		return nil, err
	}
	log.Warn().Str("addr", b.Addr()).Str("data_dir", dataDir).
		Msg("no Kafka brokers configured: started the embedded single-node TRY-IT broker " +
			"(not for production; topics are auto-created with 4 partitions). " +
			"Point rafka at a real cluster with --brokers host:port, RAFKA_BROKERS, " +
			"or bootstrap.servers in the config file")
	return b, nil
}
