package producer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
)

// Message is one message of a transaction.
type Message struct {
	Topic string
	Key   []byte // nil: no key
	Value []byte
}

// Transactions produces groups of messages as Kafka transactions (a
// transaction's messages are all visible to read_committed consumers or
// none are), on a small pool of transactional librdkafka producers, each
// made on first use and running one transaction at a time.
type Transactions struct {
	props config.Properties
	ids   string // transactional.id prefix: the pool's producers are <ids>-0 ...
	stats *stats.Stats
	log   zerolog.Logger
	pool  chan *txnProducer // the idle producers (nil entries: not made yet)
}

// txnPoolSize is how many transactions run at once.
const txnPoolSize = 2

// txnAbortTimeout bounds the abort of a failed transaction.
const txnAbortTimeout = 30 * time.Second

// txnForced are set on the transactional producers whatever the
// configuration says: transactions need idempotence, and a commit reports
// every failed message, so no delivery report is needed.
var txnForced = map[string]string{
	"enable.idempotence":  "true",
	"go.delivery.reports": "false",
}

// NewTransactions returns the transactions of producers configured with
// props (the shared producer's), named idPrefix-<n> at the brokers: the
// same prefix after a restart lets the new producers abort what a killed
// rafka left open, instead of read_committed consumers waiting for it to
// time out.
func NewTransactions(props config.Properties, idPrefix string, st *stats.Stats, log zerolog.Logger) *Transactions {
	p := props.Clone()
	for k, v := range txnForced {
		p[k] = v
	}
	t := &Transactions{props: p, ids: idPrefix, stats: st, log: log.With().Str("role", "transactions").Logger(),
		pool: make(chan *txnProducer, txnPoolSize)}
	for i := range txnPoolSize {
		t.pool <- &txnProducer{id: idPrefix + "-" + strconv.Itoa(i)}
	}
	return t
}

// TxnError is a transaction that did not commit: none of its messages is
// visible to read_committed consumers.
type TxnError struct{ Err error }

func (e *TxnError) Error() string { return "transaction aborted: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TxnError) Unwrap() error { return e.Err }

// Run produces msgs in one transaction and returns once it is committed
// (every message stored) or aborted (a *TxnError). ctx bounds the wait for
// a free producer and the commit.
func (t *Transactions) Run(ctx context.Context, msgs []Message) error {
	var tp *txnProducer
	select {
	case tp = <-t.pool:
	case <-ctx.Done():
		return &TxnError{Err: ctx.Err()}
	}
	defer func() { t.pool <- tp }()
	if tp.kp == nil {
		if err := tp.open(ctx, t.props, t.log); err != nil {
			t.stats.Inc(stats.TransactionsAborted)
			return &TxnError{Err: err}
		}
	}
	if err := tp.run(ctx, msgs); err != nil {
		t.stats.Inc(stats.TransactionsAborted)
		if tp.abort(t.log) {
			tp.close() // made anew, and so fenced and cleaned up, by the next Run
		}
		return &TxnError{Err: err}
	}
	t.stats.Inc(stats.TransactionsCommitted)
	return nil
}

// Close closes the producers; an open transaction of theirs is aborted by
// the brokers after transaction.timeout.ms, or by the next rafka with the
// same prefix.
func (t *Transactions) Close() {
	for range txnPoolSize {
		tp := <-t.pool
		tp.close()
	}
}

// txnProducer is one transactional producer.
type txnProducer struct {
	id      string
	kp      *kafka.Producer
	drained chan struct{} // closed when its events channel is drained
}

// open creates the producer and initialises its transactions (fencing an
// earlier producer of the same id).
func (tp *txnProducer) open(ctx context.Context, props config.Properties, log zerolog.Logger) error {
	p := props.Clone()
	p["transactional.id"] = tp.id
	kp, err := kafka.NewProducer(p.ConfigMap())
	if err != nil {
		return &CreateError{Err: err}
	}
	tp.kp, tp.drained = kp, make(chan struct{})
	go func(events chan kafka.Event, done chan struct{}) {
		defer close(done)
		for e := range events {
			if err, ok := e.(kafka.Error); ok {
				log.Warn().Err(err).Str("transactional.id", tp.id).Msg("transactional producer")
			}
		}
	}(kp.Events(), tp.drained)
	if err := kp.InitTransactions(ctx); err != nil {
		tp.close()
		return fmt.Errorf("init transactions: %w", err)
	}
	return nil
}

// run produces msgs in a new transaction and commits it.
func (tp *txnProducer) run(ctx context.Context, msgs []Message) error {
	if err := tp.kp.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		km := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &m.Topic, Partition: kafka.PartitionAny},
			Key: m.Key, Value: m.Value}
		for {
			err := tp.kp.Produce(km, nil)
			if err == nil {
				break
			}
			if !isCode(err, kafka.ErrQueueFull) {
				return fmt.Errorf("produce to %s: %w", m.Topic, err)
			}
			// librdkafka's queue is full: let it send, then try again.
			if tp.kp.Flush(100) < 0 || ctx.Err() != nil {
				return fmt.Errorf("produce to %s: %w", m.Topic, errors.Join(err, ctx.Err()))
			}
		}
	}
	if err := tp.kp.CommitTransaction(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// abort aborts the failed transaction; it reports whether the producer is
// past saving (fatal, or the abort failed).
func (tp *txnProducer) abort(log zerolog.Logger) (broken bool) {
	ctx, cancel := context.WithTimeout(context.Background(), txnAbortTimeout)
	defer cancel()
	if err := tp.kp.AbortTransaction(ctx); err != nil {
		log.Warn().Err(err).Str("transactional.id", tp.id).Msg("abort transaction; the producer is made anew")
		return true
	}
	return false
}

// close closes the producer (a no-op before open).
func (tp *txnProducer) close() {
	if tp.kp == nil {
		return
	}
	tp.kp.Close()
	<-tp.drained
	tp.kp = nil
}
