package server

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"rafka/streams"
)

// XREAD's tailing: a client that loops passing back the last ID it got
// must see every new record of every partition once, but a record of a
// partition that lags can have a smaller ID than one already returned. So
// a connection keeps, per stream, the partitions' next offsets after what
// it last returned, and an XREAD from exactly that ID resumes there.

// xreadMemory bounds the streams a connection keeps positions for.
const xreadMemory = 64

// xreadPoll is how often a blocked XREAD looks at the partitions' ends
// (from a list shared by the connections, at most that old).
const xreadPoll = 100 * time.Millisecond

// xreadPosition is where a connection's XREAD of one stream stopped.
type xreadPosition struct {
	last streams.ID      // the last ID returned
	next map[int32]int64 // per partition, the next offset to read
}

// xreadStream is one stream of an XREAD being served.
type xreadStream struct {
	key     string
	next    map[int32]int64
	entries []streamEntry
}

// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
func cmdXRead(s *Server, c *client, args [][]byte) error {
	count, block, blocking := streamRangeMax, time.Duration(0), false
	i := 1
	for ; i < len(args); i++ {
		opt := strings.ToLower(string(args[i]))
		if opt == "streams" {
			break
		}
		if i+1 >= len(args) {
			return errSyntax
		}
		n, err := strconv.ParseInt(string(args[i+1]), 10, 64)
		switch opt {
		case "count":
			if err != nil {
				return errNotInteger
			}
			count = int(min(max(n, 1), streamRangeMax))
		case "block":
			if err != nil || n < 0 {
				return errf("timeout is not an integer or out of range")
			}
			block, blocking = time.Duration(min(n, math.MaxInt64/int64(time.Millisecond)))*time.Millisecond, true
		default:
			return errSyntax
		}
		i++
	}
	rest := args[min(i+1, len(args)):]
	if i >= len(args) || len(rest) == 0 || len(rest)%2 != 0 {
		return errf("Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.")
	}
	keys, ids := rest[:len(rest)/2], rest[len(rest)/2:]
	if len(keys) > maxReadStreams {
		return errf("XREAD reads at most %d streams at once here", maxReadStreams)
	}
	ctx, done := c.block(s.ctx)
	defer done()
	reads := make([]*xreadStream, 0, len(keys))
	for j, key := range keys {
		topic, err := streamTopic(key)
		if err != nil {
			return err
		}
		if c.user != nil && !c.user.CanConsume(topic) {
			return errNoPerm(c.userName(), "consume topic", topic)
		}
		next, err := s.xreadStart(ctx, c, topic, string(ids[j]))
		if err != nil {
			return err
		}
		reads = append(reads, &xreadStream{key: topic, next: next})
	}
	deadline := time.Now().Add(block)
	first := true
	for {
		got, err := s.xreadOnce(ctx, c.owner(), reads, count)
		if err != nil {
			return errf("%s", err)
		}
		if got {
			break
		}
		if !blocking || (block > 0 && time.Now().After(deadline)) {
			c.writeNullArray()
			return nil
		}
		if first {
			s.blocked.Add(1)
			defer s.blocked.Add(-1)
			first = false
		}
		select {
		case <-ctx.Done():
			if s.shuttingDown.Load() {
				return errServerShutdown
			}
			return nil // the client is gone
		case <-time.After(xreadPoll):
		}
	}
	s.writeXRead(c, reads)
	return nil
}

// xreadStart is where XREAD of topic from the ID argument starts, per
// partition: after the connection's last return when the ID is the last
// one it got, the ends now for $, else the first offsets after the ID.
func (s *Server) xreadStart(ctx context.Context, c *client, topic, idArg string) (map[int32]int64, error) {
	low, high, err := s.meta.watermarks(ctx, topic)
	if err != nil {
		if _, missing := s.meta.partitions(topic); missing != nil {
			return map[int32]int64{}, nil // no stream yet: nothing to read
		}
		return nil, errf("%s", err)
	}
	if idArg == "$" {
		return high, nil
	}
	id, err := streams.ParseID(idArg, 0)
	if err != nil {
		return nil, errf("%s", err)
	}
	if pos, ok := c.xread[topic]; ok && pos.last == id {
		next := make(map[int32]int64, len(high))
		for p := range high {
			next[p] = max(pos.next[p], low[p])
		}
		return next, nil
	}
	after, ok := id.Next()
	if !ok {
		return map[int32]int64{}, nil // nothing comes after the largest ID
	}
	next := make(map[int32]int64, len(high))
	for p := range high {
		next[p] = max(low[p], streams.FirstOffset(p, after))
	}
	return next, nil
}

// xreadOnce reads what each stream holds past its positions, the first
// count entries of each in ID order, and reports whether any had one. The
// records read are bounded by maxStreamReadBytes: past it each partition
// gives only its next record, and a stream's entries end before the first
// one a partition cut short may still hold (so they are the first in ID
// order, and the next XREAD goes on from them). It reads in user's read
// turn.
func (s *Server) xreadOnce(ctx context.Context, user string, reads []*xreadStream, count int) (bool, error) {
	release, err := s.turns.take(ctx, user)
	if err != nil {
		return false, err
	}
	defer release()
	got := false
	budget := streams.NewReadBudget(maxStreamReadBytes)
	for _, r := range reads {
		if len(r.next) == 0 {
			continue
		}
		_, high, err := s.meta.watermarksShared(ctx, r.key)
		if err != nil {
			return false, err
		}
		var entries []streamEntry
		var cutoff streams.ID // the last entry of the partition cut shortest
		cut := false
		for p, hi := range high {
			from, ok := r.next[p]
			if !ok || from >= hi {
				continue
			}
			msgs, err := s.reader.Read(ctx, r.key, p, from, hi-1, count, budget)
			if err != nil {
				return false, err
			}
			for _, m := range msgs {
				entries = append(entries, streamEntry{id: streams.IDOf(p, int64(m.TopicPartition.Offset)), msg: m})
			}
			if n := len(msgs); n > 0 && int64(msgs[n-1].TopicPartition.Offset) < hi-1 {
				// The partition may hold more: no entry after its last may
				// be returned before those.
				last := streams.IDOf(p, int64(msgs[n-1].TopicPartition.Offset))
				if !cut || last.Less(cutoff) {
					cutoff, cut = last, true
				}
			}
		}
		if cut {
			entries = slices.DeleteFunc(entries, func(e streamEntry) bool { return cutoff.Less(e.id) })
		}
		slices.SortFunc(entries, func(a, b streamEntry) int { return a.id.Compare(b.id) })
		r.entries = entries[:min(len(entries), count)]
		for _, e := range r.entries {
			p, o, _ := e.id.Record()
			r.next[p] = o + 1
		}
		got = got || len(r.entries) > 0
	}
	return got, nil
}

// writeXRead writes the streams that have entries and remembers where
// each stopped.
func (s *Server) writeXRead(c *client, reads []*xreadStream) {
	s.writeXReadStreams(c, reads)
	for _, r := range reads {
		if len(r.entries) > 0 {
			c.rememberXRead(r.key, xreadPosition{last: r.entries[len(r.entries)-1].id, next: r.next})
		}
	}
}

// writeXReadStreams writes the streams that have entries, as XREAD and
// XREADGROUP reply: RESP3 a map of key to entries, RESP2 an array of [key,
// entries].
func (s *Server) writeXReadStreams(c *client, reads []*xreadStream) { s.writeStreams(c, reads, false) }

// writeXReadAll writes every stream, those without entries too (a history
// XREADGROUP).
func (s *Server) writeXReadAll(c *client, reads []*xreadStream) { s.writeStreams(c, reads, true) }

func (s *Server) writeStreams(c *client, reads []*xreadStream, all bool) {
	n := 0
	for _, r := range reads {
		if all || len(r.entries) > 0 {
			n++
		}
	}
	if c.resp3.Load() {
		c.writeMapHeader(n)
	} else {
		c.conn.WriteArray(n)
	}
	for _, r := range reads {
		if !all && len(r.entries) == 0 {
			continue
		}
		if !c.resp3.Load() {
			c.conn.WriteArray(2)
		}
		c.conn.WriteBulkString(r.key)
		s.writeEntries(c, r.entries)
	}
}

// rememberXRead keeps where XREAD of key stopped, for at most xreadMemory
// streams.
func (c *client) rememberXRead(key string, pos xreadPosition) {
	if c.xread == nil {
		c.xread = map[string]xreadPosition{}
	}
	if _, ok := c.xread[key]; !ok && len(c.xread) >= xreadMemory {
		for k := range c.xread { // forget one
			delete(c.xread, k)
			break
		}
	}
	c.xread[key] = pos
}
