// Package producer is the server's Kafka producer: one librdkafka producer
// shared by every connection and Flight call (made on first use, replaced
// when librdkafka puts it into a fatal state), with each user's messages
// accounted separately in an Account.
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

	current atomic.Pointer[instance] // nil until first use
	room    *roomSignal              // wakes produces waiting for queue space

	mu      sync.Mutex // serialises creating and replacing instances
	closed  bool
	retired sync.WaitGroup // replaced instances still closing
}

// New returns the producer for props (as built by
// config.File.ProducerProperties). No librdkafka producer exists until the
// first message; Validate checks props at start-up.
func New(props config.Properties, limits Limits, st *stats.Stats, log zerolog.Logger) *Producer {
	return &Producer{props: props, limits: limits, stats: st, room: &roomSignal{}, log: log.With().Str("role", "producer").Logger()}
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
// Flight call.
func (p *Producer) NewAccount() *Account {
	return &Account{p: p, wake: make(chan struct{}, 1)}
}

// instance returns the librdkafka producer to use: the current one, a new
// one on first use, or a replacement for one that has turned fatal (its
// queued messages fail with the fatal error and are reported to their
// accounts; it is closed in the background).
func (p *Producer) instance() (*instance, error) {
	if in := p.current.Load(); in != nil && in.fatalErr() == nil {
		return in, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	old := p.current.Load()
	if old != nil {
		err := old.fatalErr()
		if err == nil {
			return old, nil
		}
		p.log.Warn().Err(err).Msg("producer in a fatal state; replacing it")
		p.current.Store(nil)
		p.retired.Go(func() { old.close(time.Second, false) })
	}
	in, err := newInstance(p.props, p.stats, p.room, p.log)
	if err != nil {
		return nil, &CreateError{Err: err}
	}
	p.current.Store(in)
	return in, nil
}

// Close waits up to timeout for the messages still queued, purges the rest
// and closes the librdkafka producer. Accounts should be closed first: the
// purged messages of an account still open are counted in
// producer.unflushed.messages. It returns how many messages were purged.
func (p *Producer) Close(timeout time.Duration) int {
	p.mu.Lock()
	p.closed = true
	in := p.current.Swap(nil)
	p.mu.Unlock()
	left := 0
	if in != nil {
		left = in.close(timeout, true)
	}
	p.retired.Wait()
	return left
}

// LimitsOf returns the per-account limits of s.
func LimitsOf(s config.Settings) Limits {
	return Limits{Messages: s.MaxOutstandingMessages, Bytes: s.MaxOutstandingBytes}
}
