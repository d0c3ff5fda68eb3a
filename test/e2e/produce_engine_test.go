package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rafka/config"
	"rafka/server"
	"rafka/test/rafkatest"
)

// clientField returns one field of the connection's CLIENT INFO line.
func clientField(t *testing.T, c *respConn, field string) string {
	t.Helper()
	r := c.do("CLIENT", "INFO")
	for _, kv := range strings.Fields(r.Str) {
		if v, ok := strings.CutPrefix(kv, field+"="); ok {
			return v
		}
	}
	t.Fatalf("CLIENT INFO %q has no %s", r.Str, field)
	return ""
}

// TestProduceAccountsPerConnection: every connection's messages go through
// one shared producer, and each connection is accounted on its own. A
// connection whose messages cannot be delivered yet (a topic that does not
// exist, with topic.metadata.propagation.max.ms at 60 s: librdkafka holds
// them that long for the topic to appear) does not hold up another's DUMP;
// a delivery failure (a message over the topic's max.message.bytes) is
// counted on the connection that sent it; a closing connection counts only
// its own undelivered messages as unflushed.
func TestProduceAccountsPerConnection(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.Settings.ProducerCloseTimeout = config.Duration(time.Second)
		props := (&config.File{}).ProducerProperties(env.brokers)
		props["topic.metadata.propagation.max.ms"] = "60000"
		c.Producer = testProducer(*c, props)
	})
	stuck, small, fine := uniqueName(t, "missing"), uniqueName(t, "small"), newTopic(t, 2)
	createTopicWith(t, small, 1, map[string]string{"max.message.bytes": "200"})

	blocked, failing, healthy := ts.dial(t), ts.dial(t), ts.dial(t)
	blocked.expect("(integer) 3", "RPUSHX", "topics:"+stuck, "s1", "s2", "s3")
	healthy.expect("(integer) 2", "RPUSHX", "topics:"+fine, "h1", "h2")
	start := time.Now()
	healthy.expect("(integer) 0", "DUMP", "10000")
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("DUMP of the healthy connection took %v: it waited for another connection's messages", took)
	}
	failing.expect("(integer) 1", "RPUSHX", "topics:"+small, strings.Repeat("x", 1000))
	failing.expect("(integer) 0", "DUMP", "10000")
	blocked.expect("(integer) 3", "DUMP", "300")

	for _, c := range []struct {
		name              string
		conn              *respConn
		outstanding, fail string
	}{
		{"blocked", blocked, "3", "0"},
		{"failing", failing, "0", "1"},
		{"healthy", healthy, "0", "0"},
	} {
		if got := clientField(t, c.conn, "prod-outstanding"); got != c.outstanding {
			t.Errorf("%s connection: prod-outstanding=%s, want %s", c.name, got, c.outstanding)
		}
		if got := clientField(t, c.conn, "prod-failed"); got != c.fail {
			t.Errorf("%s connection: prod-failed=%s, want %s", c.name, got, c.fail)
		}
	}
	if got := ts.stat(t, "producers.created"); got != "2" {
		t.Errorf("producers.created = %s, want 2 (the shared pair, for 3 connections)", got)
	}
	if got := ts.stat(t, "producer.delivery.errors"); got != "1" {
		t.Errorf("producer.delivery.errors = %s, want 1", got)
	}

	healthy.expect("OK", "QUIT")
	failing.expect("OK", "QUIT")
	waitFor(t, 10*time.Second, "healthy connections closed", func() bool { return ts.stat(t, "connections.current") == "2" }) // blocked + the stat's own
	if got := ts.stat(t, "producer.unflushed.messages"); got != "0" {
		t.Errorf("after the healthy connections closed, producer.unflushed.messages = %s, want 0", got)
	}
	blocked.expect("OK", "QUIT")
	waitFor(t, 10*time.Second, "the blocked connection's 3 messages counted unflushed", func() bool {
		return ts.stat(t, "producer.unflushed.messages") == "3"
	})
	if msgs := readAll(t, fine, 2); len(msgs) != 2 {
		t.Errorf("%d of the healthy connection's 2 messages in Kafka", len(msgs))
	}
}

// TestBackpressureFloodAndBystander: a connection flooding pipelined RPUSHX
// faster than Kafka takes them is held back by TCP (its commands are not
// read while it has too many messages outstanding) instead of getting
// `Local: Queue full`, and a bystander on the same server keeps producing
// with bounded latency.
func TestBackpressureFloodAndBystander(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.Settings.MaxOutstandingBytes = 256 << 10
		// librdkafka's queue (shared by all connections) holds 2 MiB: the
		// flood alone would fill it many times over.
		props := (&config.File{}).ProducerProperties(env.brokers)
		props["queue.buffering.max.kbytes"] = "2048"
		c.Producer = testProducer(*c, props)
	})
	flood, bystander := newTopic(t, 4), newTopic(t, 1)
	const floodN, size = 40000, 1000
	value := strings.Repeat("f", size)

	conn, err := rafkatest.Dial(context.Background(), ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		_ = conn.NetConn().SetWriteDeadline(time.Now().Add(120 * time.Second))
		for range floodN {
			conn.Write("RPUSHX", "topics:"+flood, value)
		}
		writeErr = conn.Flush()
	})
	replies := make(map[string]int)
	readDone := make(chan error, 1)
	go func() {
		_ = conn.NetConn().SetReadDeadline(time.Now().Add(120 * time.Second))
		for range floodN {
			r, err := conn.Read()
			if err != nil {
				readDone <- err
				return
			}
			replies[r.String()]++
		}
		readDone <- nil
	}()

	by := ts.dial(t)
	var latencies []time.Duration
	waitFor(t, 30*time.Second, "the flood held back by backpressure", func() bool {
		return ts.stat(t, "producer.backpressure.waits") != "0"
	})
	for i := range 50 {
		start := time.Now()
		by.expect("(integer) 1", "RPUSHX", "topics:"+bystander, "b"+strconv.Itoa(i))
		latencies = append(latencies, time.Since(start))
		time.Sleep(10 * time.Millisecond)
	}
	if err := <-readDone; err != nil {
		t.Fatalf("flood replies: %v (%v)", err, replies)
	}
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("flood writes: %v", writeErr)
	}
	if replies["(integer) 1"] != floodN {
		t.Errorf("flood replies %v, want %d × :1 (backpressure, not errors)", replies, floodN)
	}
	slices.Sort(latencies)
	t.Logf("bystander RPUSHX during the flood: median %v, max %v; %s backpressure waits", latencies[len(latencies)/2], latencies[len(latencies)-1], ts.stat(t, "producer.backpressure.waits"))
	if worst := latencies[len(latencies)-1]; worst > 2*time.Second {
		t.Errorf("bystander RPUSHX took up to %v during the flood", worst)
	}
	by.expect("(integer) 0", "DUMP", "30000")
	if errs := ts.stat(t, "producer.enqueue.errors"); errs != "0" {
		t.Errorf("producer.enqueue.errors = %s", errs)
	}
}

// TestDumpZeroMeansStored: many connections produce one message per round
// trip through the shared producer to a new topic; once DUMP answers 0 on
// every connection, Kafka holds every message.
func TestDumpZeroMeansStored(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 4)
	const conns, each = 20, 500
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			errs <- func() error {
				conn, err := rafkatest.Dial(context.Background(), ts.addr)
				if err != nil {
					return err
				}
				defer conn.Close()
				_ = conn.NetConn().SetDeadline(time.Now().Add(60 * time.Second))
				for j := range each {
					v := fmt.Sprintf("c%d-%d", i, j)
					if r, err := conn.Do("RPUSHX", "topics:"+topic, v); err != nil || r.String() != "(integer) 1" {
						return fmt.Errorf("RPUSHX %s: %s %v", v, r, err)
					}
				}
				if r, err := conn.Do("DUMP", "30000"); err != nil || r.String() != "(integer) 0" {
					return fmt.Errorf("DUMP: %s %v", r, err)
				}
				return nil
			}()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var stored int64
	for p := range 4 {
		stored += watermark(t, topic, int32(p))
	}
	if stored != conns*each {
		t.Errorf("Kafka holds %d messages after every DUMP answered 0, want %d (delivery errors %s)", stored, conns*each, ts.stat(t, "producer.delivery.errors"))
	}
}
