package e2e

import (
	"net"
	"testing"
	"time"

	"rafka/test/rafkatest"
)

// reply is one decoded RESP2/RESP3 reply.
type reply = rafkatest.Reply

// respConn is a RESP connection for scripted conversations: rafkatest's
// client with the test failed on any connection error.
type respConn struct {
	t    testing.TB
	c    *rafkatest.Conn
	conn net.Conn
}

func dialRESP(t testing.TB, addr string) *respConn {
	t.Helper()
	return newRespConn(t, rafkatest.DialT(t, addr))
}

// newRespConn wraps a client whose connection is closed when the test ends.
func newRespConn(t testing.TB, c *rafkatest.Conn) *respConn {
	return &respConn{t: t, c: c, conn: c.NetConn()}
}

// send writes one command without reading its reply.
func (c *respConn) send(args ...string) {
	c.t.Helper()
	c.c.Write(args...)
	c.flush()
}

func (c *respConn) sendRaw(s string) {
	c.t.Helper()
	c.c.WriteRaw(s)
	c.flush()
}

func (c *respConn) flush() {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.c.Flush(); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one reply, failing the test after timeout.
func (c *respConn) read(timeout time.Duration) reply {
	c.t.Helper()
	r, err := c.tryRead(timeout)
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return r
}

func (c *respConn) tryRead(timeout time.Duration) (reply, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	return c.c.Read()
}

// do sends a command and reads its reply (15 s at most).
func (c *respConn) do(args ...string) reply {
	c.t.Helper()
	c.send(args...)
	return c.read(15 * time.Second)
}

// expect sends a command and checks the rendered reply.
func (c *respConn) expect(want string, args ...string) reply {
	c.t.Helper()
	got := c.do(args...)
	if got.String() != want {
		c.t.Errorf("%v:\n got %s\nwant %s", args, got, want)
	}
	return got
}
