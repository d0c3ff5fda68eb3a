package server

import (
	"slices"
	"strconv"
	"strings"
)

// HGETALL stats: every counter, as field/value pairs (RESP3: a map).
func cmdHGetAll(s *Server, c *client, args [][]byte) error {
	if !strings.EqualFold(string(args[1]), "stats") {
		return errExpectedStats(string(args[1]))
	}
	fields := s.stats.Snapshot()
	c.writeMapHeader(len(fields))
	var num [20]byte
	for _, f := range fields {
		c.conn.WriteBulkString(f.Name)
		c.conn.WriteBulk(strconv.AppendInt(num[:0], f.Value, 10))
	}
	return nil
}

// DEL stats resets the counters (gauges keep their values); DEL of keys
// none of which is stats removes lock keys.
func cmdDel(s *Server, c *client, args [][]byte) error {
	if !slices.ContainsFunc(args[1:], isStatsKey) {
		delLocks(s, c, args[1:])
		return nil
	}
	for _, key := range args[1:] {
		if !isStatsKey(key) {
			return errExpectedStats(string(key))
		}
	}
	if err := c.adminOnly("DEL stats"); err != nil {
		return err
	}
	s.stats.Reset()
	c.conn.WriteInt(1)
	return nil
}

func isStatsKey(key []byte) bool { return strings.EqualFold(string(key), "stats") }
