package server

import (
	"bytes"
	"net"
	"testing"
	"time"

	"rafka/stats"
)

// TestWatchBufferBounded: while commands block one after another, what a
// watch reads ahead stays within maxWatchBuffer. Before (found in review),
// every wait read another 4 KiB even with the buffer full, so pipelined
// blocking commands grew it without bound.
func TestWatchBufferBounded(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	go func() {
		chunk := bytes.Repeat([]byte("PING\r\n"), 1000)
		for {
			if _, err := client.Write(chunk); err != nil {
				return
			}
		}
	}()
	nc := &netConn{Conn: server, stats: stats.New(), scanner: requestScanner{maxBulk: 1 << 20, maxArgs: 100, maxInline: 1 << 10, maxCommand: 1 << 20}}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		stop := nc.watch(func() {})
		time.Sleep(time.Millisecond) // let it read
		stop()
		nc.mu.Lock()
		n := len(nc.pending)
		nc.mu.Unlock()
		if n > maxWatchBuffer {
			t.Fatalf("after %d waits the read-ahead holds %d bytes, over %d", i+1, n, maxWatchBuffer)
		}
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if len(nc.pending) < maxWatchBuffer/2 {
		t.Fatalf("the watches read only %d bytes ahead; the test did not fill the buffer", len(nc.pending))
	}
}
