// Package consumer is a connection's Kafka group consumer: it subscribes,
// polls in the background into a small bounded buffer, hands messages to
// BLPOP, stores acknowledged offsets and closes cleanly.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
)

// Buffer bounds: once this much is waiting for the client, the poll loop
// stops polling until half of it has been taken, and if that takes longer
// than pauseGrace it pauses fetching (and polls on) until it has.
const (
	bufferMessages = 2000
	bufferBytes    = 512 << 10
	pollTimeoutMs  = 100
	// pauseGrace is how long a full buffer may wait for a reader before
	// fetching is paused. Pausing drops librdkafka's prefetched messages
	// (up to queued.max.messages.kbytes) and fetches them again on resume:
	// a reader taking big batches (ARROW.BLPOP COUNT 1000) would otherwise
	// cause a pause and a re-fetch every batch. While the loop waits,
	// librdkafka's own prefetch stays within its bounds, and rebalance
	// callbacks wait at most this long.
	pauseGrace = 200 * time.Millisecond
	// messageOverhead is what a buffered message costs beyond its key and
	// value (the Go message and its fields), counted against bufferBytes.
	messageOverhead = 200
)

// ErrClosed is returned by Pop and Ack once the consumer is closing.
var ErrClosed = errors.New("consumer closed")

// ErrNotAssigned is returned by Ack for a partition this consumer does not
// own (any more).
var ErrNotAssigned = errors.New("partition not assigned")

// FatalError is a consumer error librdkafka reports as fatal; Pop returns it.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// Config describes one consumer.
type Config struct {
	// Properties are the librdkafka properties, group.id and client.id
	// included.
	Properties config.Properties
	// Topics are the subscribed topics.
	Topics []string
	// Stats receives the consumer's counters.
	Stats *stats.Stats
	// Log is the connection's logger.
	Log zerolog.Logger
}

// partitionKey names a topic partition.
type partitionKey struct {
	topic     string
	partition int32
}

// Consumer is one librdkafka group consumer owned by one connection. A
// background goroutine polls it; Pop, Ack and Close may be called from any
// goroutine.
type Consumer struct {
	kc     *kafka.Consumer
	topics []string
	stats  *stats.Stats
	lag    *stats.ConsumerLag // from librdkafka's statistics events
	log    zerolog.Logger

	cancel context.CancelFunc
	done   chan struct{} // closed when the poll loop has returned
	notify chan struct{} // signalled when a message is buffered
	room   chan struct{} // signalled when a full buffer is half empty again

	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	buf      []*kafka.Message // received, not yet popped, in order
	bufBytes int
	paused   bool
	assigned map[partitionKey]bool
	epochs   map[partitionKey]uint64 // how many times each partition was assigned

	acked  map[partitionKey]kafka.Offset // highest stored offset (ack+1)
	fatal  error
	closed bool
}

// New creates the consumer, subscribes it to cfg.Topics and starts polling.
func New(cfg Config) (*Consumer, error) {
	kc, err := kafka.NewConsumer(cfg.Properties.ConfigMap())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{
		kc:       kc,
		topics:   cfg.Topics,
		stats:    cfg.Stats,
		lag:      cfg.Stats.NewConsumerLag(cfg.Properties["group.id"]),
		log:      cfg.Log,
		cancel:   cancel,
		done:     make(chan struct{}),
		notify:   make(chan struct{}, 1),
		room:     make(chan struct{}, 1),
		assigned: map[partitionKey]bool{},
		epochs:   map[partitionKey]uint64{},
		acked:    map[partitionKey]kafka.Offset{},
	}
	if err := kc.SubscribeTopics(cfg.Topics, c.rebalance); err != nil {
		cancel()
		kc.Close()
		return nil, fmt.Errorf("subscribe to %v: %w", cfg.Topics, err)
	}
	c.stats.Inc(stats.ConsumersCreated)
	c.stats.Inc(stats.ConsumersCurrent)
	go c.poll(ctx)
	return c, nil
}

// Validate creates and closes a throwaway consumer, so that a bad property
// fails at start-up with librdkafka's own message.
func Validate(props config.Properties) error {
	p := props.Clone()
	if p["group.id"] == "" {
		p["group.id"] = "rafka-config-check"
	}
	kc, err := kafka.NewConsumer(p.ConfigMap())
	if err != nil {
		return err
	}
	return kc.Close()
}

// Topics returns the subscribed topics.
func (c *Consumer) Topics() []string { return c.topics }

// poll is the consumer's only poller: it buffers messages, serves rebalance
// callbacks and records fatal errors, until ctx is cancelled.
func (c *Consumer) poll(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		switch e := c.kc.Poll(pollTimeoutMs).(type) {
		case nil:
		case *kafka.Message:
			if c.buffer(e) {
				c.awaitRoom(ctx)
			}
		case kafka.Error:
			if e.IsFatal() {
				c.log.Error().Err(e).Msg("fatal consumer error")
				c.mu.Lock()
				c.fatal = &FatalError{Err: e}
				c.mu.Unlock()
				c.signal()
				return
			}
			c.log.Info().Err(e).Msg("consumer error (polling goes on)")
		case *kafka.Stats:
			c.reportLag(e)
		default:
			c.log.Debug().Str("event", e.String()).Msg("consumer event")
		}
	}
}

// reportLag exports the lags of the partitions this consumer owns from a
// statistics event (statistics.interval.ms): librdkafka also lists the
// partitions of the subscribed topics that other members own.
func (c *Consumer) reportLag(ev *kafka.Stats) {
	lags, err := stats.ParseConsumerLag(ev.String())
	if err != nil {
		c.log.Debug().Err(err).Msg("consumer statistics")
		return
	}
	c.mu.Lock()
	owned := lags[:0]
	for _, l := range lags {
		if c.assigned[partitionKey{topic: l.Topic, partition: l.Partition}] {
			owned = append(owned, l)
		}
	}
	c.mu.Unlock()
	c.lag.Update(owned)
}

// buffer appends m for Pop and reports whether the buffer is now full (and
// fetching not paused yet).
func (c *Consumer) buffer(m *kafka.Message) (full bool) {
	c.mu.Lock()
	if !c.assigned[keyOf(m)] {
		// Revoked while librdkafka still held it: its new owner gets it.
		c.mu.Unlock()
		return false
	}
	c.buf = append(c.buf, m)
	c.bufBytes += messageSize(m)
	full = !c.paused && c.fullLocked()
	c.mu.Unlock()
	c.signal()
	return full
}

func (c *Consumer) fullLocked() bool {
	return len(c.buf) >= bufferMessages || c.bufBytes >= bufferBytes
}

func (c *Consumer) halfEmptyLocked() bool {
	return len(c.buf) <= bufferMessages/2 && c.bufBytes <= bufferBytes/2
}

// awaitRoom waits, without polling, up to pauseGrace for a reader to take
// half of the full buffer; if none does, it pauses fetching.
func (c *Consumer) awaitRoom(ctx context.Context) {
	select { // a token left from an earlier wait
	case <-c.room:
	default:
	}
	c.mu.Lock()
	if c.halfEmptyLocked() {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	t := time.NewTimer(pauseGrace)
	defer t.Stop()
	select {
	case <-c.room:
		return
	case <-ctx.Done():
		return
	case <-t.C:
	}
	c.mu.Lock()
	if !c.paused && !c.closed && !c.halfEmptyLocked() {
		c.setPausedLocked(true)
	}
	c.mu.Unlock()
}

func (c *Consumer) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// setPausedLocked pauses or resumes fetching of every assigned partition.
// Pausing drops librdkafka's prefetched messages; resuming fetches again
// from the position after the last message handed to the buffer.
func (c *Consumer) setPausedLocked(pause bool) {
	c.paused = pause
	parts := c.assignedListLocked()
	if len(parts) == 0 {
		return
	}
	if pause {
		c.stats.Inc(stats.ConsumerFetchPauses)
		if err := c.kc.Pause(parts); err != nil {
			c.log.Warn().Err(err).Msg("pause partitions")
		}
		return
	}
	if err := c.kc.Resume(parts); err != nil {
		c.log.Warn().Err(err).Msg("resume partitions")
		return
	}
	// A resumed partition waits for librdkafka's idle broker thread to wake
	// (up to a second). Seeking to the current position starts the fetch at
	// once, from just after the last message handed to the buffer.
	pos, err := c.kc.Position(parts)
	if err != nil {
		return
	}
	for _, tp := range pos {
		if tp.Offset >= 0 {
			if err := c.kc.Seek(tp, 0); err != nil {
				c.log.Debug().Err(err).Msg("seek resumed partition")
			}
		}
	}
}

func (c *Consumer) assignedListLocked() []kafka.TopicPartition {
	parts := make([]kafka.TopicPartition, 0, len(c.assigned))
	for k := range c.assigned {
		topic := k.topic
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: k.partition})
	}
	return parts
}

// headerOverhead is what each header of a message costs beyond its key
// and value.
const headerOverhead = 48

// messageSize is what a buffered message counts against bufferBytes.
func messageSize(m *kafka.Message) int {
	n := len(m.Value) + len(m.Key) + messageOverhead
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + headerOverhead
	}
	return n
}

// HeldBytes is what a message popped from a consumer costs while it is
// held: its key, value and headers, and the Go message with its fields.
func HeldBytes(m *kafka.Message) int { return messageSize(m) }

func keyOf(m *kafka.Message) partitionKey {
	return partitionKey{topic: *m.TopicPartition.Topic, partition: m.TopicPartition.Partition}
}

// Pop returns the next message, waiting until one arrives or ctx is done
// (then it returns ctx's error). After a fatal error it returns a
// *FatalError; after Close, ErrClosed.
func (c *Consumer) Pop(ctx context.Context) (*kafka.Message, error) {
	for {
		m, err := c.TryPop()
		if m != nil || err != nil {
			return m, err
		}
		select {
		case <-c.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
			// The loop ended (closing or fatal): report that once the
			// buffer cannot change any more.
			if m, err := c.TryPop(); m != nil || err != nil {
				return m, err
			}
			return nil, ErrClosed
		}
	}
}

// TryPop returns the next buffered message, or nil when none is waiting.
func (c *Consumer) TryPop() (*kafka.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if len(c.buf) == 0 {
		if c.fatal != nil {
			return nil, c.fatal
		}
		return nil, nil
	}
	m := c.buf[0]
	c.buf[0] = nil
	c.buf = c.buf[1:]
	c.bufBytes -= messageSize(m)
	if len(c.buf) == 0 {
		c.buf = c.buf[:0:0] // let the backing array go
	}
	if c.halfEmptyLocked() {
		if c.paused {
			c.setPausedLocked(false)
		}
		select { // the poll loop may be waiting for this
		case c.room <- struct{}{}:
		default:
		}
	}
	c.stats.Inc(stats.ConsumerMessages)
	c.stats.Add(stats.ConsumerBytes, int64(len(m.Value)))
	return m, nil
}

// Ack stores offset+1 for the partition, to be committed by librdkafka's
// auto-commit and on Close. An ack never moves a partition's stored offset
// backwards; an ack for a partition this consumer does not own returns
// ErrNotAssigned.
func (c *Consumer) Ack(topic string, partition int32, offset int64) error {
	if errs := c.AckAll([]Ack{{Topic: topic, Partition: partition, Offset: offset}}); errs != nil {
		return errs[0]
	}
	return nil
}

// Assigned reports whether the consumer owns the partition now, and its
// assignment epoch: how many times it was assigned, so that a caller can
// tell a partition it kept from one that left and came back.
func (c *Consumer) Assigned(topic string, partition int32) (epoch uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := partitionKey{topic: topic, partition: partition}
	return c.epochs[k], c.assigned[k]
}

// WaitReady waits until a message is buffered, ctx ends or the consumer
// stops; it pops nothing (Pop's caller may pop under a lock of its own).
func (c *Consumer) WaitReady(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, closed, fatal := len(c.buf), c.closed, c.fatal
		c.mu.Unlock()
		switch {
		case n > 0:
			c.signal() // another waiter may take what this one leaves
			return nil
		case closed:
			return ErrClosed
		case fatal != nil:
			return fatal
		}
		select {
		case <-c.notify:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			if c.bufferedLen() == 0 {
				return ErrClosed
			}
		}
	}
}

func (c *Consumer) bufferedLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

// Ack is one acknowledgement: the message at Offset of the partition.
type Ack struct {
	Topic     string
	Partition int32
	Offset    int64
}

// AckAll applies every ack as Ack does, with one call into librdkafka for
// all of them (the highest offset of each partition is stored). It returns
// nil when every ack holds, else each ack's error (nil for those that hold).
func (c *Consumer) AckAll(acks []Ack) []error {
	var errs []error
	fail := func(i int, err error) {
		if errs == nil {
			errs = make([]error, len(acks))
		}
		errs[i] = err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		for i := range acks {
			fail(i, ErrClosed)
		}
		return errs
	}
	// store holds one entry per partition to move, index finds it (for
	// more than a few partitions: one command may carry a million acks);
	// slot[i] is ack i's.
	var store []kafka.TopicPartition
	var index map[partitionKey]int
	slot := make([]int, len(acks))
	for i, a := range acks {
		slot[i] = -1
		k := partitionKey{topic: a.Topic, partition: a.Partition}
		if !c.assigned[k] {
			fail(i, ErrNotAssigned)
			continue
		}
		next := kafka.Offset(a.Offset + 1)
		if prev, ok := c.acked[k]; ok && next <= prev {
			continue // covered by an earlier ack
		}
		j := -1
		if index != nil {
			if at, ok := index[k]; ok {
				j = at
			}
		} else {
			j = slices.IndexFunc(store, func(tp kafka.TopicPartition) bool {
				return tp.Partition == a.Partition && *tp.Topic == a.Topic
			})
		}
		if j < 0 {
			store = append(store, kafka.TopicPartition{Topic: &acks[i].Topic, Partition: a.Partition, Offset: next})
			j = len(store) - 1
			if index != nil {
				index[k] = j
			} else if len(store) > 8 {
				index = make(map[partitionKey]int, 2*len(store))
				for at, tp := range store {
					index[partitionKey{topic: *tp.Topic, partition: tp.Partition}] = at
				}
			}
		} else if next > store[j].Offset {
			store[j].Offset = next
		}
		slot[i] = j
	}
	if len(store) == 0 {
		return errs
	}
	stored, err := c.kc.StoreOffsets(store)
	// librdkafka answers NO_ERROR when at least one partition was stored
	// and marks each refused one in the list; the call's own error is for
	// the entries it did not mark.
	failed := make([]error, len(store)) // per entry
	for j := range store {
		if j < len(stored) && stored[j].Error != nil {
			failed[j] = stored[j].Error
		} else if err != nil {
			failed[j] = err
		}
	}
	for j, tp := range store {
		if failed[j] == nil {
			c.acked[partitionKey{topic: *tp.Topic, partition: tp.Partition}] = tp.Offset
		}
	}
	for i, j := range slot {
		if j < 0 || failed[j] == nil {
			continue
		}
		var ke kafka.Error
		if errors.As(failed[j], &ke) && ke.Code() == kafka.ErrState {
			fail(i, ErrNotAssigned)
		} else {
			a := acks[i]
			fail(i, fmt.Errorf("store offset %s:%d:%d: %w", a.Topic, a.Partition, a.Offset, failed[j]))
		}
	}
	return errs
}

// Close stops polling, then closes the librdkafka consumer: stored offsets
// are committed and the group is left. It is safe to call more than once.
func (c *Consumer) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		c.lag.Close() // this consumer's lag series go now, not after the close
		// Acks from now on are refused: what was acked before is committed
		// by the close, the rest is redelivered to the next owner.
		c.mu.Lock()
		c.closed = true
		c.buf = nil
		fatal := c.fatal
		c.mu.Unlock()
		if fatal != nil {
			// Nothing can be committed in that state, and the client
			// library's Close would wait forever (see destroy.go).
			if err := destroyFatal(c.kc); err != nil {
				c.log.Error().Err(err).Msg("fatal consumer could not be destroyed; its handle is left open")
			} else {
				c.log.Warn().Err(fatal).Msg("fatal consumer destroyed without committing")
			}
			c.closeErr = fatal
		} else {
			c.closeErr = c.kc.Close()
		}
		c.stats.Add(stats.ConsumersCurrent, -1)
	})
	return c.closeErr
}
