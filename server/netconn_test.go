package server

import (
	"bytes"
	"net"
	"strings"
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

// TestReadEndsWhereCommandsEnd: Read hands redcon the stream up to the
// last command that ended in it and the rest with the next read, so that
// redcon's reader, which grows its buffer whenever it is full with a
// command unfinished, never holds one at its end for long
// (TestHostileSplitPipeline in test/e2e is the memory this bounds).
func TestReadEndsWhereCommandsEnd(t *testing.T) {
	big := "*2\r\n$4\r\nECHO\r\n$6000\r\n" + strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name   string
		writes []string
		watch  int // the write a watch reads (0: none)
		reads  []string
	}{
		{"whole commands", []string{"*1\r\n$4\r\nPING\r\n"}, 0, []string{"*1\r\n$4\r\nPING\r\n"}},
		{"a bulk command cut", []string{"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", "NG\r\nPING\r\nPI", "NG\r\n"}, 0,
			[]string{"*1\r\n$4\r\nPING\r\n", "*1\r\n$4\r\nPING\r\nPING\r\n", "PING\r\n"}},
		{"an inline command cut", []string{"PING\r\nEC", "HO a\r\n"}, 0, []string{"PING\r\n", "ECHO a\r\n"}},
		{"no command ends", []string{big, strings.Repeat("x", 3000) + "\r\nPING\r\n"}, 0,
			[]string{big, strings.Repeat("x", 3000) + "\r\nPING\r\n"}},
		{"a watch reads the rest", []string{"PING\r\nPI", "NG\r\nPI"}, 2, []string{"PING\r\n", "PING\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			defer server.Close()
			defer client.Close()
			go func() {
				for _, w := range tc.writes {
					if _, err := client.Write([]byte(w)); err != nil {
						return
					}
				}
			}()
			nc := &netConn{Conn: server, stats: stats.New(), scanner: requestScanner{maxBulk: 1 << 20, maxArgs: 100, maxInline: 1 << 10, maxCommand: 1 << 20}}
			buf := make([]byte, 16<<10)
			for i, want := range tc.reads {
				if i+1 == tc.watch {
					stop := nc.watch(func() {})
					deadline := time.Now().Add(10 * time.Second)
					for !nc.readable() && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					stop()
				}
				_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := nc.Read(buf)
				if err != nil || string(buf[:n]) != want {
					t.Fatalf("read %d: %q, %v; want %q", i+1, buf[:n], err, want)
				}
			}
		})
	}
}
