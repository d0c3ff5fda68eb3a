package server

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/arrowenc"
	"rafka/consumer"
	"rafka/stats"
)

// arrowOptions are ARROW.BLPOP's options after the timeout.
type arrowOptions struct {
	count       int
	maxBytes    int
	linger      time.Duration
	columns     string // comma-separated, "" for all
	compression arrowenc.Compression
	ack         bool
}

// Limits and defaults of ARROW.BLPOP (arrow.md section 2).
const (
	arrowDefaultCount    = 1000
	arrowMaxCount        = 1_000_000
	arrowDefaultMaxBytes = 4 << 20
	arrowDefaultLinger   = 5 * time.Millisecond
	// arrowMaxLinger bounds how long a reply may gather; its size is
	// bounded by the server's max batch bytes: a client cannot make the
	// server build a reply of any size.
	arrowMaxLinger = 10_000 // ms
)

// parseArrowOptions reads ARROW.BLPOP's options; maxBytes is the ceiling of
// MAXBYTES.
func parseArrowOptions(args [][]byte, maxBytes int) (arrowOptions, error) {
	o := arrowOptions{count: arrowDefaultCount, maxBytes: arrowDefaultMaxBytes, linger: arrowDefaultLinger, compression: arrowenc.CompressionNone}
	for i := 0; i < len(args); i++ {
		name := strings.ToUpper(string(args[i]))
		if name == "ACK" {
			o.ack = true
			continue
		}
		if i+1 >= len(args) {
			return o, errSyntax
		}
		val := string(args[i+1])
		i++
		switch name {
		case "COUNT":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > arrowMaxCount {
				return o, errf("COUNT must be an integer from 1 to %d", arrowMaxCount)
			}
			o.count = n
		case "MAXBYTES":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > maxBytes {
				return o, errf("MAXBYTES must be an integer from 1 to %d", maxBytes)
			}
			o.maxBytes = n
		case "LINGER":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > arrowMaxLinger {
				return o, errf("LINGER must be an integer of milliseconds from 0 to %d", arrowMaxLinger)
			}
			o.linger = time.Duration(n) * time.Millisecond
		case "COLUMNS":
			o.columns = val
		case "COMPRESSION":
			c, err := arrowenc.ParseCompression(strings.ToLower(val))
			if err != nil {
				return o, errf("%s", err)
			}
			o.compression = c
		default:
			return o, errSyntax
		}
	}
	return o, nil
}

// ARROW.BLPOP <key> [<key> ...] <timeout> [COUNT n] [MAXBYTES b] [LINGER ms]
// [COLUMNS c1,c2,...] [COMPRESSION none|lz4|zstd] [ACK]
// Replies with one Arrow IPC stream (schema, one batch, end) as a bulk
// string, or null on timeout. Keys, naming, timeout and errors are BLPOP's.
func cmdArrowBLPop(s *Server, c *client, args [][]byte) error {
	nkeys := 1
	for nkeys+1 < len(args) && bytes.HasPrefix(args[nkeys+1], topicsPrefix) {
		nkeys++
	}
	if nkeys+1 >= len(args) {
		return errWrongArgs("arrow.blpop")
	}
	req, err := parseBlock(c, args[1:nkeys+1], args[nkeys+1])
	if err != nil {
		return err
	}
	opts, err := parseArrowOptions(args[nkeys+2:], s.cfg.Settings.MaxBatchBytes)
	if err != nil {
		return err
	}
	enc, err := c.arrowEncoder(opts.columns)
	if err != nil {
		return err
	}
	cons, err := s.consumerFor(c, req)
	if err != nil {
		return err
	}
	c.lastBlock.remember(req)
	s.stats.Inc(stats.ArrowBlpopCalls)
	first, timedOut, err := s.pop(c, cons, req.timeout)
	if timedOut {
		s.stats.Inc(stats.ArrowBlpopTimeouts)
		c.writeNullBulk()
	}
	if first == nil {
		return err
	}
	msgs := collectBatch(s.ctx, cons, first, opts)
	if opts.ack {
		if msgs, err = s.ackHighest(cons, msgs); err != nil {
			return err
		}
	}
	for _, m := range msgs {
		enc.Append(m)
	}
	rec := enc.NewRecordBatch()
	defer rec.Release()
	c.arrowBuf.Reset()
	if err := arrowenc.WriteStream(&c.arrowBuf, s.cfg.allocator(), enc.Schema(), rec, opts.compression); err != nil {
		return errf("%s", err)
	}
	s.stats.Add(stats.ArrowBlpopRows, int64(len(msgs)))
	c.conn.WriteBulk(c.arrowBuf.Bytes())
	if c.arrowBuf.Cap() > 16<<20 {
		c.arrowBuf = bytes.Buffer{} // do not keep a huge buffer per connection
	}
	return nil
}

// collectBatch adds to first the messages that are already there or arrive
// within the linger, up to the count and byte limits. A row counts its
// Arrow size and the message held for it until the batch is written: by
// the Arrow size alone (41 bytes of an empty message) one MAXBYTES of 16
// MiB held 409k messages, some 200 MB.
func collectBatch(parent context.Context, cons *consumer.Consumer, first *kafka.Message, o arrowOptions) []*kafka.Message {
	rowBytes := func(m *kafka.Message) int { return arrowenc.RowBytes(m) + consumer.HeldBytes(m) }
	msgs := []*kafka.Message{first}
	size := rowBytes(first)
	deadline := time.Now().Add(o.linger)
	for len(msgs) < o.count && size < o.maxBytes {
		m, err := cons.TryPop()
		if m == nil && err == nil && time.Now().Before(deadline) {
			ctx, cancel := context.WithDeadline(parent, deadline)
			m, err = cons.Pop(ctx)
			cancel()
		}
		if m == nil || err != nil {
			break
		}
		msgs = append(msgs, m)
		size += rowBytes(m)
	}
	return msgs
}

// ackHighest acks, per partition, the highest offset among msgs, and
// returns the messages of the partitions it acked: a partition whose ack is
// refused (lost in a rebalance) is left out of the reply, unacked, for its
// new owner. Every acked message is returned, so none is lost; the error
// comes only when no partition could be acked.
func (s *Server) ackHighest(cons *consumer.Consumer, msgs []*kafka.Message) ([]*kafka.Message, error) {
	type tp struct {
		topic     string
		partition int32
	}
	high := map[tp]int64{}
	for _, m := range msgs {
		k := tp{*m.TopicPartition.Topic, m.TopicPartition.Partition}
		if o, seen := high[k]; !seen || int64(m.TopicPartition.Offset) > o {
			high[k] = int64(m.TopicPartition.Offset)
		}
	}
	refused := map[tp]bool{}
	var firstErr error
	for k, o := range high {
		err := cons.Ack(k.topic, k.partition, o)
		if err == nil {
			s.stats.Inc(stats.ConsumerAcks)
			continue
		}
		s.stats.Inc(stats.ConsumerAckErrors)
		refused[k] = true
		if firstErr == nil {
			switch {
			case errors.Is(err, consumer.ErrNotAssigned):
				firstErr = errNotAssigned(k.topic, k.partition)
			case errors.Is(err, consumer.ErrClosed):
				firstErr = errServerShutdown
			default:
				firstErr = consErr("%s", err)
			}
		}
	}
	if len(refused) == 0 {
		return msgs, nil
	}
	if len(refused) == len(high) {
		return nil, firstErr
	}
	kept := msgs[:0]
	for _, m := range msgs {
		if !refused[tp{*m.TopicPartition.Topic, m.TopicPartition.Partition}] {
			kept = append(kept, m)
		}
	}
	return kept, nil
}

// arrowEncoder returns the connection's encoder for the columns (all when
// empty), reusing it while the columns stay the same.
func (c *client) arrowEncoder(columns string) (*arrowenc.Encoder, error) {
	if c.arrowEnc != nil && c.arrowCols == columns {
		return c.arrowEnc, nil
	}
	var cols []string
	if columns != "" {
		cols = strings.Split(columns, ",")
	}
	schema, err := arrowenc.Schema(cols, c.srv.cfg.Version)
	if err != nil {
		return nil, errf("%s", err)
	}
	if c.arrowEnc != nil {
		c.arrowEnc.Release()
	}
	c.arrowEnc = arrowenc.NewEncoder(c.srv.cfg.allocator(), schema)
	c.arrowCols = columns
	return c.arrowEnc, nil
}
