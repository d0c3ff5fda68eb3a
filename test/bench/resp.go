package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// respConn is a tiny pipelining RESP2 client over one TCP connection: write
// any number of commands, flush once, then read their replies in order.
type respConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	stop func() bool // detaches the context watcher
}

// reply is one decoded RESP reply.
type reply struct {
	// kind is the RESP type byte: '+', '-', ':', '$' or '*'.
	kind byte
	// str is the simple string, error text or bulk payload.
	str []byte
	// num is an integer reply.
	num int64
	// arr holds the elements of an array reply.
	arr []reply
	// null is set for a null bulk string or a null array.
	null bool
}

// String renders a reply briefly, for error messages.
func (r reply) String() string {
	switch {
	case r.null:
		return "(nil)"
	case r.kind == ':':
		return strconv.FormatInt(r.num, 10)
	case r.kind == '*':
		return fmt.Sprintf("array of %d", len(r.arr))
	}
	s := string(r.str)
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return string(r.kind) + s
}

// errReply is a RESP error reply turned into a Go error.
type errReply string

func (e errReply) Error() string { return string(e) }

// dialRESP connects to addr. When ctx ends, every pending and later read or
// write on the connection fails at once.
func dialRESP(ctx context.Context, addr string) (*respConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &respConn{
		conn: conn,
		r:    bufio.NewReaderSize(conn, 64<<10),
		w:    bufio.NewWriterSize(conn, 64<<10),
	}
	c.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

// Close closes the connection.
func (c *respConn) Close() error {
	c.stop()
	return c.conn.Close()
}

// write buffers one command made of string arguments.
func (c *respConn) write(args ...string) { c.writeArgs(args) }

// writeBytes buffers one command whose last argument is binary.
func (c *respConn) writeBytes(args []string, last []byte) { c.writeArgs(args, last) }

// writeArgs buffers one command: the string arguments, then the binary ones.
func (c *respConn) writeArgs(args []string, binary ...[]byte) {
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

// flush sends the buffered commands.
func (c *respConn) flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// do sends one command and reads its reply; an error reply becomes an
// error.
func (c *respConn) do(args ...string) (reply, error) {
	c.write(args...)
	if err := c.flush(); err != nil {
		return reply{}, err
	}
	r, err := c.read()
	if err != nil {
		return reply{}, err
	}
	if r.kind == '-' {
		return r, errReply(r.str)
	}
	return r, nil
}

// readInt reads a reply that must be an integer, without allocating.
func (c *respConn) readInt() (int64, error) {
	line, err := c.line()
	if err != nil {
		return 0, err
	}
	if line[0] != ':' {
		if line[0] == '-' {
			return 0, errReply(line[1:])
		}
		return 0, fmt.Errorf("want an integer reply, got %q", line)
	}
	n, err := strconv.ParseInt(string(line[1:]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad integer reply %q: %w", line, err)
	}
	return n, nil
}

// read reads one reply of any type.
func (c *respConn) read() (reply, error) {
	line, err := c.line()
	if err != nil {
		return reply{}, err
	}
	r := reply{kind: line[0]}
	switch r.kind {
	case '+', '-':
		r.str = append([]byte(nil), line[1:]...)
		return r, nil
	case ':':
		r.num, err = strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil {
			return r, fmt.Errorf("bad integer reply %q: %w", line, err)
		}
		return r, nil
	case '$':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil {
			return r, fmt.Errorf("bad bulk length %q: %w", line, err)
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		r.str = make([]byte, n+2)
		if _, err := io.ReadFull(c.r, r.str); err != nil {
			return r, fmt.Errorf("read bulk: %w", err)
		}
		r.str = r.str[:n]
		return r, nil
	case '*':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil {
			return r, fmt.Errorf("bad array length %q: %w", line, err)
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		r.arr = make([]reply, n)
		for i := range r.arr {
			if r.arr[i], err = c.read(); err != nil {
				return r, err
			}
		}
		return r, nil
	}
	return r, fmt.Errorf("unknown reply type %q", line)
}

// line reads one CRLF-terminated line and returns it without the CRLF. The
// slice is valid until the next read.
func (c *respConn) line() ([]byte, error) {
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
