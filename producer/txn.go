package producer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
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
	pool  chan *txnProducer // the idle producers (not made yet until first used)

	mu     sync.Mutex
	closed bool // Close ran: a producer coming back from a Run is closed
}

// txnPoolSize is how many transactions run at once.
const txnPoolSize = 2

// txnAbortTimeout bounds the abort of a failed transaction.
const txnAbortTimeout = 10 * time.Second

// txnForced are set on the transactional producers whatever the
// configuration says: transactions need idempotence (and so acks=all), and
// a commit reports every failed message, so no delivery report is needed.
var txnForced = map[string]string{
	"enable.idempotence":  "true",
	"acks":                "all",
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

// TxnUnknownError is a transaction whose commit was sent but whose outcome
// is not known (the commit timed out and the abort failed): its messages
// may all be visible, or none.
type TxnUnknownError struct{ Err error }

func (e *TxnUnknownError) Error() string { return "transaction outcome unknown: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TxnUnknownError) Unwrap() error { return e.Err }

// errTxnClosed is Run's answer once Close has run.
var errTxnClosed = errors.New("transactions closed")

// Run produces msgs in one transaction and returns once it is committed
// (every message stored), aborted (a *TxnError) or of unknown outcome (a
// *TxnUnknownError). ctx bounds the wait for a free producer; once the
// transaction has begun it runs to its outcome, within timeout, whatever
// ctx does: a commit cut short could neither be told committed nor
// aborted.
func (t *Transactions) Run(ctx context.Context, timeout time.Duration, msgs []Message) error {
	var tp *txnProducer
	select {
	case tp = <-t.pool:
	case <-ctx.Done():
		return &TxnError{Err: ctx.Err()}
	}
	defer t.release(tp)
	if t.isClosed() {
		return &TxnError{Err: errTxnClosed}
	}
	runCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if tp.kp == nil {
		if err := tp.open(runCtx, t.props, t.log); err != nil {
			t.stats.Inc(stats.TransactionsAborted)
			return &TxnError{Err: err}
		}
	}
	err := tp.run(runCtx, msgs)
	if err == nil {
		t.stats.Inc(stats.TransactionsCommitted)
		return nil
	}
	t.stats.Inc(stats.TransactionsAborted)
	if abortErr := tp.abort(); abortErr != nil {
		t.log.Warn().Err(abortErr).Str("transactional.id", tp.id).Msg("abort transaction; the producer is made anew")
		tp.close() // made anew, and so fenced and cleaned up, by the next Run
		var committing *commitError
		if errors.As(err, &committing) {
			return &TxnUnknownError{Err: errors.Join(err, abortErr)}
		}
	}
	return &TxnError{Err: err}
}

// release puts tp back in the pool, closing it if Close has run.
func (t *Transactions) release(tp *txnProducer) {
	if t.isClosed() {
		tp.close()
	}
	t.pool <- tp
}

func (t *Transactions) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Close closes the idle producers, waiting until ctx ends for those in a
// Run (which close theirs when it returns). An open transaction of a
// producer is aborted by the brokers after transaction.timeout.ms, or by
// the next rafka with the same prefix.
func (t *Transactions) Close(ctx context.Context) {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	for range txnPoolSize {
		select {
		case tp := <-t.pool:
			tp.close()
		case <-ctx.Done():
			return
		}
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
			tp.kp.Flush(100)
			if ctx.Err() != nil {
				return fmt.Errorf("produce to %s: %w", m.Topic, errors.Join(err, ctx.Err()))
			}
		}
	}
	for {
		err := tp.kp.CommitTransaction(ctx)
		if err == nil {
			return nil
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.IsRetriable() && ctx.Err() == nil {
			continue // librdkafka's advice: call it again
		}
		return &commitError{err: err}
	}
}

// commitError is a failed CommitTransaction: the commit was sent.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// abort aborts the failed transaction; an error means the producer is past
// saving (fatal, or the abort failed).
func (tp *txnProducer) abort() error {
	ctx, cancel := context.WithTimeout(context.Background(), txnAbortTimeout)
	defer cancel()
	return tp.kp.AbortTransaction(ctx)
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
