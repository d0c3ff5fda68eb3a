package consumer

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
	"rafka/test/kafkatest"
)

// threads is the process's OS thread count.
func threads(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line")
	return 0
}

// ownsAny reports whether the consumer has been assigned a partition.
func (c *Consumer) ownsAny() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.assigned) > 0
}

// TestFencedConsumerReleased: a consumer fenced by another member with the
// same group.instance.id is fatal; Close returns promptly and frees its
// librdkafka threads instead of leaving a handle polled forever (issue 9).
func TestFencedConsumerReleased(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.CreateTopic(t, brokers, "fence", 1)
	props := func(member string) config.Properties {
		p := (&config.File{}).ConsumerProperties(brokers)
		p["group.id"] = topic
		p["group.instance.id"] = "the-instance"
		p["client.id"] = member
		p["session.timeout.ms"] = "6000"
		p["heartbeat.interval.ms"] = "200"
		return p
	}
	st := stats.New()
	newConsumer := func(p config.Properties) *Consumer {
		c, err := New(Config{Properties: p, Topics: []string{topic}, Stats: st, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := threads(t)
	for round := range 3 {
		p := props("a")
		first := newConsumer(p)
		// The member that joins later fences the earlier one: the first
		// must own its partition before the second starts (real Kafka
		// delays a new group's first rebalance by 3 s).
		joined := time.Now().Add(30 * time.Second)
		for !first.ownsAny() {
			if time.Now().After(joined) {
				t.Fatalf("round %d: the first consumer was not assigned its partition", round)
			}
			time.Sleep(50 * time.Millisecond)
		}
		p["client.id"] = "b"
		second := newConsumer(p)

		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		var fatal *FatalError
		for {
			_, err := first.Pop(ctx)
			if errors.As(err, &fatal) {
				break
			}
			if ctx.Err() != nil {
				cancel()
				t.Fatalf("round %d: the first consumer was not fenced: %v", round, err)
			}
		}
		cancel()
		closed := make(chan error, 1)
		go func() { closed <- first.Close() }()
		select {
		case err := <-closed:
			if !errors.As(err, &fatal) {
				t.Fatalf("round %d: Close of the fenced consumer: %v, want its fatal error", round, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: Close of a fenced consumer hangs", round)
		}
		if err := second.Close(); err != nil {
			t.Logf("round %d: close of the second consumer: %v", round, err)
		}
	}
	// librdkafka ends a destroyed handle's threads asynchronously.
	deadline := time.Now().Add(20 * time.Second)
	for threads(t) > base+4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := threads(t); n > base+4 {
		t.Fatalf("%d threads after three fenced consumers were closed, %d before: their handles were not freed", n, base)
	}
}
