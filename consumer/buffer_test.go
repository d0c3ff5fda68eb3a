package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
	"rafka/test/kafkatest"
)

// newTestConsumer subscribes a new group's consumer to topic from its start.
func newTestConsumer(t *testing.T, brokers, topic string, st *stats.Stats) *Consumer {
	t.Helper()
	p := (&config.File{}).ConsumerProperties(brokers)
	p["group.id"] = topic
	p["client.id"] = "w"
	p["auto.offset.reset"] = "earliest"
	c, err := New(Config{Properties: p, Topics: []string{topic}, Stats: st, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestBatchReaderDoesNotPauseFetching: a reader taking batches of 1000
// (ARROW.BLPOP COUNT 1000) empties the full buffer in time, so fetching is
// never paused (a pause drops librdkafka's prefetch and fetches it again).
func TestBatchReaderDoesNotPauseFetching(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.CreateTopic(t, brokers, "batch-reader", 1)
	const n = 30000
	kafkatest.Produce(t, brokers, topic, n)
	st := stats.New()
	c := newTestConsumer(t, brokers, topic, st)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for read := 0; read < n; {
		if _, err := c.Pop(ctx); err != nil {
			t.Fatalf("after %d messages: %v", read, err)
		}
		read++
		for batch := 1; batch < 1000 && read < n; batch++ {
			m, err := c.TryPop()
			if err != nil {
				t.Fatal(err)
			}
			if m == nil {
				break
			}
			read++
		}
		time.Sleep(time.Millisecond) // the reply's round trip
	}
	if pauses := st.Get(stats.ConsumerFetchPauses); pauses != 0 {
		t.Errorf("fetching paused %d times for a reader that kept up", pauses)
	}
}

// TestIdleReaderPausesFetching: when nobody reads, the full buffer pauses
// fetching after pauseGrace, and the buffer stays within its bounds.
func TestIdleReaderPausesFetching(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.CreateTopic(t, brokers, "idle-reader", 1)
	kafkatest.Produce(t, brokers, topic, 3*bufferMessages)
	st := stats.New()
	c := newTestConsumer(t, brokers, topic, st)
	deadline := time.Now().Add(30 * time.Second)
	for st.Get(stats.ConsumerFetchPauses) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("fetching never paused for an idle reader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * pauseGrace)
	c.mu.Lock()
	buffered := len(c.buf)
	c.mu.Unlock()
	if buffered > bufferMessages {
		t.Errorf("%d messages buffered, bound %d", buffered, bufferMessages)
	}
	if pauses := st.Get(stats.ConsumerFetchPauses); pauses != 1 {
		t.Errorf("%d pauses, want 1", pauses)
	}
	// Reading half of it resumes fetching and the rest arrives.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for read := 0; read < 3*bufferMessages; read++ {
		if _, err := c.Pop(ctx); err != nil {
			t.Fatalf("after %d messages: %v", read, err)
		}
	}
}
