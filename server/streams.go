package server

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

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

// XADD key [NOMKSTREAM] [MAXLEN|MINID [~] threshold [LIMIT count]] * field value [field value ...]
// produces the entry durably and replies with its ID once Kafka has it.
func cmdXAdd(s *Server, c *client, args [][]byte) error {
	topic, err := streamTopic(args[1])
	if err != nil {
		return err
	}
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
				return errExactTrim
			}
			i += 2
			if i+2 < len(args) && strings.EqualFold(string(args[i+1]), "limit") {
				if _, err := strconv.ParseUint(string(args[i+2]), 10, 63); err != nil {
					return errNotInteger
				}
				i += 2
			}
		default:
			break options
		}
	}
	if i >= len(args) {
		return errWrongArgs("xadd")
	}
	if string(args[i]) != "*" {
		return errXAddID
	}
	fields := args[i+1:]
	if len(fields) == 0 || len(fields)%2 != 0 {
		return errWrongArgs("xadd")
	}
	if err := c.canProduce([]byte(topic)); err != nil {
		return err
	}
	exists, err := s.topicExists(topic)
	if err != nil {
		return errf("%s", err)
	}
	if !exists {
		if noMkStream {
			c.writeNullBulk()
			return nil
		}
		if err := s.meta.createTopic(s.ctx, topic); err != nil {
			return errf("%s", err)
		}
	}
	pairs := make([]streams.Pair, len(fields)/2)
	for j := range pairs {
		pairs[j] = streams.Pair{Field: fields[2*j], Value: fields[2*j+1]}
	}
	msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}}
	s.mapping.Record(msg, pairs)
	a := s.accountOf(c)
	ctx, done := c.block(s.ctx)
	defer done()
	placed := make([]kafka.TopicPartition, 1)
	if _, err := a.SendAndPlace(ctx, []*kafka.Message{msg}, placed); err != nil {
		return errProduce(err)
	}
	c.conn.WriteBulkString(streams.IDOf(placed[0].Partition, int64(placed[0].Offset)).String())
	return nil
}

// XLEN key: the records the topic holds (the sum over its partitions of
// the latest minus the earliest offset); 0 for a missing topic.
func cmdXLen(s *Server, c *client, args [][]byte) error {
	name, found, err := s.visibleTopic(c, args[1])
	if err != nil {
		return errf("%s", err)
	}
	if !found {
		c.conn.WriteInt(0)
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, keyspaceTimeout)
	defer cancel()
	n, err := s.meta.backlog(ctx, name, "")
	if err != nil {
		return errf("%s", err)
	}
	c.conn.WriteInt64(n)
	return nil
}

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
	entries, err := s.readRange(ctx, topic, start, end, count, reverse)
	if err != nil {
		return errf("%s", err)
	}
	if !bounded && len(entries) > streamRangeMax {
		return errf("the range holds more than %d entries: give COUNT", streamRangeMax)
	}
	s.writeEntries(c, entries)
	return nil
}

// readRange reads the entries of topic from start to end (both included),
// the first count in ID order (the last count, newest first, when reverse).
func (s *Server) readRange(ctx context.Context, topic string, start, end streams.ID, count int, reverse bool) ([]streamEntry, error) {
	low, high, err := s.meta.watermarks(ctx, topic)
	if err != nil {
		return nil, err
	}
	var entries []streamEntry
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
		msgs, err := read(ctx, topic, p, from, to, count)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			entries = append(entries, streamEntry{id: streams.IDOf(p, int64(m.TopicPartition.Offset)), msg: m})
		}
	}
	slices.SortFunc(entries, func(a, b streamEntry) int {
		switch {
		case a.id == b.id:
			return 0
		case a.id.Less(b.id) != reverse:
			return -1
		default:
			return 1
		}
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
