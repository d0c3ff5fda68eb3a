package server

import (
	"errors"
	"strconv"

	"github.com/tidwall/redcon"

	"rafka/stats"
)

// writeError sends the error reply to err and counts it by its code.
func (c *client) writeError(err error) {
	c.srv.stats.Inc(errorCounter(err))
	c.conn.WriteRaw(errorReply(err))
}

// errorReply is the RESP error reply to err, the one place error replies
// are made: a replyError is sent as its code and message; any other error
// (an internal one wrapped with context, a protocol limit) gets the ERR
// code before its text. Line breaks become spaces, as redcon does.
func errorReply(err error) []byte {
	code, msg := codeErr, ""
	if re, ok := errors.AsType[*replyError](err); ok {
		code, msg = re.code, re.msg
	} else {
		msg = err.Error()
	}
	b := make([]byte, 0, len(code)+len(msg)+4)
	b = append(b, '-')
	b = append(b, code...)
	b = append(b, ' ')
	for i := 0; i < len(msg); i++ {
		if ch := msg[i]; ch == '\r' || ch == '\n' {
			b = append(b, ' ')
		} else {
			b = append(b, ch)
		}
	}
	return append(b, '\r', '\n')
}

// errorCounter is the statistic an error reply to err counts in: consumer
// and producer errors by their code, every other one as a command error.
func errorCounter(err error) stats.Counter {
	re, _ := errors.AsType[*replyError](err)
	switch {
	case re == nil:
		return stats.ErrorsCommand
	case re.code == codeCons:
		return stats.ErrorsConsumer
	case re.code == codeProd:
		return stats.ErrorsProducer
	default:
		return stats.ErrorsCommand
	}
}

// writeNullBulk sends a null bulk string (RESP3: null).
func (c *client) writeNullBulk() {
	if c.resp3.Load() {
		c.conn.WriteRaw(resp3Null)
		return
	}
	c.conn.WriteNull()
}

// writeNullArray sends a null array (RESP3: null), BLPOP's timeout reply.
func (c *client) writeNullArray() {
	if c.resp3.Load() {
		c.conn.WriteRaw(resp3Null)
		return
	}
	c.conn.WriteRaw(resp2NullArray)
}

// writeMapHeader starts a map of n pairs (RESP2: a flat array of 2n).
func (c *client) writeMapHeader(n int) {
	if c.resp3.Load() {
		c.conn.WriteRaw(strconv.AppendInt([]byte{'%'}, int64(n), 10))
		c.conn.WriteRaw(crlf)
		return
	}
	c.conn.WriteArray(2 * n)
}

var (
	resp3Null      = []byte("_\r\n")
	resp2NullArray = []byte("*-1\r\n")
	crlf           = []byte("\r\n")
)

// flush sends what the connection's replies hold so far (redcon flushes
// after each read batch; a command that blocks or replies at length
// flushes first). A connection that is not redcon's has no writer to flush.
func (c *client) flush() {
	if w := redcon.BaseWriter(c.conn); w != nil {
		_ = w.Flush()
	}
}
