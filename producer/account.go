package producer

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/stats"
)

// queueFullRetry bounds one wait for room in librdkafka's full queue
// (shared by every account); any report wakes every waiter sooner.
const queueFullRetry = 100 * time.Millisecond

// Account is the messages of one connection or one Flight call on the
// shared producer (always on the same librdkafka producer of the pool): how many are outstanding, how many failed. Produce,
// ProduceAndWait, SendAndWait and Send may be called from one goroutine at
// a time; the counters and a Sent may be read from any.
type Account struct {
	p    *Producer
	slot *atomic.Pointer[instance] // the producer's slot the account uses

	outstanding atomic.Int64 // enqueued, not yet reported
	bytes       atomic.Int64 // value bytes of the outstanding messages
	failed      atomic.Int64 // delivery reports with an error
	closing     atomic.Bool  // Close has begun (it runs once)
	closed      atomic.Bool  // what is left was counted as unflushed

	// wake gets a token after a report while waiters > 0.
	wake    chan struct{}
	waiters atomic.Int32

	// Reused by Produce (one caller at a time): librdkafka copies what it
	// needs, so neither the message nor the topic name is allocated again
	// for every message.
	scratch kafka.Message
	topic   *string
	slab    []delivery // the unused rest of the current slab (newDelivery)
}

// delivery is the opaque of one message: the account to settle its report
// on and, for the calls that wait, their batch.
type delivery struct {
	acct  *Account
	batch *batch
	size  int64
	// placed, when set, receives where the message was stored (before the
	// batch settles, so its waiter reads it after the wait).
	placed *kafka.TopicPartition
}

// settle applies one delivery report to the account (and batch).
func (d *delivery) settle(tp kafka.TopicPartition) {
	err := tp.Error
	if d.placed != nil && err == nil {
		*d.placed = tp
		d.placed = nil
	}
	a := d.acct
	if err != nil {
		a.failed.Add(1)
	}
	a.bytes.Add(-d.size)
	a.outstanding.Add(-1)
	if d.batch != nil {
		d.batch.settle(err)
		d.batch = nil // the slab it sits in must not keep the batch alive
	}
	if a.waiters.Load() > 0 {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// batch is the messages of one call waiting for all their reports.
// pending starts at 1, the caller's seal: each enqueue adds one, each
// report and the seal (wait) take one, and done closes at zero.
type batch struct {
	pending  atomic.Int64
	failed   atomic.Int64
	firstErr atomic.Pointer[error]
	done     chan struct{}
}

func newBatch() *batch {
	b := &batch{done: make(chan struct{})}
	b.pending.Store(1)
	return b
}

func (b *batch) settle(err error) {
	if err != nil {
		b.failed.Add(1)
		first := err // only a failure's error is moved to the heap
		b.firstErr.CompareAndSwap(nil, &first)
	}
	if b.pending.Add(-1) == 0 {
		close(b.done)
	}
}

// seal marks the batch complete: done closes once its messages are
// reported.
func (b *batch) seal() {
	if b.pending.Add(-1) == 0 {
		close(b.done)
	}
}

// wait seals the batch and waits for the reports of its messages.
func (b *batch) wait(ctx context.Context) error {
	b.seal()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Outstanding returns how many of the account's messages are enqueued and
// not yet reported.
func (a *Account) Outstanding() int64 { return a.outstanding.Load() }

// Failed returns how many of the account's messages have failed delivery.
func (a *Account) Failed() int64 { return a.failed.Load() }

// Saturated reports whether the account is over one of the producer's
// limits: its user should send nothing more until Throttle returns.
func (a *Account) Saturated() bool {
	l := a.p.limits
	return (l.Messages > 0 && a.outstanding.Load() > l.Messages) ||
		(l.Bytes > 0 && a.bytes.Load() > l.Bytes)
}

// Fits reports whether values can be enqueued without going over the
// producer's limits.
func (a *Account) Fits(values [][]byte) bool {
	l := a.p.limits
	if l.Messages > 0 && a.outstanding.Load()+int64(len(values)) > l.Messages {
		return false
	}
	if l.Bytes > 0 {
		size := a.bytes.Load()
		for _, v := range values {
			size += int64(len(v))
		}
		if size > l.Bytes {
			return false
		}
	}
	return true
}

// Throttle waits until the account is within the producer's limits again,
// or ctx ends.
func (a *Account) Throttle(ctx context.Context) error {
	if !a.Saturated() {
		return nil
	}
	a.p.stats.Inc(stats.ProducerBackpressureWaits)
	return a.waitWhile(ctx, a.Saturated)
}

// Wait waits up to timeout (or until ctx ends) for every outstanding
// message of the account to be reported and returns how many still are
// not. While it waits, the shared producer sends without lingering, as a
// flush would.
func (a *Account) Wait(ctx context.Context, timeout time.Duration) int64 {
	if a.outstanding.Load() == 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if in := a.slot.Load(); in != nil {
		defer in.hurry()()
	}
	_ = a.waitWhile(ctx, func() bool { return a.outstanding.Load() > 0 })
	return a.outstanding.Load()
}

// Close waits like Wait and closes the account (once; later calls return
// 0 at once): what is still outstanding
// is counted in producer.unflushed.messages and returned. Those messages
// stay in the shared producer and may still be delivered (or fail) before
// librdkafka's message.timeout.ms; their reports are counted in
// producer.delivered or producer.delivery.errors as usual.
func (a *Account) Close(ctx context.Context, timeout time.Duration) int64 {
	if !a.closing.CompareAndSwap(false, true) {
		return 0 // closed already
	}
	a.Wait(ctx, timeout)
	a.closed.Store(true)
	left := a.outstanding.Load()
	if left > 0 {
		a.p.stats.Add(stats.ProducerUnflushed, left)
		a.p.log.Warn().Int64("messages", left).Msg("connection closed with undelivered messages")
	}
	return left
}

// waitWhile waits while busy holds, checking again after every report of
// the account's messages, or until ctx ends. settle changes the counters
// before it looks for waiters, and a waiter registers before it checks
// busy, so no report's wake-up is missed.
func (a *Account) waitWhile(ctx context.Context, busy func() bool) error {
	a.waiters.Add(1)
	defer a.waiters.Add(-1)
	for busy() {
		select {
		case <-a.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Produce enqueues each value to topic, keyed by key when key is not nil.
// While librdkafka's queue is full it waits (until ctx ends) instead of
// failing. It returns how many were enqueued and the first enqueue error.
func (a *Account) Produce(ctx context.Context, topic, key []byte, values [][]byte) (int, error) {
	msg := a.message(topic, key)
	defer a.clearMessage()
	return a.enqueue(ctx, msg, values, nil)
}

// message returns the account's reused message for topic and key; the
// caller calls clearMessage once the call is done.
func (a *Account) message(topic, key []byte) *kafka.Message {
	a.scratch = kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: a.topicName(topic), Partition: kafka.PartitionAny},
		Key:            key,
	}
	return &a.scratch
}

// clearMessage drops the reused message's references to the command's
// bytes and to its last delivery.
func (a *Account) clearMessage() {
	a.scratch.Key, a.scratch.Value, a.scratch.Opaque = nil, nil, nil
}

// ProduceAndWait enqueues each value like Produce and waits until Kafka has
// acknowledged all of them (per the producer's acks setting). It returns
// the first failure. Waiting is bounded by librdkafka's message.timeout.ms
// and by ctx; the account keeps counting the messages if ctx ends first.
func (a *Account) ProduceAndWait(ctx context.Context, topic, key []byte, values [][]byte) (int, error) {
	msg := a.message(topic, key)
	defer a.clearMessage()
	b := newBatch()
	n, err := a.enqueue(ctx, msg, values, b)
	if werr := b.wait(ctx); werr != nil && err == nil {
		err = fmt.Errorf("wait for delivery of %d messages to %s: %w", n, topic, werr)
	}
	if err != nil {
		return 0, err
	}
	if first := b.firstErr.Load(); first != nil {
		return 0, *first
	}
	return n, nil
}

// SendAndWait produces msgs (their topic, partition, key, value, headers
// and timestamp as given; their Opaque is overwritten) and waits for every
// delivery report. It returns how many were delivered and the first
// failure.
func (a *Account) SendAndWait(ctx context.Context, msgs []*kafka.Message) (int, error) {
	return a.SendAndPlace(ctx, msgs, nil)
}

// SendAndPlace is SendAndWait that also records where each message was
// stored: placed[i] gets msgs[i]'s partition and offset (left as it is for
// a message that failed). placed, when not nil, is as long as msgs.
func (a *Account) SendAndPlace(ctx context.Context, msgs []*kafka.Message, placed []kafka.TopicPartition) (int, error) {
	return a.Send(ctx, msgs, placed).Wait(ctx)
}

// Sent is messages Send enqueued, whose delivery reports may still come.
type Sent struct {
	b        *batch
	enqueued int
	err      error // why Send stopped enqueuing, if it did
}

// Send is SendAndPlace without the wait: it enqueues msgs and returns;
// placed is written as their reports come, and may be read once Done is
// closed.
func (a *Account) Send(ctx context.Context, msgs []*kafka.Message, placed []kafka.TopicPartition) *Sent {
	b := newBatch()
	s := &Sent{b: b}
	for i, m := range msgs {
		d := a.newDelivery(b, len(m.Value))
		if placed != nil {
			d.placed = &placed[i]
		}
		m.Opaque = d
		if s.err = a.send(ctx, m, d); s.err != nil {
			break
		}
		s.enqueued++
	}
	b.seal()
	return s
}

// Done is closed once every enqueued message is reported.
func (s *Sent) Done() <-chan struct{} { return s.b.done }

// Finished reports whether Done is closed.
func (s *Sent) Finished() bool {
	select {
	case <-s.b.done:
		return true
	default:
		return false
	}
}

// Wait waits for the reports (or ctx) and returns how many messages were
// delivered and the first failure.
func (s *Sent) Wait(ctx context.Context) (int, error) {
	select {
	case <-s.b.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	err := s.err
	if first := s.b.firstErr.Load(); first != nil && err == nil {
		err = *first
	}
	return s.enqueued - int(s.b.failed.Load()), err
}

// enqueue produces msg once per value.
func (a *Account) enqueue(ctx context.Context, msg *kafka.Message, values [][]byte, b *batch) (int, error) {
	for i, v := range values {
		d := a.newDelivery(b, len(v))
		msg.Value = v
		msg.Opaque = d
		if err := a.send(ctx, msg, d); err != nil {
			return i, err
		}
	}
	return len(values), nil
}

// deliverySlab is how many deliveries are allocated at once: one
// allocation per 32 messages instead of one per message, and at most one
// slab (768 bytes) kept per account between produces.
const deliverySlab = 32

// newDelivery returns the opaque of one message. Deliveries come from
// slabs; a slab stays alive until every message in it is reported.
func (a *Account) newDelivery(b *batch, size int) *delivery {
	if len(a.slab) == 0 {
		a.slab = make([]delivery, deliverySlab)
	}
	d := &a.slab[0]
	a.slab = a.slab[1:]
	*d = delivery{acct: a, batch: b, size: int64(size)}
	return d
}

// send enqueues one message on the current instance: waiting first while
// the account is over its limits, then while librdkafka's queue is full,
// moving to a replacement if the instance turned fatal.
func (a *Account) send(ctx context.Context, msg *kafka.Message, d *delivery) error {
	st := a.p.stats
	if a.Saturated() {
		if err := a.Throttle(ctx); err != nil {
			return err
		}
	}
	for {
		in, err := a.p.instance(a.slot)
		if err != nil {
			st.Inc(stats.ProducerEnqueueErrors)
			return err
		}
		if !in.acquire() {
			continue // closed by a replacement: take the new one
		}
		a.outstanding.Add(1)
		a.bytes.Add(d.size)
		if d.batch != nil {
			d.batch.pending.Add(1)
		}
		err = in.kp.Produce(msg, nil)
		if isCode(err, kafka.ErrFatal) {
			in.setFatalFrom(err) // the next instance() replaces it
		}
		in.release()
		if err == nil {
			st.Inc(stats.ProducerMessages)
			st.Add(stats.ProducerBytes, d.size)
			return nil
		}
		a.bytes.Add(-d.size)
		a.outstanding.Add(-1)
		if d.batch != nil {
			d.batch.pending.Add(-1) // never 0 here: the caller holds the seal
		}
		switch {
		case isCode(err, kafka.ErrQueueFull):
			if werr := a.p.room.wait(ctx, queueFullRetry); werr != nil {
				st.Inc(stats.ProducerEnqueueErrors)
				return err
			}
		case isCode(err, kafka.ErrFatal):
			// take the replacement
		default:
			st.Inc(stats.ProducerEnqueueErrors)
			return err
		}
	}
}

// topicName returns the topic as a cached *string.
func (a *Account) topicName(topic []byte) *string {
	if a.topic == nil || *a.topic != string(topic) {
		t := string(topic)
		a.topic = &t
	}
	return a.topic
}
