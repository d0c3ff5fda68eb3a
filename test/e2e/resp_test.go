package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reply is one decoded RESP2/RESP3 reply.
type reply struct {
	kind  byte // '+', '-', ':', '$', '*', '%', '_' (null), ',' ...
	str   string
	num   int64
	elems []reply
	null  bool
}

// String renders a reply on one line, close to redis-cli: OK, (error) ...,
// (integer) 5, "bulk", (nil), [a, b], {k: v}.
func (r reply) String() string {
	switch {
	case r.null:
		return "(nil)"
	case r.kind == '+':
		return r.str
	case r.kind == '-':
		return "(error) " + r.str
	case r.kind == ':':
		return "(integer) " + strconv.FormatInt(r.num, 10)
	case r.kind == '$':
		return strconv.Quote(r.str)
	case r.kind == '*':
		parts := make([]string, len(r.elems))
		for i, e := range r.elems {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case r.kind == '%':
		parts := make([]string, 0, len(r.elems)/2)
		for i := 0; i+1 < len(r.elems); i += 2 {
			parts = append(parts, r.elems[i].String()+": "+r.elems[i+1].String())
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("(%c) %s", r.kind, r.str)
}

// isErr reports whether the reply is an error starting with prefix.
func (r reply) isErr(prefix string) bool { return r.kind == '-' && strings.HasPrefix(r.str, prefix) }

// pairs returns a map or flat array of pairs as a Go map.
func (r reply) pairs() map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(r.elems); i += 2 {
		v := r.elems[i+1]
		val := v.str
		if v.kind == ':' {
			val = strconv.FormatInt(v.num, 10)
		}
		out[r.elems[i].str] = val
	}
	return out
}

// respConn is a raw RESP connection for scripted conversations.
type respConn struct {
	t    testing.TB
	conn net.Conn
	rd   *bufio.Reader
}

func dialRESP(t testing.TB, addr string) *respConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &respConn{t: t, conn: conn, rd: bufio.NewReader(conn)}
}

// send writes one command without reading its reply.
func (c *respConn) send(args ...string) {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.sendRaw(b.String())
}

func (c *respConn) sendRaw(s string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
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
	return readReply(c.rd)
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

func readReply(rd *bufio.Reader) (reply, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return reply{}, fmt.Errorf("bad line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	r := reply{kind: kind}
	switch kind {
	case '+', '-', ',', '(', '#':
		r.str = body
	case ':':
		r.num, err = strconv.ParseInt(body, 10, 64)
	case '_':
		r.null = true
	case '$', '=':
		n, perr := strconv.Atoi(body)
		if perr != nil {
			return r, perr
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return r, err
		}
		r.kind, r.str = '$', string(buf[:n])
	case '*', '%', '~', '>':
		n, perr := strconv.Atoi(body)
		if perr != nil {
			return r, perr
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		if kind == '%' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			e, err := readReply(rd)
			if err != nil {
				return r, err
			}
			r.elems = append(r.elems, e)
		}
		if kind != '%' {
			r.kind = '*'
		}
	default:
		return r, fmt.Errorf("unknown reply type %q", line)
	}
	return r, err
}
