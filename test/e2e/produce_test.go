package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduce covers RPUSHX: the reply counts messages; keys (including keys
// with ':' and the empty key) reach Kafka; the same key lands on one
// partition; shape and arity errors keep the classic texts.
func TestProduce(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 4)
	c := ts.dial(t)
	c.expect("(integer) 1", "RPUSHX", "topics:"+topic, "no-key")
	c.expect("(integer) 3", "RPUSHX", "topics:"+topic+":user:42", "k1", "k2", "k3")
	c.expect("(integer) 1", "RPUSHX", "topics:"+topic+":", "empty-key")
	c.expect("(error) PROD RPUSHX accepts 2 arguments, got 1", "RPUSHX", "topics:"+topic)
	c.expect("(error) PROD First argument must be in the form of 'topics:<topic>' or 'topics:<topic>:<key>'", "RPUSHX", "nope", "x")
	c.expect("(error) PROD First argument must be in the form of 'topics:<topic>' or 'topics:<topic>:<key>'", "RPUSHX", "topics:", "x")
	c.expect(`(error) PROD Invalid topic: topic name "^x" has an illegal character '^' (legal: a-z A-Z 0-9 . _ -)`, "RPUSHX", "topics:^x", "x")
	c.expect("(integer) 0", "DUMP", "5000")

	msgs := readAll(t, topic, 5)
	partitions := map[int32]bool{}
	for _, m := range msgs {
		switch v := string(m.Value); v {
		case "no-key":
			if m.Key != nil {
				t.Errorf("no-key message has key %q", m.Key)
			}
		case "empty-key":
			if m.Key == nil || len(m.Key) != 0 {
				t.Errorf("empty-key message has key %v, want empty and non-null", m.Key)
			}
		default:
			if string(m.Key) != "user:42" {
				t.Errorf("%s has key %q, want user:42", v, m.Key)
			}
			partitions[m.TopicPartition.Partition] = true
		}
	}
	if len(partitions) != 1 {
		t.Errorf("keyed messages landed on partitions %v, want one", partitions)
	}
	if got := ts.stat(t, "producer.messages"); got != "5" {
		t.Errorf("producer.messages = %s, want 5", got)
	}
}

// TestKeyedProduceOnePartition: many messages with one key all land on one
// partition, in order.
func TestKeyedProduceOnePartition(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 4)
	c := ts.dial(t)
	args := []string{"RPUSHX", "topics:" + topic + ":order-7"}
	for i := 0; i < 50; i++ {
		args = append(args, "m"+strconv.Itoa(i))
	}
	c.expect("(integer) 50", args...)
	c.expect("(integer) 0", "DUMP", "10000")
	msgs := readAll(t, topic, 50)
	for i, m := range msgs {
		if m.TopicPartition.Partition != msgs[0].TopicPartition.Partition || string(m.Value) != "m"+strconv.Itoa(i) {
			t.Fatalf("message %d: %s on partition %d", i, m.Value, m.TopicPartition.Partition)
		}
	}
}

// TestProduceMissingTopic: with broker auto-creation off, the first produce
// is accepted, its delivery failure is counted within about half a second,
// and later produces fail synchronously.
func TestProduceMissingTopic(t *testing.T) {
	ts := startServer(t)
	topic := uniqueName(t, "missing")
	c := ts.dial(t)
	c.expect("(integer) 1", "RPUSHX", "topics:"+topic, "lost")
	start := time.Now()
	waitFor(t, 2*time.Second, "delivery error counted", func() bool {
		return ts.stat(t, "producer.delivery.errors") == "1"
	})
	t.Logf("delivery error counted after %v", time.Since(start))
	r := c.do("RPUSHX", "topics:"+topic, "again")
	if !r.IsErr("PROD ") || !strings.Contains(strings.ToLower(r.Str), "unknown topic") {
		t.Fatalf("second produce to a missing topic: %s", r)
	}
	// The durable form reports the failure too.
	r = c.do("RPUSH", "topics:"+uniqueName(t, "missing2"), "x")
	if !r.IsErr("PROD ") {
		t.Fatalf("durable produce to a missing topic: %s", r)
	}
}

// TestDurableProduce: RPUSH topics: answers only after Kafka acknowledged
// every message, so the messages are readable right away.
func TestDurableProduce(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	c := ts.dial(t)
	c.expect("(integer) 3", "RPUSH", "topics:"+topic+":k", "d1", "d2", "d3")
	msgs := readAll(t, topic, 3)
	for i, m := range msgs {
		if want := "d" + strconv.Itoa(i+1); string(m.Value) != want || string(m.Key) != "k" {
			t.Errorf("message %d = %q key %q, want %s key k", i, m.Value, m.Key, want)
		}
	}
	if got := ts.stat(t, "producer.delivered"); got != "3" {
		t.Errorf("producer.delivered = %s, want 3", got)
	}
}

// TestDump: DUMP flushes and reports what is still undelivered.
func TestDump(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	c.expect("(integer) 0", "DUMP", "100") // no producer yet
	c.expect("(error) PROD DUMP accepts 1 argument, got 0", "DUMP")
	c.expect("(error) PROD DUMP accepts 1 argument, got 2", "DUMP", "1", "2")
	c.expect("(error) PROD NaN", "DUMP", "soon")
	args := []string{"RPUSHX", "topics:" + topic}
	for i := 0; i < 1000; i++ {
		args = append(args, "x")
	}
	c.expect("(integer) 1000", args...)
	c.expect("(integer) 0", "DUMP", "10000")
	if got := ts.stat(t, "producer.delivered"); got != "1000" {
		t.Errorf("after DUMP, producer.delivered = %s, want 1000", got)
	}
}

// TestKeyedPlacementJavaCompatible: a key lands on the partition Kafka's Java
// producer picks (murmur2 of the key, high bit cleared, modulo the partition
// count). The expected partitions come from franz-go's Kafka-compatible
// partitioner, not from librdkafka.
func TestKeyedPlacementJavaCompatible(t *testing.T) {
	ts := startServer(t)
	const partitions = 8
	topic := newTopic(t, partitions)
	c := ts.dial(t)
	java := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	want := map[string]int32{}
	for i := range 40 {
		key := fmt.Sprintf("customer-%d", i)
		c.expect("(integer) 1", "RPUSHX", "topics:"+topic+":"+key, key)
		want[key] = int32(java.Partition(&kgo.Record{Key: []byte(key)}, partitions))
	}
	c.expect("(integer) 0", "DUMP", "10000")
	spread := map[int32]bool{}
	for _, m := range readAll(t, topic, len(want)) {
		key := string(m.Key)
		if got := m.TopicPartition.Partition; got != want[key] {
			t.Errorf("key %s on partition %d, the Java producer's is %d", key, got, want[key])
		}
		spread[m.TopicPartition.Partition] = true
	}
	if len(spread) < 4 {
		t.Errorf("40 keys landed on only %d of %d partitions", len(spread), partitions)
	}
}
