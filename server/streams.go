package server

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/tidwall/redcon"

	"rafka/stats"
	"rafka/streams"
	"rafka/topicname"
)

// Redis Streams over Kafka (streams.md): a stream key is the topic of the
// same name, an entry a record, its ID (offset+1)-partition.

// streamTopic is the topic a stream key names.
func streamTopic(key []byte) (string, error) {
	if err := topicname.Check(string(key)); err != nil {
		return "", errf("stream key '%s' is not a Kafka topic name: %s", clip(string(key), 256), err)
	}
	return string(key), nil
}

// deliveryGrace is how long after shutdown closes the connections the
// commands that reply with what Kafka stored still wait for their delivery
// reports: the records are on their way (the producer's last flush waits
// for them), and a moment more turns errors for stored entries into their
// IDs, so that a client does not write them again.
const deliveryGrace = 2 * time.Second

// xaddTopic is the topic of a stream key, checked once for the XADDs of a
// connection that name the same one in a row: the same string, so that a
// pipeline of them allocates it once.
func (c *client) xaddTopic(key []byte) (*string, error) {
	if c.lastXAddTopic != nil && *c.lastXAddTopic == string(key) {
		return c.lastXAddTopic, nil
	}
	topic, err := streamTopic(key)
	if err != nil {
		return nil, err
	}
	c.lastXAddTopic = &topic
	return c.lastXAddTopic, nil
}

// XADD key [NOMKSTREAM] [MAXLEN|MINID [~] threshold [LIMIT count]] * field value [field value ...]
// produces the entry durably and replies with its ID once Kafka has it.
// The XADDs pipelined with it (what redcon read with it) are produced
// with it and their deliveries awaited together, one wait per run of
// XADDs, not one per entry; the other commands among them run in order.
func cmdXAdd(s *Server, c *client, args [][]byte) error {
	b := &c.xadd
	b.items = append(b.items, s.xaddItem(c, args))
	if next := c.conn.PeekPipeline(); len(next) > 0 && (!s.continuesXAdds(c, next[0].Args) || holdsMonitor(next)) {
		s.xaddBatch(c, false, false) // answered before the commands after it run
		return nil
	}
	cmds := c.conn.ReadPipeline()
	for {
		i := 0
		for ; i < len(cmds) && s.continuesXAdds(c, cmds[i].Args); i++ {
			if len(b.items) == maxXAddBatch {
				// One read can hold a great many XADDs (redcon's buffer
				// grows to a large command's size): produce them in
				// bounded batches, the replies of each queued.
				s.xaddBatch(c, false, true)
			}
			if s.monitors.active() {
				s.monitors.publish(c, cmds[i].Args)
			}
			b.items = append(b.items, s.xaddItem(c, cmds[i].Args))
		}
		s.noteXAdds(c, i)
		s.xaddBatch(c, i == len(cmds), false)
		cmds = cmds[i:]
		// The commands up to the next XADD run as the dispatcher runs
		// them (an XADD it would refuse among them); that XADD starts the
		// next run.
		for len(cmds) > 0 && !s.continuesXAdds(c, cmds[0].Args) {
			s.handle(c.conn, cmds[0])
			cmds = cmds[1:]
		}
		if len(cmds) == 0 {
			return nil
		}
	}
}

// xaddItem is one XADD of a batch: its record (an index into the batch's
// records), or the reply it gets without one (an error, or null for
// NOMKSTREAM of a missing stream).
type xaddItem struct {
	rec  int // -1: no record
	null bool
	err  error
}

// xaddScratch is the memory of a connection's XADD batches, kept from one
// to the next (connection goroutine only): a pipeline of XADDs allocates
// no record, header or reply slice once it has grown.
type xaddScratch struct {
	items   []xaddItem
	recs    []kafka.Message
	msgs    []*kafka.Message
	placed  []kafka.TopicPartition
	headers streams.RecordBuffer
	pairs   []streams.Pair // the entry being made
	// existing is the topic the batch's last record went to: it was seen
	// to exist (or was created) for this batch.
	existing *string
}

// maxXAddBatch bounds the XADDs of one batch, the memory of their records
// and replies.
const maxXAddBatch = 1024

// maxKeptItems bounds the batch memory a connection keeps between
// batches (a batch is what one socket read holds, some 30 XADDs of 100
// bytes): one long pipeline of large entries must not leave large slices
// behind on every idle connection.
const maxKeptItems = 128

// reset readies b for the next batch, keeping no reference to the last
// one's commands. placedFree says whether placed may be reused: it may
// not while delivery reports can still write into it.
func (b *xaddScratch) reset(placedFree bool) {
	if cap(b.items) > maxKeptItems || cap(b.recs) > maxKeptItems || cap(b.pairs) > maxKeptItems {
		*b = xaddScratch{}
		return
	}
	clear(b.items)
	b.items = b.items[:0]
	clear(b.recs)
	b.recs = b.recs[:0]
	clear(b.msgs)
	b.msgs = b.msgs[:0]
	if placedFree {
		b.placed = b.placed[:0]
	} else {
		b.placed = nil
	}
	b.headers.Reset() // pairs: prepareXAdd leaves them cleared
	b.existing = nil
}

func (s *Server) xaddItem(c *client, args [][]byte) xaddItem {
	rec, null, err := s.prepareXAdd(c, args)
	return xaddItem{rec: rec, null: null, err: err}
}

// holdsMonitor reports whether a pipeline holds MONITOR, which must reach
// redcon's own queue (it detaches the connection with what follows).
func holdsMonitor(cmds []redcon.Command) bool {
	for _, c := range cmds {
		if len(c.Args) > 0 && strings.EqualFold(string(c.Args[0]), "monitor") {
			return true
		}
	}
	return false
}

// noteXAdds does for the n XADDs a batch took from the pipeline what
// dispatch does for every command (MONITOR aside, which sees each as it is
// taken): the counters, and CLIENT LIST's last command and its time.
func (s *Server) noteXAdds(c *client, n int) {
	if n == 0 {
		return
	}
	s.stats.Add(stats.Commands, int64(n))
	cmd := s.commands["xadd"]
	cmd.calls.Add(int64(n))
	c.mu.Lock()
	c.lastCmd = cmd.name
	c.lastActive = time.Now()
	c.mu.Unlock()
}

// xaddBatch produces the records of the connection's batch (c.xadd) and
// writes each item's reply in order once all its deliveries came: its ID,
// its error, or null. mayQueue says no other command follows the batch in
// what redcon read: then, if the client's next bytes are already in the
// socket, the replies are queued instead (xaddreplies.go) and the next
// batch is read while this one is on its way. more says more XADDs of
// what redcon read follow it: its replies are queued, and the handler
// goes on with them.
func (s *Server) xaddBatch(c *client, mayQueue, more bool) {
	b := &c.xadd
	for i := range b.recs {
		b.msgs = append(b.msgs, &b.recs[i])
	}
	queue := more || mayQueue && c.nc != nil && c.nc.readable()
	q := queuedXAdd{items: b.items}
	if queue {
		q.items = slices.Clone(b.items)
		q.placed = make([]kafka.TopicPartition, len(b.msgs))
	} else {
		b.placed = slices.Grow(b.placed[:0], len(b.msgs))[:len(b.msgs)]
		clear(b.placed)
		q.placed = b.placed
		c.flush() // the replies before these go out first
	}
	if len(b.msgs) > 0 {
		// As the waits for its deliveries, a throttled Send ends as
		// deliveries come or with shutdown, not with the client going.
		q.sent = s.accountOf(c, true).Send(s.deliveries, b.msgs, q.placed)
	}
	if queue {
		b.reset(true) // b.placed was not given out
		s.queueXAdd(c, &q)
		return
	}
	s.writeQueuedXAdds(c)
	delivered := s.writeXAddReplies(c, &q)
	b.reset(delivered || len(b.msgs) == 0)
}

// prepareXAdd checks one XADD and makes its record in the connection's
// batch, returning its index (-1 for none: an error, or null for
// NOMKSTREAM of a missing stream).
func (s *Server) prepareXAdd(c *client, args [][]byte) (rec int, null bool, err error) {
	topicRef, err := c.xaddTopic(args[1])
	if err != nil {
		return -1, false, err
	}
	topic := *topicRef
	noMkStream := false
	i := 2
options:
	for ; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "nomkstream":
			noMkStream = true
		case "maxlen", "minid":
			// Trimming: Kafka's retention governs the topic, so an
			// approximate (~) trim is accepted and does nothing; an exact
			// one cannot be honoured and is refused.
			if i+2 >= len(args) || string(args[i+1]) != "~" {
				return -1, false, errExactTrim
			}
			i += 2
			if i+2 < len(args) && strings.EqualFold(string(args[i+1]), "limit") {
				if _, err := strconv.ParseUint(string(args[i+2]), 10, 63); err != nil {
					return -1, false, errNotInteger
				}
				i += 2
			}
		default:
			break options
		}
	}
	if i >= len(args) {
		return -1, false, errWrongArgs("xadd")
	}
	if string(args[i]) != "*" {
		return -1, false, errXAddID
	}
	fields := args[i+1:]
	if len(fields) == 0 || len(fields)%2 != 0 {
		return -1, false, errWrongArgs("xadd")
	}
	for j := 0; j < len(fields); j += 2 {
		if bytes.IndexByte(fields[j], 0) >= 0 {
			// A field name is a Kafka header key, which librdkafka takes
			// as a C string: it would be cut at the NUL (and could then
			// read as the mapping's marker).
			return -1, false, errXAddNULField
		}
	}
	if err := c.canProduce(args[1]); err != nil {
		return -1, false, err
	}
	b := &c.xadd
	exists := topicRef == b.existing // seen to exist for this batch already
	if !exists {
		if exists, err = s.topicExists(topic); err != nil {
			return -1, false, errf("%s", err)
		}
	}
	if !exists {
		if noMkStream {
			return -1, true, nil
		}
		if err := s.meta.createTopic(s.ctx, topic); err != nil {
			return -1, false, errf("%s", err)
		}
	}
	b.existing = topicRef
	pairs := b.pairs[:0]
	for j := 0; j+1 < len(fields); j += 2 {
		pairs = append(pairs, streams.Pair{Field: fields[j], Value: fields[j+1]})
	}
	b.recs = append(b.recs, kafka.Message{TopicPartition: kafka.TopicPartition{Topic: topicRef, Partition: kafka.PartitionAny}})
	rec = len(b.recs) - 1
	s.mapping.Record(&b.recs[rec], pairs, &b.headers)
	clear(pairs) // Record made the record; the pairs are read no more
	b.pairs = pairs[:0]
	return rec, false, nil
}

// XLEN key: the records the topic holds (the sum over its partitions of
// the latest minus the earliest offset); 0 for a missing topic.
func cmdXLen(s *Server, c *client, args [][]byte) error { return s.writeBacklog(c, args[1], "") }

// topicExists reports whether topic exists, by a topic list at most
// metadataMaxAge old (a fresh one when that says no).
func (s *Server) topicExists(topic string) (bool, error) {
	all, err := s.meta.snapshot(metadataMaxAge)
	if err != nil {
		return false, err
	}
	if _, ok := all[topic]; ok {
		return true, nil
	}
	if all, err = s.meta.snapshot(0); err != nil {
		return false, err
	}
	_, ok := all[topic]
	return ok, nil
}

// topicCreateTimeout bounds XADD's creation of a missing topic.
const topicCreateTimeout = 10 * time.Second

// maxStreamReadBytes bounds the records one command reads from Kafka
// (streams.ReadBudget): XRANGE and XREVRANGE refuse a range over it,
// XREAD and a history XREADGROUP return fewer entries than COUNT, XCLAIM
// and XAUTOCLAIM fewer than they claimed. Entries are read from Kafka into
// memory before the reply is written: without it, COUNT 10000 over four
// partitions of 1 MB records read 40 GB.
const maxStreamReadBytes = 64 << 20

// streamRangeMax bounds an XRANGE or XREVRANGE without COUNT: a range
// holding more entries is refused (give COUNT) rather than read whole.
const streamRangeMax = 10000

// streamEntry is one entry read back.
type streamEntry struct {
	id  streams.ID
	msg *kafka.Message
}

// XRANGE key start end [COUNT count]
func cmdXRange(s *Server, c *client, args [][]byte) error { return xrange(s, c, args, false) }

// XREVRANGE key end start [COUNT count]
func cmdXRevRange(s *Server, c *client, args [][]byte) error { return xrange(s, c, args, true) }

func xrange(s *Server, c *client, args [][]byte, reverse bool) error {
	if len(args) != 4 && len(args) != 6 {
		return errSyntax
	}
	lowArg, highArg := args[2], args[3]
	if reverse {
		lowArg, highArg = highArg, lowArg
	}
	start, err := streams.RangeBound(string(lowArg), true)
	if err != nil {
		return errf("%s", err)
	}
	end, err := streams.RangeBound(string(highArg), false)
	if err != nil {
		return errf("%s", err)
	}
	count, bounded := streamRangeMax+1, false
	if len(args) == 6 {
		if !strings.EqualFold(string(args[4]), "count") {
			return errSyntax
		}
		n, err := strconv.ParseInt(string(args[5]), 10, 64)
		if err != nil {
			return errNotInteger
		}
		count, bounded = int(min(max(n, 0), streamRangeMax)), true
	}
	topic, found, err := s.visibleTopic(c, args[1])
	if err != nil {
		return errf("%s", err)
	}
	if !found || count == 0 || end.Less(start) {
		c.conn.WriteArray(0)
		return nil
	}
	if c.user != nil && !c.user.CanConsume(topic) {
		return errNoPerm(c.userName(), "consume topic", topic)
	}
	ctx, done := c.block(s.ctx)
	defer done()
	entries, err := s.readRange(ctx, c.owner(), topic, start, end, count, reverse)
	if err != nil {
		return asReply(err)
	}
	if !bounded && len(entries) > streamRangeMax {
		return errf("the range holds more than %d entries: give COUNT", streamRangeMax)
	}
	s.writeEntries(c, entries)
	return nil
}

// readRange reads the entries of topic from start to end (both included),
// the first count in ID order (the last count, newest first, when reverse),
// in user's read turn.
func (s *Server) readRange(ctx context.Context, user, topic string, start, end streams.ID, count int, reverse bool) ([]streamEntry, error) {
	release, err := s.turns.take(ctx, user)
	if err != nil {
		return nil, err
	}
	defer release()
	low, high, err := s.meta.watermarks(ctx, topic)
	if err != nil {
		return nil, err
	}
	var entries []streamEntry
	budget := streams.NewReadBudget(maxStreamReadBytes)
	for p, hi := range high {
		from := max(low[p], streams.FirstOffset(p, start))
		to := min(hi-1, streams.LastOffset(p, end))
		if from > to {
			continue
		}
		read := s.reader.Read
		if reverse {
			read = s.reader.ReadBack
		}
		msgs, err := read(ctx, topic, p, from, to, count, budget)
		if err != nil {
			return nil, err
		}
		if budget.Spent() {
			return nil, errRangeTooBig
		}
		for _, m := range msgs {
			entries = append(entries, streamEntry{id: streams.IDOf(p, int64(m.TopicPartition.Offset)), msg: m})
		}
	}
	slices.SortFunc(entries, func(a, b streamEntry) int {
		if reverse {
			return b.id.Compare(a.id)
		}
		return a.id.Compare(b.id)
	})
	return entries[:min(len(entries), count)], nil
}

// writeEntries writes entries as Redis does: an array of [id, [field,
// value, ...]].
func (s *Server) writeEntries(c *client, entries []streamEntry) {
	c.conn.WriteArray(len(entries))
	for _, e := range entries {
		s.writeEntry(c, e)
	}
}

// writeEntry writes one entry: [id, [field, value, ...]], or [id, nil]
// for a pending entry whose record is gone.
func (s *Server) writeEntry(c *client, e streamEntry) {
	c.conn.WriteArray(2)
	c.conn.WriteBulkString(e.id.String())
	if e.msg == nil {
		c.writeNullArray()
		return
	}
	pairs := s.mapping.Entry(e.msg)
	c.conn.WriteArray(2 * len(pairs))
	for _, p := range pairs {
		c.conn.WriteBulk(p.Field)
		c.conn.WriteBulk(p.Value)
	}
}
