package rafkatest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Conn is a pipelining RESP client over one connection, for tests and the
// benchmark: write any number of commands, flush once, then read their
// replies in order. It speaks RESP2 and reads RESP3 replies too.
type Conn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	stop func() bool // detaches the context watcher
}

// Dial connects to addr. When ctx ends, every pending and later read or
// write on the connection fails at once.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return NewConn(ctx, conn), nil
}

// NewConn is a client over an established connection (a TLS one, say),
// which it closes at Close; ctx ends its reads and writes as Dial's does.
func NewConn(ctx context.Context, conn net.Conn) *Conn {
	c := &Conn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriterSize(conn, 64<<10)}
	c.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return c
}

// NetConn is the underlying connection (for deadlines and raw writes).
func (c *Conn) NetConn() net.Conn { return c.conn }

// Close closes the connection.
func (c *Conn) Close() error {
	c.stop()
	return c.conn.Close()
}

// Write buffers one command made of string arguments.
func (c *Conn) Write(args ...string) { c.WriteArgs(args) }

// WriteArgs buffers one command: the string arguments, then the binary ones.
func (c *Conn) WriteArgs(args []string, binary ...[]byte) {
	c.w.WriteByte('*')
	c.w.WriteString(strconv.Itoa(len(args) + len(binary)))
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(a)))
		c.w.WriteString("\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
	for _, b := range binary {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(b)))
		c.w.WriteString("\r\n")
		c.w.Write(b)
		c.w.WriteString("\r\n")
	}
}

// WriteRaw buffers bytes as they are (inline commands, malformed input).
func (c *Conn) WriteRaw(s string) { c.w.WriteString(s) }

// Flush sends the buffered commands.
func (c *Conn) Flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// Do sends one command and reads its reply; the error is the
// connection's (an error reply is a Reply).
func (c *Conn) Do(args ...string) (Reply, error) {
	c.Write(args...)
	if err := c.Flush(); err != nil {
		return Reply{}, err
	}
	return c.Read()
}

// Call is Do with an error reply returned as an ErrorReply.
func (c *Conn) Call(args ...string) (Reply, error) {
	r, err := c.Do(args...)
	if err == nil && r.Kind == '-' {
		err = ErrorReply(r.Str)
	}
	return r, err
}

// ErrorReply is a RESP error reply as a Go error.
type ErrorReply string

func (e ErrorReply) Error() string { return string(e) }

// ReadInt reads a reply that must be an integer, without allocating.
func (c *Conn) ReadInt() (int64, error) {
	line, err := c.line()
	if err != nil {
		return 0, err
	}
	switch line[0] {
	case ':':
	case '-':
		return 0, ErrorReply(line[1:])
	default:
		return 0, fmt.Errorf("want an integer reply, got %q", line)
	}
	n, err := strconv.ParseInt(string(line[1:]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad integer reply %q: %w", line, err)
	}
	return n, nil
}

// Reply is one decoded RESP2 or RESP3 reply.
type Reply struct {
	// Kind is the type byte: '+', '-', ':', '$' (verbatim strings too),
	// '*' (sets and pushes too), '%' (a map: Elems are key, value, ...),
	// ',', '#', '(' (their text in Str).
	Kind byte
	// Str is the simple string, error text, bulk or other text.
	Str string
	// Num is an integer reply.
	Num int64
	// Elems are an array's elements, or a map's keys and values in turn.
	Elems []Reply
	// Null is set for a null bulk, a null array or RESP3's null.
	Null bool
}

// String renders a reply on one line, close to redis-cli: OK, (error) ...,
// (integer) 5, "bulk", (nil), [a, b], {k: v}.
func (r Reply) String() string {
	switch {
	case r.Null:
		return "(nil)"
	case r.Kind == '+':
		return r.Str
	case r.Kind == '-':
		return "(error) " + r.Str
	case r.Kind == ':':
		return "(integer) " + strconv.FormatInt(r.Num, 10)
	case r.Kind == '$':
		return strconv.Quote(r.Str)
	case r.Kind == '*':
		parts := make([]string, len(r.Elems))
		for i, e := range r.Elems {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case r.Kind == '%':
		parts := make([]string, 0, len(r.Elems)/2)
		for i := 0; i+1 < len(r.Elems); i += 2 {
			parts = append(parts, r.Elems[i].String()+": "+r.Elems[i+1].String())
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("(%c) %s", r.Kind, r.Str)
}

// IsErr reports whether the reply is an error starting with prefix.
func (r Reply) IsErr(prefix string) bool { return r.Kind == '-' && strings.HasPrefix(r.Str, prefix) }

// Pairs returns a map, or a flat array of pairs, as a Go map.
func (r Reply) Pairs() map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(r.Elems); i += 2 {
		v := r.Elems[i+1]
		val := v.Str
		if v.Kind == ':' {
			val = strconv.FormatInt(v.Num, 10)
		}
		out[r.Elems[i].Str] = val
	}
	return out
}

// Read reads one reply of any type.
func (c *Conn) Read() (Reply, error) {
	line, err := c.line()
	if err != nil {
		return Reply{}, err
	}
	kind, body := line[0], line[1:]
	r := Reply{Kind: kind}
	switch kind {
	case '+', '-', ',', '(', '#':
		r.Str = string(body)
	case ':':
		if r.Num, err = strconv.ParseInt(string(body), 10, 64); err != nil {
			return r, fmt.Errorf("bad integer reply %q: %w", line, err)
		}
	case '_':
		r.Null = true
	case '$', '=':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return r, fmt.Errorf("bad bulk length %q: %w", line, err)
		}
		if n < 0 {
			r.Null = true
			return r, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return r, fmt.Errorf("read bulk: %w", err)
		}
		r.Kind, r.Str = '$', string(buf[:n])
	case '*', '%', '~', '>':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return r, fmt.Errorf("bad aggregate length %q: %w", line, err)
		}
		if n < 0 {
			r.Null = true
			return r, nil
		}
		if kind == '%' {
			n *= 2
		} else {
			r.Kind = '*'
		}
		r.Elems = make([]Reply, n)
		for i := range r.Elems {
			if r.Elems[i], err = c.Read(); err != nil {
				return r, err
			}
		}
	default:
		return r, fmt.Errorf("unknown reply type %q", line)
	}
	return r, nil
}

// line reads one CRLF-terminated line and returns it without the CRLF. The
// slice is valid until the next read.
func (c *Conn) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("reply line too long")
		}
		return nil, fmt.Errorf("receive: %w", err)
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	return line[:len(line)-2], nil
}
