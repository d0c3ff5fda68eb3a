package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"rafka/stats"
)

// listener wraps accepted connections in netConn, and refuses connections
// over the client limit without holding up the accept loop.
type listener struct {
	net.Listener
	stats   *stats.Stats
	scanner requestScanner // the limits every connection starts with
	full    func() bool    // the server serves as many connections as it may
	// refusing bounds the refusals being written at once; past it a
	// connection over the limit is closed without a reply.
	refusing chan struct{}
}

// Refusals: each gets refuseTimeout for its TLS handshake and reply; at
// most maxRefusing are written at once.
const (
	refuseTimeout = time.Second
	maxRefusing   = 256
)

func (l listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.full != nil && l.full() {
			l.stats.Inc(stats.ConnectionsRejected)
			l.refuse(nc)
			continue
		}
		return &netConn{Conn: nc, stats: l.stats, scanner: l.scanner}, nil
	}
}

// refuse answers a connection over the client limit in the background:
// over TLS the reply waits for a handshake the client may never start.
func (l listener) refuse(nc net.Conn) {
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = nc.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		_ = nc.SetDeadline(time.Now().Add(refuseTimeout))
		_, _ = nc.Write(errorReply(errMaxClients))
		_ = nc.Close()
	}()
}

// maxWatchBuffer bounds what a client may send while one of its commands
// blocks; past it the server stops reading until the command ends.
const maxWatchBuffer = 1 << 20

// netConn counts bytes and lets a blocked command notice that its client
// went away: while a command blocks, watch reads from the socket; whatever
// it reads is handed to the next Read, so no byte of the stream is lost.
type netConn struct {
	net.Conn
	stats   *stats.Stats
	scanner requestScanner // only the reading goroutine touches it
	refused bool           // a limit error was answered

	mu      sync.Mutex
	pending []byte // read from the socket, not yet returned by Read
	// pendingEnd is where the last command ending in pending ends (0: no
	// command ends in it). Read hands over what ends there, and puts the
	// unfinished command after it in front of its next socket read.
	pendingEnd int
	tail       []byte // memory for an unfinished command, reused (see holdPartial)
	readErr    error  // a read error seen by a watch, returned after pending
	held       []byte // read past an unauthenticated limit, waiting for AUTH
	heldErr    error  // the unauthenticated limit that held them

	// replies, once the connection is accepted, are the replies it may
	// queue (reading goroutine only): Read writes them before it waits
	// for the client, and before it returns an error or refuses a request.
	replies queuedReplies
	// idle is the idle timeout redcon sets as the read deadline before
	// each read; Read sets it again after writing queued replies, as
	// their wait for Kafka is not the client's idleness.
	idle time.Duration
}

func (c *netConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.held != nil {
			c.releaseHeldLocked()
		}
		if c.pendingEnd > 0 {
			n := copy(p, c.pending[:c.pendingEnd])
			c.pending, c.pendingEnd = c.pending[n:], c.pendingEnd-n
			if len(c.pending) == 0 {
				c.pending = nil
			}
			c.mu.Unlock()
			return n, nil
		}
		err := c.readErr
		c.mu.Unlock()
		if err != nil {
			c.writeQueued()
			c.refuse(err)
			return 0, err
		}
		if c.replies == nil || !c.replies.queued() || c.readable() {
			break
		}
		// The client may be waiting for the queued replies before it
		// sends more: write them, then look again.
		c.replies.writeQueued()
		if c.idle > 0 {
			_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
		}
	}
	// The unfinished command held back (or read by a watch) comes first.
	c.mu.Lock()
	k := copy(p, c.pending)
	c.pending = c.pending[k:]
	if len(c.pending) > 0 { // p is shorter than it
		c.mu.Unlock()
		return k, nil
	}
	c.pending = nil
	c.mu.Unlock()
	n, err := c.Conn.Read(p[k:])
	c.stats.Add(stats.NetBytesIn, int64(n))
	ok, serr := c.scanner.scan(p[k : k+n])
	if serr != nil {
		if ok += k; ok > 0 {
			// Hand over the commands before the violation first. An
			// unauthenticated limit is decided again once they ran: one
			// of them may be AUTH.
			c.mu.Lock()
			if isUntilAuth(serr) {
				c.held, c.heldErr = append([]byte(nil), p[ok:k+n]...), serr
			} else {
				c.readErr = serr
			}
			if err != nil && c.readErr == nil {
				c.readErr = err
			}
			c.mu.Unlock()
			return ok, nil
		}
		c.writeQueued()
		c.refuse(serr)
		return 0, serr
	}
	if err != nil {
		c.writeQueued() // the connection ends with this error
		return k + n, err
	}
	if end := k + c.scanner.ended; c.scanner.ended > 0 && end < k+n {
		c.holdPartial(p[end : k+n])
		return end, nil
	}
	return k + n, nil
}

// maxKeptTail bounds the tail memory a connection keeps between reads.
const maxKeptTail = 4096

// holdPartial keeps the unfinished command at the end of a read for the
// next Read, so that what Read hands redcon ends where a command ends.
// redcon's reader doubles its buffer whenever the buffer is full with a
// command unfinished, and shrinks it only when it holds nothing: a client
// whose every write ends inside a command grew it without bound.
func (c *netConn) holdPartial(tail []byte) {
	kept := c.tail[:0]
	if len(tail) > maxKeptTail {
		kept = nil
	}
	kept = append(kept, tail...)
	if cap(kept) <= maxKeptTail {
		c.tail = kept
	}
	c.mu.Lock()
	c.pending, c.pendingEnd = kept, 0
	c.mu.Unlock()
}

// writeQueued writes the replies the connection queued, if any.
func (c *netConn) writeQueued() {
	if c.replies != nil && c.replies.queued() {
		c.replies.writeQueued()
	}
}

// releaseHeldLocked decides on the bytes held back at an unauthenticated
// limit, now that the commands before them have run: still not
// authenticated, the limit stands; otherwise they are scanned again under
// the normal limits and handed out.
func (c *netConn) releaseHeldLocked() {
	held, heldErr := c.held, c.heldErr
	c.held, c.heldErr = nil, nil
	if c.scanner.locked() {
		c.readErr = heldErr
		return
	}
	ok, serr := c.scanner.scan(held)
	end := c.scanner.ended
	if c.pendingEnd > 0 {
		end = ok + c.pendingEnd
	}
	c.pending, c.pendingEnd = append(held[:ok:ok], c.pending...), end
	if serr != nil {
		c.readErr = serr
	}
}

// refuse answers a request over a limit with its protocol error, once; the
// connection is then closed by the caller of Read.
func (c *netConn) refuse(err error) {
	if !isLimitError(err) || c.refused {
		return
	}
	c.refused = true
	c.stats.Inc(stats.ErrorsProtocol)
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(errorReply(err))
}

func (c *netConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.stats.Add(stats.NetBytesOut, int64(n))
	return n, err
}

// broken reports whether reading already failed: a limit was broken or
// the peer went away.
func (c *netConn) broken() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr != nil
}

// watch reads from the socket in the background until stop is called;
// gone is called if the client closes the connection or it fails. stop
// waits for the reader to finish and restores normal reading.
func (c *netConn) watch(gone func()) (stop func()) {
	var (
		stopping bool
		mu       sync.Mutex
		done     = make(chan struct{})
	)
	c.mu.Lock()
	if c.held != nil {
		// The scanner stopped inside them: decide on them before it
		// scans what the watch reads.
		c.releaseHeldLocked()
	}
	failed := c.readErr != nil
	c.mu.Unlock()
	if failed {
		// Already broken (a limit, or the peer went away): do not wait.
		gone()
		return func() {}
	}
	_ = c.Conn.SetReadDeadline(time.Time{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			// Read no more than the buffer may still take: a client
			// pipelining blocking commands must not grow it 4 KiB at
			// every wait.
			c.mu.Lock()
			room := maxWatchBuffer - len(c.pending)
			c.mu.Unlock()
			if room <= 0 {
				return
			}
			n, err := c.Conn.Read(buf[:min(len(buf), room)])
			c.stats.Add(stats.NetBytesIn, int64(n))
			ok, serr := c.scanner.scan(buf[:n])
			c.mu.Lock()
			if c.scanner.ended > 0 {
				c.pendingEnd = len(c.pending) + c.scanner.ended
			}
			c.pending = append(c.pending, buf[:ok]...)
			if serr != nil {
				// The client broke a limit: end the wait; the error is
				// answered when the connection reads again.
				c.readErr = serr
				c.mu.Unlock()
				gone()
				return
			}
			c.mu.Unlock()
			if err != nil {
				mu.Lock()
				interrupted := stopping && errors.Is(err, os.ErrDeadlineExceeded)
				mu.Unlock()
				if !interrupted {
					c.mu.Lock()
					c.readErr = err
					c.mu.Unlock()
					gone()
				}
				return
			}
		}
	}()
	return func() {
		mu.Lock()
		stopping = true
		mu.Unlock()
		_ = c.Conn.SetReadDeadline(time.Now())
		<-done
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
}
