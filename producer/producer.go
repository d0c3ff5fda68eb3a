// Package producer is the server's Kafka producer: a fixed pair of
// librdkafka producers shared by every connection and Flight call (each
// made on first use, replaced when librdkafka puts it into a fatal state),
// with each user's messages accounted separately in an Account.
package producer

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
)

// Limits bound one account's outstanding (enqueued, not yet reported)
// messages; an account over either limit is saturated (Account.Saturated).
// Zero means no limit.
type Limits struct {
	Messages int64
	Bytes    int64
}

// ErrClosed is returned by produce calls once the producer is closed.
var ErrClosed = errors.New("producer closed")

// CreateError is librdkafka's refusal to create the producer.
type CreateError struct{ Err error }

func (e *CreateError) Error() string { return "create producer: " + e.Err.Error() }

// Unwrap returns librdkafka's error.
func (e *CreateError) Unwrap() error { return e.Err }

// Producer is the server-wide producer. Its methods are safe for
// concurrent use.
type Producer struct {
	props  config.Properties
	stats  *stats.Stats
	log    zerolog.Logger
	limits Limits

	// slots are the librdkafka producers, each nil until first used; an
	// account always uses the same slot, so its messages keep their order.
	slots []atomic.Pointer[instance]
	next  atomic.Uint32 // slot of the next account, round robin
	room  *roomSignal   // wakes produces waiting for queue space

	mu      sync.Mutex // serialises creating and replacing instances
	closed  bool
	retired sync.WaitGroup // replaced instances still closing
}

// poolSize is how many librdkafka producers the accounts are spread over.
// One producer's enqueue path (confluent-kafka-go's per-message opaque map
// and its lock, librdkafka's queue lock) is shared by every connection; two
// halve that contention. In alternating P1 runs (50 connections pipelining
// 100 deep) two reached 0.86-1.00x of one raw producer against 0.65-0.78x
// for one; three were no better than two.
const poolSize = 2

// New returns the producer for props (as built by
// config.File.ProducerProperties). No librdkafka producer exists until the
// first message; Validate checks props at start-up.
func New(props config.Properties, limits Limits, st *stats.Stats, log zerolog.Logger) *Producer {
	return newPool(props, limits, st, log, poolSize)
}

// newPool is New with n librdkafka producers.
func newPool(props config.Properties, limits Limits, st *stats.Stats, log zerolog.Logger, n int) *Producer {
	return &Producer{props: props, limits: limits, stats: st, room: &roomSignal{},
		slots: make([]atomic.Pointer[instance], n), log: log.With().Str("role", "producer").Logger()}
}

// Validate creates and closes a throwaway producer, so that a bad property
// fails at start-up with librdkafka's own message.
func Validate(props config.Properties) error {
	kp, err := kafka.NewProducer(props.ConfigMap())
	if err != nil {
		return err
	}
	kp.Close()
	return nil
}

// NewAccount returns a new account: the messages of one connection or one
// Flight call. Accounts are spread over the pool in turn.
func (p *Producer) NewAccount() *Account {
	return p.newAccount(&p.slots[int(p.next.Add(1)-1)%len(p.slots)])
}

// NewWaitingAccount returns an account for a caller that waits for the
// deliveries of what it sent before it sends more (XADD replies with IDs).
// Every such account uses the pool's first producer: waiting callers send
// in small bursts, a linger and a round trip apart, and gathered on one
// producer the bursts make fuller batches, so the broker handles half as
// many requests. With redis-benchmark's 50 connections pipelining XADD
// 100 deep against one Kafka node, Kafka's CPU per 500k entries fell from
// 1.0-3.1 s to 0.7-1.1 s and the throughput rose by 11-48% (3 alternating
// runs; in P6's own client the difference was within the noise).
// Fire-and-forget accounts, limited by the enqueue contention the pool
// halves, keep being spread.
func (p *Producer) NewWaitingAccount() *Account { return p.newAccount(&p.slots[0]) }

func (p *Producer) newAccount(slot *atomic.Pointer[instance]) *Account {
	return &Account{p: p, slot: slot, wake: make(chan struct{}, 1)}
}

// instance returns the librdkafka producer of a slot: the current one, a
// new one on first use, or a replacement for one that has turned fatal (its
// queued messages fail with the fatal error and are reported to their
// accounts; it is closed in the background).
func (p *Producer) instance(current *atomic.Pointer[instance]) (*instance, error) {
	if in := current.Load(); in != nil && in.fatalErr() == nil {
		return in, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	old := current.Load()
	if old != nil {
		err := old.fatalErr()
		if err == nil {
			return old, nil
		}
		p.log.Warn().Err(err).Msg("producer in a fatal state; replacing it")
		current.Store(nil)
		p.retired.Go(func() { old.close(time.Second, false) })
	}
	in, err := newInstance(p.props, p.stats, p.room, p.log)
	if err != nil {
		return nil, &CreateError{Err: err}
	}
	current.Store(in)
	return in, nil
}

// Close waits up to timeout for the messages still queued, purges the rest
// and closes the librdkafka producers (in parallel). Accounts should be
// closed first: the purged messages of an account still open are counted
// in producer.unflushed.messages. It returns how many messages were purged.
func (p *Producer) Close(timeout time.Duration) int {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	var closing sync.WaitGroup
	var left atomic.Int64
	for i := range p.slots {
		if in := p.slots[i].Swap(nil); in != nil {
			closing.Go(func() { left.Add(int64(in.close(timeout, true))) })
		}
	}
	closing.Wait()
	p.retired.Wait()
	return int(left.Load())
}

// LimitsOf returns the per-account limits of s.
func LimitsOf(s config.Settings) Limits {
	return Limits{Messages: s.MaxOutstandingMessages, Bytes: s.MaxOutstandingBytes}
}
