package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rafka/config"
	"rafka/server"
)

// TestLimits: requests over the argument limits are refused with a protocol
// error and the connection is closed; other clients keep being served.
func TestLimits(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.Settings.MaxBulkBytes = 1024
		c.Settings.MaxArgs = 8
		c.Settings.MaxInlineBytes = 100
	})
	bystander := ts.dial(t)
	cases := []struct{ name, send, want string }{
		{"bulk", "*2\r\n$4\r\nECHO\r\n$1025\r\n", "ERR Protocol error: invalid bulk length"},
		{"args", "*9\r\n", "ERR Protocol error: invalid multibulk length"},
		{"inline", strings.Repeat("x", 101), "ERR Protocol error: too big inline request"},
	}
	for _, tc := range cases {
		c := ts.dial(t)
		c.sendRaw(tc.send)
		if r := c.read(5 * time.Second); r.String() != "(error) "+tc.want {
			t.Errorf("%s: got %s", tc.name, r)
		}
		if _, err := c.tryRead(2 * time.Second); err == nil {
			t.Errorf("%s: connection still open", tc.name)
		}
	}
	// Commands before the violation in the same packet are answered first.
	p := ts.dial(t)
	p.sendRaw("PING\r\n*2\r\n$4\r\nECHO\r\n$2000\r\n")
	if r := p.read(5 * time.Second); r.String() != "PONG" {
		t.Errorf("command before a violation: %s", r)
	}
	if r := p.read(5 * time.Second); r.String() != "(error) ERR Protocol error: invalid bulk length" {
		t.Errorf("violation after a good command: %s", r)
	}
	// A violation while BLPOP blocks ends the wait and the connection.
	topic := newTopic(t, 1)
	b := ts.dial(t)
	b.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	b.send("BLPOP", "topics:"+topic, "0")
	b.sendRaw("*2\r\n$4\r\nECHO\r\n$5000\r\n")
	if r := b.read(10 * time.Second); r.String() != "(error) ERR Protocol error: invalid bulk length" {
		t.Errorf("violation during BLPOP: %s", r)
	}
	if _, err := b.tryRead(2 * time.Second); err == nil {
		t.Error("connection open after a violation during BLPOP")
	}
	ok := ts.dial(t)
	ok.expect(fmt.Sprintf("%q", strings.Repeat("y", 1024)), "ECHO", strings.Repeat("y", 1024))
	bystander.expect("PONG", "PING")
	if got := ts.stat(t, "errors.protocol"); got != "5" {
		t.Errorf("errors.protocol = %s, want 5", got)
	}
}

// TestMaxClients: connections past the limit get an error and are closed.
func TestMaxClients(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.Settings.MaxClients = 2 })
	a, b := ts.dial(t), ts.dial(t)
	a.expect("PONG", "PING")
	b.expect("PONG", "PING")
	c := ts.dial(t)
	if r := c.read(5 * time.Second); r.String() != "(error) ERR max number of clients reached" {
		t.Fatalf("third connection: %s", r)
	}
	a.conn.Close()
	waitFor(t, 5*time.Second, "a slot frees up", func() bool {
		d := dialRESP(t, ts.addr)
		d.send("PING")
		r, err := d.tryRead(2 * time.Second)
		return err == nil && r.String() == "PONG"
	})
	if got := ts.stat(t, "connections.rejected"); got == "0" {
		t.Errorf("connections.rejected = %s", got)
	}
}

// TestIdleTimeout: an idle connection is closed; a blocked BLPOP is not idle.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.Settings.IdleTimeout = config.Duration(500 * time.Millisecond) })
	topic := newTopic(t, 1)
	idle := ts.dial(t)
	idle.expect("PONG", "PING")
	if _, err := idle.tryRead(5 * time.Second); err == nil {
		t.Fatal("idle connection not closed")
	}
	busy := ts.dial(t)
	busy.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	if r := busy.do("BLPOP", "topics:"+topic, "1.5"); !r.Null {
		t.Fatalf("BLPOP: %s", r)
	}
	busy.expect("PONG", "PING")
}

// TestGarbageInput: random bytes never take the server down.
func TestGarbageInput(t *testing.T) {
	ts := startServer(t)
	inputs := []string{
		"\x00\x01\x02\xff\r\n", "*-1\r\n", "*1\r\n$-1\r\n", "*2\r\n$4\r\nPING\r\n:1\r\n",
		"$5\r\nhello\r\n", "\"unbalanced\r\n", "*1\r\n$4\r\nPINGXX\r\n", "BLPOP\r\n", "RPUSH acks\r\n",
		"CLIENT\r\n", "HELLO 3 AUTH\r\n", "HELLO x\r\n", "BLPOP topics:x 0 0\r\n",
	}
	for _, in := range inputs {
		c := ts.dial(t)
		c.sendRaw(in)
		_, _ = c.tryRead(time.Second)
		c.conn.Close()
	}
	ts.dial(t).expect("PONG", "PING")
	if got := ts.stat(t, "errors.panic"); got != "0" {
		t.Errorf("errors.panic = %s", got)
	}
}
