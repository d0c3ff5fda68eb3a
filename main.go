// Command rafka serves Apache Kafka over the Redis protocol: produce with
// RPUSHX, consume in consumer groups with CLIENT SETNAME + BLPOP, acknowledge
// with RPUSH acks. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/process"
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

// run is rafka: configuration, the process, a signal, shutdown.
func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.ShowVersion {
		fmt.Fprintf(stdout, "rafka %s (commit %s)\n", version, commit)
		return nil
	}
	resolved, err := cfg.Resolve()
	if err != nil {
		return err
	}
	log := newLogger(resolved.Settings, stderr)
	// Signals are caught before anything starts: the first (even during
	// start-up) shuts down what started, a second exits at once.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	stop := make(chan struct{})
	go func() {
		sig := <-signals
		log.Info().Str("signal", sig.String()).Msg("shutting down")
		close(stop)
		<-signals
		log.Warn().Msg("second signal: exiting now")
		os.Exit(1)
	}()
	p, err := process.Start(resolved, version, log)
	if err != nil {
		return err
	}
	if resolved.ReadyFile != "" {
		err = p.Addrs().WriteFile(resolved.ReadyFile)
	}
	if err == nil {
		select {
		case err = <-p.Failed():
		case <-stop:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(resolved.Settings.ShutdownTimeout))
	defer cancel()
	if serr := p.Shutdown(ctx); serr != nil {
		log.Error().Err(serr).Msg("shutdown incomplete")
		return errors.Join(err, serr)
	}
	log.Info().Msg("shutdown complete")
	return err
}

// newLogger writes the settings' level and format to stderr.
func newLogger(s config.Settings, stderr io.Writer) zerolog.Logger {
	level, _ := zerolog.ParseLevel(s.LogLevel) // Validate allowed it
	var w io.Writer = stderr
	if s.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
