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

// instance is one librdkafka producer and the goroutine draining its
// events. Every message it produces carries a *delivery as its opaque, so
// that each report reaches the account that sent the message.
type instance struct {
	kp    *kafka.Producer
	stats *stats.Stats
	queue *stats.ProducerQueue // from librdkafka's statistics events
	room  *roomSignal          // the producer's: every report makes room
	log   zerolog.Logger
	// failLog logs delivery failures, sampled: a purge or an outage fails
	// a whole queue at once, and the drain must keep up.
	failLog zerolog.Logger

	drained chan struct{} // closed when the events channel is fully drained
	// fatal is librdkafka's fatal error once seen, so that checking it
	// costs no cgo call per produce.
	fatal atomic.Pointer[error]
	// final is set when the server's producer closes: purged messages are
	// then unflushed, not delivery errors.
	final atomic.Bool

	// mu is held shared by every call using kp and exclusively by close,
	// so that kp is never used after it is closed.
	mu     sync.RWMutex
	closed bool

	// hurryMu guards hurrying and hurryLoop: while an account waits for
	// its messages (DUMP, connection close), a loop keeps librdkafka
	// flushing, which sends queued batches without waiting for linger.ms.
	hurryMu   sync.Mutex
	hurrying  int  // accounts waiting
	hurryLoop bool // the flushing loop runs
}

func newInstance(props config.Properties, st *stats.Stats, room *roomSignal, log zerolog.Logger) (*instance, error) {
	kp, err := kafka.NewProducer(props.ConfigMap())
	if err != nil {
		return nil, err
	}
	in := &instance{
		kp: kp, stats: st, room: room, queue: st.NewProducerQueue(), log: log, drained: make(chan struct{}),
		failLog: log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Second}),
	}
	st.Inc(stats.ProducersCreated)
	st.Inc(stats.ProducersCurrent)
	go in.drain()
	return in, nil
}

// drain reads every event of the producer until close closes the channel.
func (in *instance) drain() {
	defer close(in.drained)
	for ev := range in.kp.Events() {
		switch e := ev.(type) {
		case *kafka.Message:
			in.report(e)
		case kafka.Error:
			in.log.Warn().Err(e).Bool("fatal", e.IsFatal()).Msg("producer error")
			if e.IsFatal() {
				// The event's own error: once close has begun, kp may be
				// destroyed under the drain, so no cgo call here.
				in.fatal.CompareAndSwap(nil, new(error(e)))
			}
		case *kafka.Stats:
			// statistics.interval.ms: the messages and bytes waiting in
			// librdkafka's queues.
			messages, bytes, err := stats.ParseProducerQueue(e.String())
			if err != nil {
				in.log.Debug().Err(err).Msg("producer statistics")
				continue
			}
			in.queue.Update(messages, bytes)
		default:
			in.stats.Inc(stats.ProducerUnknownEvents)
		}
	}
}

// report counts one delivery report and settles it on its account.
func (in *instance) report(m *kafka.Message) {
	d, _ := m.Opaque.(*delivery)
	err := m.TopicPartition.Error
	switch {
	case err == nil:
		in.stats.Inc(stats.ProducerDelivered)
	case in.final.Load() && isPurged(err):
		// The server is shutting down: a closed account counted this
		// message as unflushed already, an open one has not.
		if d == nil || !d.acct.closed.Load() {
			in.stats.Inc(stats.ProducerUnflushed)
		}
	default:
		in.stats.Inc(stats.ProducerDeliveryErrors)
		topic := ""
		if m.TopicPartition.Topic != nil {
			topic = *m.TopicPartition.Topic
		}
		in.failLog.Warn().Err(err).Str("topic", topic).Msg("delivery failed")
	}
	if d != nil {
		d.settle(m.TopicPartition)
	}
	in.room.signal()
}

func isPurged(err error) bool {
	return isCode(err, kafka.ErrPurgeQueue) || isCode(err, kafka.ErrPurgeInflight)
}

// isCode reports whether err is a librdkafka error with code (without
// allocating: it runs for every produce).
func isCode(err error, code kafka.ErrorCode) bool {
	if err == nil {
		return false
	}
	if ke, ok := err.(kafka.Error); ok {
		return ke.Code() == code
	}
	ke, ok := errors.AsType[kafka.Error](err)
	return ok && ke.Code() == code
}

// fatalErr returns the producer's fatal error, or nil. A producer in a
// fatal state (with idempotence: a broken sequence that cannot be
// recovered) fails every produce and must be replaced.
func (in *instance) fatalErr() error {
	if err := in.fatal.Load(); err != nil {
		return *err
	}
	return nil
}

// setFatal records librdkafka's fatal error for fatalErr.
func (in *instance) setFatal() {
	if err := in.kp.GetFatalError(); err != nil {
		in.fatal.Store(&err)
	}
}

// setFatalFrom records librdkafka's fatal error, or err (a produce refused
// with ErrFatal) if librdkafka does not give one. The caller holds the
// instance (acquire).
func (in *instance) setFatalFrom(err error) {
	in.setFatal()
	in.fatal.CompareAndSwap(nil, &err)
}

// acquire takes the instance for enqueueing; false once it is closed.
// release must follow a true.
func (in *instance) acquire() bool {
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return false
	}
	return true
}

func (in *instance) release() { in.mu.RUnlock() }

// maxHurry bounds how long one wait keeps librdkafka flushing: by then
// the messages have left the lingering batches, and what is still not
// delivered waits for Kafka, not for linger.ms. Flushing longer would only
// stop batching for every connection.
const maxHurry = time.Second

// hurry makes librdkafka send what it queues at once (as a flush does,
// ignoring linger.ms) until done is called or maxHurry has passed.
func (in *instance) hurry() (done func()) {
	in.hurryMu.Lock()
	in.hurrying++
	if !in.hurryLoop {
		in.hurryLoop = true
		go in.flushWhileHurried()
	}
	in.hurryMu.Unlock()
	var once sync.Once
	end := func() {
		once.Do(func() {
			in.hurryMu.Lock()
			in.hurrying--
			in.hurryMu.Unlock()
		})
	}
	t := time.AfterFunc(maxHurry, end)
	return func() {
		t.Stop()
		end()
	}
}

// flushWhileHurried flushes in 100 ms steps while an account waits.
// librdkafka ignores linger.ms only while a flush call runs, so the
// calls follow each other; a flush of other connections' messages that
// does not finish does not matter, the step just ends.
func (in *instance) flushWhileHurried() {
	for {
		in.hurryMu.Lock()
		if in.hurrying == 0 {
			in.hurryLoop = false
			in.hurryMu.Unlock()
			return
		}
		in.hurryMu.Unlock()
		if !in.acquire() {
			in.hurryMu.Lock()
			in.hurryLoop = false
			in.hurryMu.Unlock()
			return
		}
		left := in.kp.Flush(100)
		in.release()
		if left == 0 {
			// Nothing queued: the waiting accounts' reports are on their
			// way through the drain, or their messages are on an instance
			// being retired.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// purgeDrainTimeout bounds the wait for the reports of purged messages.
const purgeDrainTimeout = 10 * time.Second

// close waits up to timeout for every queued message, purges what is left
// and closes the producer once its event drain has finished, so that every
// message has been reported to its account. final marks the server's
// shutdown (purged messages are unflushed, not failed). It returns how
// many messages were purged.
func (in *instance) close(timeout time.Duration, final bool) int {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	in.final.Store(final)
	left := in.kp.Flush(int(timeout.Milliseconds()))
	if left > 0 {
		if err := in.kp.Purge(kafka.PurgeQueue | kafka.PurgeInFlight); err != nil {
			in.log.Warn().Err(err).Msg("purge producer queue")
		}
		// Every purged message is reported at once; closing before the
		// drain has them all would leave accounts waiting for reports
		// that never come.
		if n := in.kp.Flush(int(purgeDrainTimeout.Milliseconds())); n > 0 {
			in.log.Error().Int("events", n).Msg("producer closed before all its reports were read")
		}
		in.log.Warn().Int("messages", left).Msg("producer closed with undelivered messages")
	}
	in.kp.Close()
	<-in.drained
	in.queue.Close()
	in.stats.Add(stats.ProducersCurrent, -1)
	return left
}
