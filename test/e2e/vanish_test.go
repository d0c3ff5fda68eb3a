package e2e

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"rafka/stats"
)

// TestVanishingClients: clients that disappear mid-BLPOP, mid-pipeline and
// mid-DoGet leave no connection, consumer, stream or goroutine behind.
func TestVanishingClients(t *testing.T) {
	ts := startServer(t)
	tf := startFlight(t)
	topic := newTopic(t, 2)
	produceDirect(t, topic, 0, "a", "b")
	// settle counts the goroutines running rafka code (the connections'
	// redcon loops included); the embedded broker's and the test's own do
	// not count.
	settle := func() int {
		time.Sleep(100 * time.Millisecond)
		buf := make([]byte, 4<<20)
		n := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "rafka/test/") && !strings.Contains(g, "rafka/server.") {
				continue
			}
			for _, pkg := range []string{"rafka/server.", "rafka/consumer.", "rafka/producer.", "rafka/arrowflight.", "tidwall/redcon."} {
				if strings.Contains(g, pkg) {
					n++
					break
				}
			}
		}
		return n
	}
	// Warm up: one full cycle so lazily started goroutines exist before the baseline.
	w := ts.dial(t)
	w.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "warm")+":w")
	w.do("BLPOP", "topics:"+topic, "0.1")
	w.conn.Close()
	waitFor(t, 20*time.Second, "warm-up consumer closed", func() bool { return ts.stats.Get(stats.ConsumersCurrent) == 0 })
	before := settle()

	for i := 0; i < 10; i++ {
		// Mid-BLPOP: blocked forever, then the socket closes.
		c := dialRESP(t, ts.addr)
		c.expect("OK", "CLIENT", "SETNAME", fmt.Sprintf("%s:%d", uniqueName(t, "v"), i))
		c.send("BLPOP", "topics:"+topic+"-empty", "0")
		// Mid-pipeline: half a command.
		p := dialRESP(t, ts.addr)
		p.sendRaw("*3\r\n$6\r\nRPUSHX\r\n$8\r\ntopics:x")
		time.Sleep(20 * time.Millisecond)
		c.conn.Close()
		p.conn.Close()
	}
	// Mid-DoGet: a follow stream whose client goes away.
	fc := tf.client(t)
	info, err := fc.GetFlightInfo(context.Background(), cmd(t, map[string]any{"topic": topic, "end": "follow"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := fc.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = stream.Recv()
	cancel()

	waitFor(t, 30*time.Second, "connections, consumers and streams gone", func() bool {
		return ts.stats.Get(stats.ConnectionsCurrent) == 0 && ts.stats.Get(stats.ConsumersCurrent) == 0 &&
			tf.stats.Get(stats.FlightStreams) == 0
	})
	var after int
	deadline := time.Now().Add(30 * time.Second)
	for after = settle(); after > before && time.Now().Before(deadline); after = settle() {
	}
	if after > before {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines: %d before, %d after:\n%s", before, after, buf[:n])
	}
	t.Logf("goroutines: %d before, %d after", before, after)
}
