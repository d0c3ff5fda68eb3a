package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"sync"
	"time"
)

// bench is the state of one run: the broker, the rafka server under test,
// and the results so far.
type bench struct {
	opts options
	// rawProduceRate is P1's raw producer rate (msg/s), 0 before P1 ran.
	rawProduceRate float64
	kafka          *kafkaEnv
	runID          string
	logDir         string
	started        time.Time

	rafka      *server // the shared rafka of P1-P4; nil when stopped
	flightAddr string
	rafkaRuns  int // how many rafka processes were started, for log names
	topics     int // how many topics were created, for unique names

	mu      sync.Mutex
	results []result
	micro   []microResult
	notes   []string
	errors  []string
}

// newBench connects to the broker and prepares the log directory.
func newBench(ctx context.Context, o options, brokers string) (*bench, error) {
	if _, err := os.Stat(o.rafkaBin); err != nil {
		return nil, fmt.Errorf("rafka binary: %w (run make build)", err)
	}
	k, err := newKafkaEnv(brokers)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rafka-bench-")
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	return &bench{opts: o, kafka: k, runID: newRunID(), logDir: dir, started: time.Now()}, nil
}

// close stops every server and removes the logs unless the run failed or
// -keep-logs was given.
func (b *bench) close(failed bool) {
	b.stopRafka()
	b.kafka.Close()
	if failed || b.opts.keepLogs {
		logf("server logs kept in %s", b.logDir)
		return
	}
	if err := os.RemoveAll(b.logDir); err != nil {
		logf("remove %s: %v", b.logDir, err)
	}
}

// ensureRafka starts the shared rafka server if it is not running.
func (b *bench) ensureRafka(ctx context.Context) error {
	if b.rafka != nil {
		return nil
	}
	s, flightAddr, err := b.startRafka(ctx)
	if err != nil {
		return err
	}
	b.rafka, b.flightAddr = s, flightAddr
	return nil
}

// startRafka starts a new rafka process; the caller stops it.
func (b *bench) startRafka(ctx context.Context, extra ...string) (*server, string, error) {
	b.rafkaRuns++
	extra = append(extra, b.opts.rafkaArgs...)
	return startRafka(ctx, b.opts.rafkaBin, b.kafka.brokers, b.logDir, fmt.Sprintf("rafka-%d", b.rafkaRuns), extra...)
}

// stopRafka stops the shared rafka server, if running, noting any warning
// it logged.
func (b *bench) stopRafka() {
	if b.rafka == nil {
		return
	}
	b.stopServer(b.rafka)
	b.rafka = nil
}

// stopServer stops s and notes how many lines it logged at warn level or
// above (rafka runs with --log-level warn).
func (b *bench) stopServer(s *server) {
	s.stop()
	if data, err := os.ReadFile(s.LogPath); err == nil && len(data) > 0 && s.name != "redis-server" {
		lines := countLines(data)
		b.note(fmt.Sprintf("%s logged %d warning/error lines; last: %s", s.name, lines, tail(s.LogPath, 1)))
	}
}

// count scales a message or connection count, keeping at least 10.
func (b *bench) count(n int) int {
	return max(10, int(math.Round(float64(n)*b.opts.scale)))
}

// name returns a run-unique topic or group name.
func (b *bench) name(prefix string) string {
	return fmt.Sprintf("bench-%s-%s", prefix, b.runID)
}

// topic creates a fresh topic with the standard layout; successive calls
// with the same prefix get distinct names.
func (b *bench) topic(ctx context.Context, prefix string) (string, error) {
	b.mu.Lock()
	b.topics++
	t := fmt.Sprintf("%s-%d", b.name(prefix), b.topics)
	b.mu.Unlock()
	return t, b.kafka.createTopic(ctx, t)
}

// checkStored verifies that topic holds exactly want messages.
func (b *bench) checkStored(topic string, want int64) error {
	got, err := b.kafka.storedCount(topic)
	if err != nil {
		return err
	}
	if got != want {
		// Tell a late message (DUMP answered too early) from a lost one.
		time.Sleep(3 * time.Second)
		later, err := b.kafka.storedCount(topic)
		if err != nil {
			return err
		}
		return fmt.Errorf("topic %s holds %d messages (%d 3 s later), want %d", topic, got, later, want)
	}
	return nil
}

// checkProducerStats compares rafka's producer error counters with before.
func (b *bench) checkProducerStats(ctx context.Context, before map[string]int64, label string) error {
	after, err := rafkaStats(ctx, b.rafka.addr)
	if err != nil {
		return err
	}
	for _, k := range []string{"producer.delivery.errors", "producer.enqueue.errors", "producer.unflushed.messages", "errors.producer"} {
		if d := after[k] - before[k]; d != 0 {
			return fmt.Errorf("%s: rafka counted %d %s", label, d, k)
		}
	}
	return nil
}

// add records a result row and prints it at once.
func (b *bench) add(r result) {
	b.mu.Lock()
	b.results = append(b.results, r)
	b.mu.Unlock()
	logf("%s | %s | %s | %s %s", r.scenario, r.name, r.figure, r.ratio, r.verdict)
}

// note records a remark for the report.
func (b *bench) note(s string) {
	b.mu.Lock()
	b.notes = append(b.notes, s)
	b.mu.Unlock()
	logf("note: %s", s)
}

// fail records a scenario failure.
func (b *bench) fail(id string, err error) {
	b.mu.Lock()
	b.errors = append(b.errors, fmt.Sprintf("%s: %v", id, err))
	b.mu.Unlock()
	logf("%s FAILED: %v", id, err)
}

func countLines(data []byte) int {
	n := 0
	for _, c := range data {
		if c == '\n' {
			n++
		}
	}
	return n
}
