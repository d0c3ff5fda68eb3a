package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"rafka/config"
	"rafka/server"
)

// TestXAddRepliesInOrder: a long pipeline of XADDs (more than one socket
// read, so that later batches are produced while earlier ones wait for
// Kafka) gets every reply in the order of its commands, whatever follows
// it or sits among it: replies answered before the command runs, other
// commands, the client closing its side, and errors that end the
// connection. Each case sends its whole pipeline in one write.
func TestXAddRepliesInOrder(t *testing.T) {
	const n = 300
	ts := startServer(t, func(c *server.Config) { c.Settings.MaxBulkBytes = 1 << 16 })
	topic := newTopic(t, 2)
	missing := uniqueName(t, "missing")
	xadd := func(i int) string { return bulkCommand("XADD", topic, "*", "payload", fmt.Sprint("e", i)) }
	cases := []struct {
		name string
		// among replaces the XADD at a position with other commands.
		among map[int]string
		// wantAt is what the replies at those positions must be.
		wantAt map[int]string
		// after is sent after the XADDs; tail is what the replies end
		// with after theirs ("EOF": the connection closes).
		after string
		tail  []string
		// closeWrite: the client shuts its side after sending.
		closeWrite bool
	}{
		{name: "the client closes its side", closeWrite: true, tail: []string{"EOF"}},
		{name: "a malformed bulk follows", after: "*1\r\n$4\r\nPINGxx\r\n",
			tail: []string{"(error) ERR Protocol error: invalid bulk length", "EOF"}},
		{name: "an inline command with unbalanced quotes follows", after: "PING \"open\r\n",
			tail: []string{"(error) ERR Protocol error: unbalanced quotes in request", "EOF"}},
		{name: "a bulk over the limit follows", after: bulkCommand("XADD", topic, "*", "payload", strings.Repeat("x", 1<<17)),
			tail: []string{"(error) ERR Protocol error: invalid bulk length", "EOF"}},
		{name: "replies made before or without producing", among: map[int]string{
			40:  bulkCommand("XADD", topic),
			120: bulkCommand("XADD", missing, "NOMKSTREAM", "*", "f", "v"),
			150: bulkCommand("NOSUCH"),
			200: bulkCommand("XADD", topic, "1-1", "f", "v"),
			260: bulkCommand("PING"),
		}, wantAt: map[int]string{
			40:  "(error) ERR wrong number of arguments for 'xadd' command",
			120: "(nil)",
			150: "(error) ERR unknown command 'NOSUCH', with args beginning with: ",
			200: "(error) ERR XADD takes only * as the ID here: Kafka assigns the offset the ID is made of",
			260: "PONG",
		}, tail: []string{"PONG"}, after: bulkCommand("PING")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := ts.dial(t)
			var b strings.Builder
			for i := range n {
				if cmd, ok := tc.among[i]; ok {
					b.WriteString(cmd)
				} else {
					b.WriteString(xadd(i))
				}
			}
			b.WriteString(tc.after)
			conn.sendRaw(b.String())
			if tc.closeWrite {
				if err := conn.conn.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			want := make([]string, n, n+len(tc.tail))
			for i := range want {
				want[i] = "ID"
				if w, ok := tc.wantAt[i]; ok {
					want[i] = w
				}
			}
			expectReplies(t, conn, append(want, tc.tail...))
		})
	}
}

// TestXAddRepliesAtAReadBoundary: XADDs that fill exactly the server's
// first socket read (redcon reads 4 KiB at first), so that their replies
// are queued while the next command waits in the socket, and that command
// starts the next read: it reaches the dispatcher, or breaks a limit, with
// the XADDs' replies still queued. They come first.
func TestXAddRepliesAtAReadBoundary(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.Settings.MaxBulkBytes = 1 << 16 })
	topic := newTopic(t, 2)
	cases := []struct {
		name, next string
		tail       []string
	}{
		{"another command", bulkCommand("PING"), []string{"PONG"}},
		{"an XADD the dispatcher refuses", bulkCommand("XADD", topic), []string{"(error) ERR wrong number of arguments for 'xadd' command"}},
		{"MULTI and an XADD in it", bulkCommand("MULTI") + bulkCommand("XADD", topic, "*", "f", "v"),
			[]string{"OK", "(error) ERR Command not allowed inside a transaction"}},
		{"a bulk over the limit", bulkCommand("ECHO", strings.Repeat("x", 1<<17)),
			[]string{"(error) ERR Protocol error: invalid bulk length", "EOF"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := ts.dial(t)
			pipeline, n := xaddsOfSize(t, topic, 4096)
			conn.sendRaw(pipeline + tc.next)
			want := make([]string, n, n+len(tc.tail))
			for i := range want {
				want[i] = "ID"
			}
			expectReplies(t, conn, append(want, tc.tail...))
		})
	}
}

// TestDurableRepliesAfterTheClientClosesItsSide: a client that sends
// durable RPUSHes and shuts its side still gets their counts, not an
// error for messages Kafka stored (it would send them again).
func TestDurableRepliesAfterTheClientClosesItsSide(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	conn := ts.dial(t)
	const n = 300
	conn.sendRaw(bulkCommands(n, func(i int) []string { return []string{"RPUSH", "topics:" + topic, fmt.Sprint("m", i)} }))
	if err := conn.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if r := conn.read(30 * time.Second); r.String() != "(integer) 1" {
			t.Fatalf("reply %d: %s, want (integer) 1", i, r)
		}
	}
	if got := len(readAll(t, topic, n)); got != n {
		t.Fatalf("Kafka holds %d messages, want %d", got, n)
	}
}

// TestXAddRepliesWithinTheIdleTimeout: replies queued while the client's
// next command was half sent wait for Kafka in the connection's read
// (here a 1.5 s linger, past the 1 s idle timeout); that wait is not the
// client's idleness, and the connection stays open for the rest of it.
func TestXAddRepliesWithinTheIdleTimeout(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.Settings.IdleTimeout = config.Duration(time.Second)
		file := &config.File{Producer: config.Properties{"linger.ms": "1500"}}
		c.Producer = testProducer(*c, file.ProducerProperties(env.brokers))
	})
	topic := newTopic(t, 1)
	conn := ts.dial(t)
	pipeline, n := xaddsOfSize(t, topic, 4096)
	next := bulkCommand("XADD", topic, "*", "payload", "last")
	conn.sendRaw(pipeline + next[:len(next)/2])
	for i := range n {
		if r := conn.read(30 * time.Second); r.Kind != '$' {
			t.Fatalf("reply %d: %s, want an entry ID", i, r)
		}
	}
	conn.sendRaw(next[len(next)/2:])
	if r, err := conn.tryRead(30 * time.Second); err != nil || r.Kind != '$' {
		t.Fatalf("the XADD completed after the replies: %v, %v (the connection was closed as idle)", r, err)
	}
}

// xaddsOfSize is XADDs to topic of exactly size bytes, and how many.
func xaddsOfSize(t *testing.T, topic string, size int) (string, int) {
	t.Helper()
	var b strings.Builder
	n := 0
	for b.Len() < size {
		cmd := bulkCommand("XADD", topic, "*", "payload", "e")
		if left := size - b.Len(); left < 2*len(cmd) {
			// The last one takes what is left: its payload grows by what
			// the command lacks (the length's digits change too).
			for pad := left - len(cmd); ; pad-- {
				cmd = bulkCommand("XADD", topic, "*", "payload", strings.Repeat("e", 1+pad))
				if len(cmd) <= left {
					break
				}
			}
			if len(cmd) != left {
				t.Fatalf("cannot fill %d bytes exactly", size)
			}
		}
		b.WriteString(cmd)
		n++
	}
	return b.String(), n
}

// expectReplies reads len(want) replies and checks each against want: the
// rendered reply, "ID" for any entry ID, or "EOF" for the connection
// closed by the server.
func expectReplies(t *testing.T, conn *respConn, want []string) {
	t.Helper()
	for i, w := range want {
		r, err := conn.tryRead(30 * time.Second)
		got := r.String()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			got = "EOF" // a close with the client's bytes unread is a reset
		} else if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if w == "ID" {
			if r.Kind != '$' || !strings.Contains(r.Str, "-") {
				t.Fatalf("reply %d: %s, want an entry ID", i, got)
			}
		} else if got != w {
			t.Fatalf("reply %d: %s, want %s", i, got, w)
		}
	}
}

// TestXAddManyInOneRead: a large XADD grows the server's read buffer, so
// that the thousands of small XADDs sent right after it arrive in a few
// reads; they are produced in bounded batches, and every one gets its ID
// in order.
func TestXAddManyInOneRead(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	conn := ts.dial(t)
	const n = 20000
	conn.sendRaw(bulkCommand("XADD", topic, "*", "payload", strings.Repeat("x", 900<<10)) +
		bulkCommands(n, func(i int) []string { return []string{"XADD", topic, "*", "payload", fmt.Sprint(i)} }) +
		bulkCommand("PING"))
	want := make([]string, n+2)
	for i := range n + 1 {
		want[i] = "ID"
	}
	want[n+1] = "PONG"
	expectReplies(t, conn, want)
	if got := len(readAll(t, topic, n+1)); got != n+1 {
		t.Fatalf("Kafka holds %d entries, want %d", got, n+1)
	}
}

// TestXAddPipelineCounted: the XADDs a batch takes from the pipeline count
// as calls of XADD in INFO commandstats, each once.
func TestXAddPipelineCounted(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	conn := ts.dial(t)
	calls := func() int {
		for _, line := range strings.Split(conn.do("INFO", "commandstats").Str, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_xadd:calls="); ok {
				n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
				return n
			}
		}
		return 0
	}
	before := calls()
	const n = 500
	var b strings.Builder
	for i := range n {
		b.WriteString(bulkCommand("XADD", topic, "*", "payload", fmt.Sprint("e", i)))
	}
	conn.sendRaw(b.String())
	want := make([]string, n)
	for i := range want {
		want[i] = "ID"
	}
	expectReplies(t, conn, want)
	if got := calls() - before; got != n {
		t.Errorf("cmdstat_xadd calls grew by %d for %d pipelined XADDs", got, n)
	}
}
