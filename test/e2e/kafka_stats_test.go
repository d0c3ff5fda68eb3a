package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestKafkaStatsMetrics: with --kafka-stats-interval, the binary's /metrics
// shows the consumer lag of a connection's group (acked offsets committed,
// the rest lagging) and the messages waiting in a producer's queue; both
// series go when their connection closes.
func TestKafkaStatsMetrics(t *testing.T) {
	topic, produced := newTopic(t, 1), newTopic(t, 1)
	group := uniqueName(t, "g")
	const n = 10
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("m%d", i)
	}
	produceDirect(t, topic, 0, values...)
	// A long linger keeps produced messages in librdkafka's queue long
	// enough to be seen; closing the producer flushes them at once.
	cfg := filepath.Join(t.TempDir(), "kafka.json")
	if err := os.WriteFile(cfg, []byte(`{
		"consumer": {"heartbeat.interval.ms": 300, "session.timeout.ms": 6000,
		             "auto.offset.reset": "earliest", "auto.commit.interval.ms": 200},
		"producer": {"linger.ms": 20000}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, "-c", cfg, "--kafka-stats-interval", "200ms")

	w := dialRESP(t, p.resp)
	w.expect("OK", "CLIENT", "SETNAME", group+":w1")
	got := popN(t, w, "topics:"+topic, 3, 30*time.Second)
	w.expect("(integer) 1", "RPUSH", "acks", got[0].ack()) // committed: 1; 2 more read, not acked
	series := fmt.Sprintf(`rafka_kafka_consumer_lag{group=%q,partition="0",topic=%q}`, group, topic)
	want := fmt.Sprintf("%s %d", series, n-1)
	p.waitMetrics(t, 30*time.Second, series, "lag "+want, func(lines []string) bool {
		return slices.Equal(lines, []string{want})
	})

	pc := dialRESP(t, p.resp)
	pc.expect("(integer) 5", "RPUSHX", "topics:"+produced, "a", "b", "c", "d", "e")
	p.waitMetrics(t, 15*time.Second, "rafka_kafka_producer_queue_messages ", "5 messages queued", func(lines []string) bool {
		return slices.Equal(lines, []string{"rafka_kafka_producer_queue_messages 5"})
	})

	pc.expect("OK", "QUIT")
	p.waitMetrics(t, 15*time.Second, "rafka_kafka_producer_queue_messages ", "queue empty after the producer closed", func(lines []string) bool {
		return slices.Equal(lines, []string{"rafka_kafka_producer_queue_messages 0"})
	})
	w.expect("OK", "QUIT")
	p.waitMetrics(t, 15*time.Second, series, "lag series gone after the consumer closed", func(lines []string) bool {
		return len(lines) == 0
	})
	if msgs := readAll(t, produced, 5); len(msgs) != 5 {
		t.Errorf("%d of the 5 queued messages were delivered", len(msgs))
	}
}
