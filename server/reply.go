package server

import (
	"errors"
	"strconv"
	"strings"

	"rafka/stats"
)

// writeError sends err: a replyError as its own text, anything else with the
// ERR prefix. Errors are counted by their code.
func (c *client) writeError(err error) {
	var re *replyError
	text := ""
	if errors.As(err, &re) {
		text = re.text
	} else {
		text = "ERR " + err.Error()
	}
	text = strings.NewReplacer("\r", " ", "\n", " ").Replace(text)
	switch {
	case strings.HasPrefix(text, "CONS "):
		c.srv.stats.Inc(stats.ErrorsConsumer)
	case strings.HasPrefix(text, "PROD "):
		c.srv.stats.Inc(stats.ErrorsProducer)
	default:
		c.srv.stats.Inc(stats.ErrorsCommand)
	}
	c.conn.WriteError(text)
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
