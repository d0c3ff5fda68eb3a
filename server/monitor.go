package server

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"rafka/stats"
)

const (
	// monitorBuffer is how many lines wait for a slow monitor before
	// further lines are dropped (and counted): a monitor never blocks
	// another connection.
	monitorBuffer = 4096
	// monitorArgMax truncates long arguments (payloads) in monitor lines.
	monitorArgMax = 256
	// monitorLineMax bounds one line: the arguments that do not fit are
	// summarised as "...(N more arguments)".
	monitorLineMax = 8 << 10
	// monitorWriteTimeout ends a monitor that has not taken a write for
	// this long: a client that stopped reading is disconnected, as Redis
	// does past a monitor's output buffer limit.
	monitorWriteTimeout = 30 * time.Second
)

// monitors are the connections in MONITOR mode.
type monitors struct {
	stats *stats.Stats
	// maxQueued bounds the bytes of the lines waiting for one monitor;
	// past it lines are dropped (and counted).
	maxQueued int64
	n         atomic.Int32

	mu  sync.RWMutex
	set map[*monitor]struct{}
}

func newMonitors(st *stats.Stats, maxQueued int64) *monitors {
	return &monitors{stats: st, maxQueued: maxQueued, set: map[*monitor]struct{}{}}
}

// active reports whether any monitor is connected: the only cost monitors
// add to a command when there are none.
func (ms *monitors) active() bool { return ms.n.Load() > 0 }

// publish sends one command of c to every monitor but c itself.
func (ms *monitors) publish(c *client, args [][]byte) {
	line := formatMonitorLine(time.Now(), c.addr, args)
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	for m := range ms.set {
		if m.c == c {
			continue
		}
		if m.queued.Add(int64(len(line))) > ms.maxQueued {
			m.queued.Add(-int64(len(line)))
			ms.stats.Inc(stats.MonitorDropped)
			continue
		}
		select {
		case m.lines <- line:
		default:
			m.queued.Add(-int64(len(line)))
			ms.stats.Inc(stats.MonitorDropped)
		}
	}
}

func (ms *monitors) add(m *monitor) {
	ms.mu.Lock()
	ms.set[m] = struct{}{}
	ms.mu.Unlock()
	ms.n.Add(1)
}

func (ms *monitors) remove(m *monitor) {
	ms.mu.Lock()
	if _, ok := ms.set[m]; ok {
		delete(ms.set, m)
		ms.n.Add(-1)
	}
	ms.mu.Unlock()
}

// closeAll ends every monitor connection (shutdown).
func (ms *monitors) closeAll() {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	for m := range ms.set {
		m.stop()
	}
}

// formatMonitorLine renders a command as Redis's MONITOR does:
// `+<unix.micro> [0 <addr>] "cmd" "arg" ...`, arguments quoted and escaped.
func formatMonitorLine(now time.Time, addr string, args [][]byte) []byte {
	b := make([]byte, 0, 64+len(addr))
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	us := strconv.AppendInt(nil, int64(now.Nanosecond()/1000), 10)
	for i := len(us); i < 6; i++ {
		b = append(b, '0')
	}
	b = append(b, us...)
	b = append(b, " [0 "...)
	b = append(b, addr...)
	b = append(b, ']')
	for i, a := range args {
		if len(b)+quotedMax(min(len(a), monitorArgMax)) > monitorLineMax {
			b = append(b, " ...("...)
			b = strconv.AppendInt(b, int64(len(args)-i), 10)
			b = append(b, " more arguments)"...)
			break
		}
		b = append(b, ' ')
		more := 0
		if len(a) > monitorArgMax {
			more = len(a) - monitorArgMax
			a = a[:monitorArgMax]
		}
		b = appendQuoted(b, a)
		if more > 0 {
			b = append(b, "...("...)
			b = strconv.AppendInt(b, int64(more), 10)
			b = append(b, " more bytes)"...)
		}
	}
	return append(b, '\r', '\n')
}

// quotedMax is the most bytes an argument of n bytes takes in a line:
// every byte escaped as \xHH, the quotes, the separator and the
// truncation note.
func quotedMax(n int) int { return 4*n + 2 + 1 + 32 }

// appendQuoted quotes and escapes s like Redis's sdscatrepr.
func appendQuoted(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range s {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 0x20 && ch < 0x7f {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&0xf])
			}
		}
	}
	return append(b, '"')
}

// monitor is one connection in MONITOR mode. It is detached from redcon's
// loop: one goroutine writes lines and replies, one reads commands.
type monitor struct {
	c       *client
	lines   chan []byte
	queued  atomic.Int64 // bytes of the lines in lines
	replies chan monitorReply
	done    chan struct{}
	once    sync.Once
}

type monitorReply struct {
	raw  []byte
	quit bool
}

func (m *monitor) stop() { m.once.Do(func() { close(m.done) }) }

// MONITOR: +OK, then every command of every other connection.
func cmdMonitor(s *Server, c *client, args [][]byte) error {
	if err := c.adminOnly("MONITOR"); err != nil {
		return err
	}
	c.mu.Lock()
	c.monitoring = true
	c.mu.Unlock()
	dc := c.conn.Detach()
	m := &monitor{
		c:       c,
		lines:   make(chan []byte, monitorBuffer),
		replies: make(chan monitorReply, 16),
		done:    make(chan struct{}),
	}
	// Registered before +OK: every command sent after the client reads it
	// is shown.
	s.monitors.add(m)
	dc.WriteString("OK")
	if err := dc.Flush(); err != nil {
		s.monitors.remove(m)
		_ = dc.Close()
		s.teardown(c)
		return nil
	}
	go m.read(dc)
	go m.write(s, dc)
	return nil
}

// read serves the few commands a monitor may send: PING and QUIT.
func (m *monitor) read(dc redcon.DetachedConn) {
	for {
		cmd, err := dc.ReadCommand()
		if err != nil {
			m.stop()
			return
		}
		var r monitorReply
		switch strings.ToLower(string(cmd.Args[0])) {
		case "quit":
			r = monitorReply{raw: []byte("+OK\r\n"), quit: true}
		case "ping":
			r = monitorReply{raw: []byte("+PONG\r\n")}
		default:
			r = monitorReply{raw: errorReply(errMonitorMode)}
		}
		select {
		case m.replies <- r:
		case <-m.done:
			return
		}
		if r.quit {
			return
		}
	}
}

// write sends lines and replies, batching what is waiting into one write.
// A write the client has not taken within monitorWriteTimeout ends the
// monitor.
func (m *monitor) write(s *Server, dc redcon.DetachedConn) {
	defer func() {
		s.monitors.remove(m)
		_ = dc.Close()
		s.teardown(m.c)
	}()
	flush := func() error {
		_ = dc.NetConn().SetWriteDeadline(time.Now().Add(monitorWriteTimeout))
		return dc.Flush()
	}
	take := func(line []byte) {
		m.queued.Add(-int64(len(line)))
		dc.WriteRaw(line)
	}
	for {
		select {
		case line := <-m.lines:
			take(line)
			for more := true; more; {
				select {
				case l := <-m.lines:
					take(l)
				default:
					more = false
				}
			}
			if flush() != nil {
				return
			}
		case r := <-m.replies:
			dc.WriteRaw(r.raw)
			if flush() != nil || r.quit {
				return
			}
		case <-m.done:
			return
		}
	}
}
