package process

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"rafka/server"
	"rafka/stats"
)

// metricsHandler serves /metrics (Prometheus), /healthz (the process is
// up) and /readyz (Kafka answers).
func metricsHandler(m *stats.Metrics, srv *server.Server) http.Handler {
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
	return mux
}

// pprofHandler serves net/http/pprof (opt-in, for profiling).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveHTTP serves handler on addr until Shutdown and returns the address
// it bound.
func (p *Process) serveHTTP(addr, what string, handler http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s listen on %s: %w", what, addr, err)
	}
	// A scraper sends a few hundred bytes of headers; a client holding a
	// connection open without a request is let go.
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	p.servers = append(p.servers, hs)
	go func() {
		// Metrics and profiles are not worth stopping the service for.
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			p.log.Error().Err(err).Msgf("%s stopped serving", what)
		}
	}()
	p.log.Info().Str("addr", ln.Addr().String()).Msgf("serving %s", what)
	return ln.Addr().String(), nil
}
