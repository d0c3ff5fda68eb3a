// Package bench measures rafka side by side with its baselines, in one run
// against one Kafka broker: raw librdkafka (produce, consume, latency),
// redis-server (RESP overhead), and rafka's own memory per idle connection,
// plus the Go micro-benchmarks of the hot paths. It prints a table of every
// figure with its ratio to its baseline and the target, and writes
// the same table with a description of the machine into a Markdown file.
//
// Run it through the Kafka test harness, which sets KAFKA_BROKERS:
//
//	bin/kafkaharness -- bin/rafkabench -rafka bin/rafka -out BENCHMARKS.md
//
// `make bench` does exactly that. -scale shrinks every message and
// connection count for a quick trial (-scale 0.05). The command is
// test/bench/cmd/rafkabench, which calls Main.
package bench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options is the command line.
type options struct {
	rafkaBin     string
	rafkaArgs    []string // extra flags for the server under test
	out          string
	scale        float64
	only         string
	timeout      time.Duration
	kafkaVersion string
	keepLogs     bool
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("rafkabench", flag.ContinueOnError)
	fs.StringVar(&o.rafkaBin, "rafka", "bin/rafka", "rafka binary under test")
	fs.Func("rafka-arg", "an extra flag for the rafka server under test, e.g. --pprof-addr=127.0.0.1:6060 (repeatable)", func(v string) error {
		o.rafkaArgs = append(o.rafkaArgs, v)
		return nil
	})
	fs.StringVar(&o.out, "out", "", "write the report (Markdown) to this file; none when empty")
	fs.Float64Var(&o.scale, "scale", 1, "multiply every message and connection count by this (e.g. 0.05 for a quick trial)")
	fs.StringVar(&o.only, "only", "", "comma-separated scenarios to run (P1,P2,P3,P4,P5,P6,micro); all when empty")
	fs.DurationVar(&o.timeout, "timeout", 25*time.Minute, "limit of the whole run")
	fs.StringVar(&o.kafkaVersion, "kafka-version", "4.3.1", "Kafka version of the broker, for the report")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "keep the server logs directory after a successful run")
	return o, fs.Parse(args)
}

// Main runs the benchmark with the command-line arguments args and returns
// the exit code: 0, 1 if any scenario failed, 2 for a bad command line.
func Main(args []string) int {
	o, err := parseOptions(args)
	if err != nil {
		return 2
	}
	return run(o)
}

// scenario is one named part of the run.
type scenario struct {
	id string
	fn func(context.Context) error
}

// run carries out the selected scenarios and writes the report; it returns
// the exit code: 1 if any scenario failed.
func run(o options) int {
	if o.scale <= 0 || o.scale > 1 {
		fmt.Fprintln(os.Stderr, "bench: -scale must be in (0, 1]")
		return 2
	}
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		fmt.Fprintln(os.Stderr, "bench: KAFKA_BROKERS is not set; run me through test/kafkaharness (make bench)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	if err := raiseFileLimit(); err != nil {
		logf("%v", err)
	}
	b, err := newBench(ctx, o, brokers)
	if err != nil {
		logf("%v", err)
		return 1
	}
	failed := b.runAll(ctx)
	b.close(failed)

	table := b.render()
	fmt.Println()
	fmt.Print(table)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(b.document(table)), 0o644); err != nil {
			logf("write %s: %v", o.out, err)
			return 1
		}
		logf("wrote %s", o.out)
	}
	if failed {
		return 1
	}
	return 0
}

// runAll runs every selected scenario, recording failures, and reports
// whether any failed.
func (b *bench) runAll(ctx context.Context) (failed bool) {
	all := []scenario{
		{"P1", b.benchProduce},
		{"P2", b.benchRESP},
		{"P3", b.benchConsume},
		{"P4", b.benchLatency},
		{"P5", b.benchMemory},
		{"P6", b.benchStreams},
		{"micro", b.benchMicro},
	}
	for _, s := range all {
		if !b.selected(s.id) {
			continue
		}
		if s.id == "P5" || s.id == "micro" {
			// P5 runs fresh servers, the micro-benchmarks need no server.
			b.stopRafka()
		} else if err := b.ensureRafka(ctx); err != nil {
			b.fail(s.id, err)
			return true
		}
		start := time.Now()
		logf("%s: start", s.id)
		err := s.fn(ctx)
		if err != nil {
			b.fail(s.id, err)
			failed = true
		}
		logf("%s: done in %s", s.id, time.Since(start).Round(time.Millisecond))
		if ctx.Err() != nil {
			b.fail("run", fmt.Errorf("stopped: %w", context.Cause(ctx)))
			return true
		}
	}
	return failed
}

// selected reports whether scenario id is to run.
func (b *bench) selected(id string) bool {
	if b.opts.only == "" {
		return true
	}
	for _, s := range strings.Split(b.opts.only, ",") {
		if strings.EqualFold(strings.TrimSpace(s), id) {
			return true
		}
	}
	return false
}

// raiseFileLimit sets the soft limit of open files to the hard limit: P5
// holds 11,000 connections.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("get open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise open-file limit: %w", err)
		}
	}
	return nil
}

// logf prints a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// runID makes topic and group names unique per run.
func newRunID() string {
	return fmt.Sprintf("%s-%04d", time.Now().Format("150405"), rand.IntN(10000))
}
