// Package producer is a connection's Kafka producer: it enqueues messages,
// drains every delivery report, flushes and closes.
package producer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
)

// Producer is one librdkafka producer owned by one connection. Its methods
// may be called from one goroutine at a time, except Close, which may be
// called once from any goroutine.
type Producer struct {
	kp    *kafka.Producer
	stats *stats.Stats
	queue *stats.ProducerQueue // from librdkafka's statistics events
	log   zerolog.Logger

	drained chan struct{} // closed when the events channel is fully drained
	closing atomic.Bool
	// fatal is librdkafka's fatal error once the drain has seen it, so
	// that checking it costs no cgo call per produce.
	fatal atomic.Pointer[error]

	// Reused by produce (one caller at a time): librdkafka copies what it
	// needs, so neither the message nor the topic name is allocated again
	// for every message.
	scratch kafka.Message
	topic   *string
}

// New creates a producer with props (as built by config.File.ProducerProperties).
func New(props config.Properties, st *stats.Stats, log zerolog.Logger) (*Producer, error) {
	kp, err := kafka.NewProducer(props.ConfigMap())
	if err != nil {
		return nil, err
	}
	p := &Producer{kp: kp, stats: st, queue: st.NewProducerQueue(), log: log, drained: make(chan struct{})}
	st.Inc(stats.ProducersCreated)
	st.Inc(stats.ProducersCurrent)
	go p.drain()
	return p, nil
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

// drain reads every event of the producer until Close closes the channel:
// delivery reports are counted, failures logged.
func (p *Producer) drain() {
	defer close(p.drained)
	for ev := range p.kp.Events() {
		switch e := ev.(type) {
		case *kafka.Message:
			p.report(e)
		case kafka.Error:
			p.log.Warn().Err(e).Bool("fatal", e.IsFatal()).Msg("producer error")
			if e.IsFatal() {
				p.setFatal()
			}
		case *kafka.Stats:
			// statistics.interval.ms: the messages and bytes waiting in
			// librdkafka's queues.
			messages, bytes, err := stats.ParseProducerQueue(e.String())
			if err != nil {
				p.log.Debug().Err(err).Msg("producer statistics")
				continue
			}
			p.queue.Update(messages, bytes)
		default:
			p.stats.Inc(stats.ProducerUnknownEvents)
		}
	}
}

// report counts one delivery report.
func (p *Producer) report(m *kafka.Message) {
	err := m.TopicPartition.Error
	if err == nil {
		p.stats.Inc(stats.ProducerDelivered)
		return
	}
	if p.closing.Load() && isPurged(err) {
		return // counted as unflushed by Close
	}
	p.stats.Inc(stats.ProducerDeliveryErrors)
	topic := ""
	if m.TopicPartition.Topic != nil {
		topic = *m.TopicPartition.Topic
	}
	p.log.Warn().Err(err).Str("topic", topic).Msg("delivery failed")
}

func isPurged(err error) bool {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return false
	}
	return ke.Code() == kafka.ErrPurgeQueue || ke.Code() == kafka.ErrPurgeInflight
}

// Produce enqueues each value to topic, keyed by key when key is not nil. It
// returns how many were enqueued and the first enqueue error, if any.
func (p *Producer) Produce(topic []byte, key []byte, values [][]byte) (int, error) {
	return p.produce(topic, key, values, nil)
}

// topicName returns the topic as a cached *string.
func (p *Producer) topicName(topic []byte) *string {
	if p.topic == nil || *p.topic != string(topic) {
		t := string(topic)
		p.topic = &t
	}
	return p.topic
}

func (p *Producer) produce(topic []byte, key []byte, values [][]byte, reports chan kafka.Event) (int, error) {
	msg := &p.scratch
	*msg = kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: p.topicName(topic), Partition: kafka.PartitionAny},
		Key:            key,
	}
	size := 0
	for i, v := range values {
		msg.Value = v
		if err := p.kp.Produce(msg, reports); err != nil {
			p.stats.Inc(stats.ProducerEnqueueErrors)
			p.stats.Add(stats.ProducerMessages, int64(i))
			p.stats.Add(stats.ProducerBytes, int64(size))
			return i, err
		}
		size += len(v)
	}
	msg.Key, msg.Value = nil, nil
	p.stats.Add(stats.ProducerMessages, int64(len(values)))
	p.stats.Add(stats.ProducerBytes, int64(size))
	return len(values), nil
}

// ProduceAndWait enqueues each value like Produce and waits until Kafka has
// acknowledged all of them (per the producer's acks setting). It returns the
// first failure. Waiting is bounded by librdkafka's message.timeout.ms and
// by ctx.
func (p *Producer) ProduceAndWait(ctx context.Context, topic []byte, key []byte, values [][]byte) (int, error) {
	// The channel holds every report, so librdkafka never blocks on it even
	// if this call returns early.
	reports := make(chan kafka.Event, len(values))
	n, err := p.produce(topic, key, values, reports)
	if err != nil {
		return n, err
	}
	var firstErr error
	for i := 0; i < n; i++ {
		select {
		case ev := <-reports:
			m, ok := ev.(*kafka.Message)
			if !ok {
				p.stats.Inc(stats.ProducerUnknownEvents)
				i--
				continue
			}
			p.report(m)
			if m.TopicPartition.Error != nil && firstErr == nil {
				firstErr = m.TopicPartition.Error
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for delivery of %d messages to %s: %w", n, topic, ctx.Err())
		}
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return n, nil
}

// SendAndWait produces msgs (their topic, partition, key, value, headers
// and timestamp as given) and waits for every delivery report. When
// librdkafka's queue is full it waits for reports before enqueueing more,
// so any number of messages may be sent. It returns how many were
// delivered and the first failure.
func (p *Producer) SendAndWait(ctx context.Context, msgs []*kafka.Message) (int, error) {
	reports := make(chan kafka.Event, len(msgs))
	pending, delivered := 0, 0
	var firstErr error
	await := func() error {
		select {
		case ev := <-reports:
			pending--
			m, ok := ev.(*kafka.Message)
			if !ok {
				p.stats.Inc(stats.ProducerUnknownEvents)
				return nil
			}
			p.report(m)
			if err := m.TopicPartition.Error; err != nil {
				if firstErr == nil {
					firstErr = err
				}
			} else {
				delivered++
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, m := range msgs {
		for {
			err := p.kp.Produce(m, reports)
			if err == nil {
				pending++
				p.stats.Inc(stats.ProducerMessages)
				p.stats.Add(stats.ProducerBytes, int64(len(m.Value)))
				break
			}
			var ke kafka.Error
			if errors.As(err, &ke) && ke.Code() == kafka.ErrQueueFull && pending > 0 {
				if werr := await(); werr != nil {
					return delivered, werr
				}
				continue
			}
			p.stats.Inc(stats.ProducerEnqueueErrors)
			for pending > 0 { // the earlier messages still count
				if werr := await(); werr != nil {
					return delivered, werr
				}
			}
			return delivered, err
		}
	}
	for pending > 0 {
		if err := await(); err != nil {
			return delivered, err
		}
	}
	return delivered, firstErr
}

// Fatal returns the producer's fatal error, or nil. A producer in a fatal
// state (with idempotence: a broken sequence that cannot be recovered)
// fails every produce and must be replaced. It is known once the event
// drain has seen librdkafka's fatal error event.
func (p *Producer) Fatal() error {
	if err := p.fatal.Load(); err != nil {
		return *err
	}
	return nil
}

// setFatal records librdkafka's fatal error for Fatal.
func (p *Producer) setFatal() {
	if err := p.kp.GetFatalError(); err != nil {
		p.fatal.Store(&err)
	}
}

// InjectFatalError puts the producer into a fatal state with reason, as
// librdkafka would on an unrecoverable idempotence error, and returns once
// Fatal reports it. For tests.
func (p *Producer) InjectFatalError(reason string) {
	p.kp.TestFatalError(kafka.ErrOutOfOrderSequenceNumber, reason)
	p.setFatal()
}

// Flush waits up to timeout for every enqueued message to be delivered (or
// to fail) and returns how many are still outstanding.
func (p *Producer) Flush(timeout time.Duration) int {
	return p.kp.Flush(int(timeout.Milliseconds()))
}

// Close flushes for up to timeout, purges what is left, closes the producer
// and returns how many messages were never delivered. The count is added to
// producer.unflushed.messages.
func (p *Producer) Close(timeout time.Duration) int {
	left := p.kp.Flush(int(timeout.Milliseconds()))
	if left > 0 {
		p.closing.Store(true)
		p.stats.Add(stats.ProducerUnflushed, int64(left))
		if err := p.kp.Purge(kafka.PurgeQueue | kafka.PurgeInFlight); err != nil {
			p.log.Warn().Err(err).Msg("purge producer queue")
		}
		p.kp.Flush(100) // let the purge reports through before closing
		p.log.Warn().Int("messages", left).Msg("producer closed with undelivered messages")
	}
	p.kp.Close()
	<-p.drained
	p.queue.Close()
	p.stats.Add(stats.ProducersCurrent, -1)
	return left
}
