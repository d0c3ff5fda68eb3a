package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/config"
)

// readerPoolSize is how many librdkafka consumers the reads share; a read
// holds one for its duration, at most readTimeout.
const (
	readerPoolSize = 2
	readTimeout    = 10 * time.Second
)

// readerForced make the readers assign-only consumers that never commit:
// they read partitions by offset and stop at a partition's end.
var readerForced = config.Properties{
	"group.id":                 "rafka-stream-reader",
	"enable.auto.commit":       "false",
	"enable.auto.offset.store": "false",
	"enable.partition.eof":     "true",
	// A read ends at a partition's end: a fetch waiting there for new
	// records (librdkafka's 500 ms) would only hold up the next read.
	"fetch.wait.max.ms": "10",
}

// Reader reads a partition's records by offset (XRANGE, XREVRANGE), on a
// small pool of consumers made on first use. Its methods are safe for
// concurrent use.
type Reader struct {
	props config.Properties
	pool  chan *kafka.Consumer // nil entries: not made yet
}

// NewReader is the reader of consumers configured with props (the
// server's consumer properties).
func NewReader(props config.Properties) *Reader {
	p := props.Clone()
	for k, v := range readerForced {
		p[k] = v
	}
	r := &Reader{props: p, pool: make(chan *kafka.Consumer, readerPoolSize)}
	for range readerPoolSize {
		r.pool <- nil
	}
	return r
}

// errReaderClosed is the answer to reads after Close.
var errReaderClosed = errors.New("stream reader closed")

// ReadBudget is the bytes the records one command reads may take: a read
// stops once it is spent. Each read still returns its first record, so
// that a command reading several partitions makes progress. Not safe for
// concurrent use.
type ReadBudget struct{ left int64 }

// NewReadBudget is a budget of n bytes.
func NewReadBudget(n int64) *ReadBudget { return &ReadBudget{left: n} }

// Spent reports whether the budget is used up.
func (b *ReadBudget) Spent() bool { return b.left <= 0 }

// Left is what the budget still allows, in bytes (0 once spent).
func (b *ReadBudget) Left() int64 { return max(b.left, 0) }

// recordOverhead is what a record read costs besides its key, value and
// headers (the kafka.Message and its TopicPartition), and headerOverhead
// what each header costs besides its bytes.
const (
	recordOverhead = 256
	headerOverhead = 48
)

func (b *ReadBudget) take(m *kafka.Message) {
	n := int64(len(m.Key)+len(m.Value)) + recordOverhead
	for _, h := range m.Headers {
		n += int64(len(h.Key)+len(h.Value)) + headerOverhead
	}
	b.left -= n
}

// Read returns the records of partition from offset from to offset to
// (both included), in offset order, at most limit of them, and no more
// once budget is spent (but at least the first). Offsets without a record
// (a transaction's marker, a compacted record) are skipped.
func (r *Reader) Read(ctx context.Context, topic string, partition int32, from, to int64, limit int, budget *ReadBudget) ([]*kafka.Message, error) {
	if from > to || limit <= 0 {
		return nil, nil
	}
	// A partition that cannot be read (no leader) must not hold one of
	// the shared consumers for longer than this.
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	var c *kafka.Consumer
	select {
	case c = <-r.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { r.pool <- c }()
	if c == nil {
		var err error
		if c, err = kafka.NewConsumer(r.props.ConfigMap()); err != nil {
			return nil, fmt.Errorf("create stream reader: %w", err)
		}
	}
	if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: partition, Offset: kafka.Offset(from)}}); err != nil {
		return nil, fmt.Errorf("assign %s:%d: %w", topic, partition, err)
	}
	defer func() { _ = c.Unassign() }()
	var out []*kafka.Message
	for len(out) < limit && (len(out) == 0 || !budget.Spent()) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Partition != partition || *e.TopicPartition.Topic != topic {
				continue // left from an earlier read's assignment
			}
			off := int64(e.TopicPartition.Offset)
			if off < from {
				continue
			}
			if off > to {
				return out, nil
			}
			out = append(out, e)
			budget.take(e)
			if off == to {
				return out, nil
			}
		case kafka.PartitionEOF:
			if e.Partition == partition && e.Topic != nil && *e.Topic == topic && int64(e.Offset) > from {
				return out, nil
			}
		case kafka.Error:
			if e.IsFatal() {
				return nil, fmt.Errorf("read %s:%d: %w", topic, partition, e)
			}
		}
	}
	return out, nil
}

// ReadBack returns the last records of partition at or before offset to
// and at or after from, at most limit, in offset order: windows ending at
// to, each twice as long as the last, until enough records or from is
// reached. Every window read counts against budget; once it is spent the
// records are not the last ones, and the caller must not use them.
func (r *Reader) ReadBack(ctx context.Context, topic string, partition int32, from, to int64, limit int, budget *ReadBudget) ([]*kafka.Message, error) {
	if from > to || limit <= 0 {
		return nil, nil
	}
	for window := int64(limit); ; window *= 2 {
		start := max(from, to-window+1)
		msgs, err := r.Read(ctx, topic, partition, start, to, int(to-start+1), budget)
		if err != nil {
			return nil, err
		}
		if len(msgs) >= limit || start == from || budget.Spent() {
			return msgs[len(msgs)-min(len(msgs), limit):], nil
		}
		if window > 1<<40 {
			return msgs, nil
		}
	}
}

// Close closes the consumers, waiting up to timeout for reads in progress.
func (r *Reader) Close(timeout time.Duration) {
	deadline := time.After(timeout)
	for range readerPoolSize {
		select {
		case c := <-r.pool:
			if c != nil {
				_ = c.Close()
			}
		case <-deadline:
			return
		}
	}
}
