package producer

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
	"rafka/test/kafkatest"
)

// newTestProducer returns a shared producer on brokers, closed when the test
// ends.
func newTestProducer(t *testing.T, brokers string, limits Limits) (*Producer, *stats.Stats) {
	t.Helper()
	st := stats.New()
	p := New((&config.File{}).ProducerProperties(brokers), limits, st, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel))
	t.Cleanup(func() { p.Close(5 * time.Second) })
	return p, st
}

// TestFatalReplacementKeepsAccounting puts the shared producer into
// librdkafka's fatal state (as an unrecoverable idempotence error would)
// while one account has messages in flight: the next produce gets a new
// librdkafka producer, the old one is closed, and every account's figures
// stay exact: each message of the account in flight is reported once,
// delivered or failed, and the other account's messages are its own.
func TestFatalReplacementKeepsAccounting(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	p, st := newTestProducer(t, brokers, Limits{})
	topic := []byte(kafkatest.CreateTopic(t, brokers, "producer", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := p.NewAccount(), p.NewAccount()
	if _, err := a.ProduceAndWait(ctx, topic, nil, [][]byte{[]byte("first")}); err != nil {
		t.Fatalf("durable produce: %v", err)
	}
	const inFlight = 2000
	values := make([][]byte, inFlight)
	for i := range values {
		values[i] = []byte("b" + strconv.Itoa(i))
	}
	if n, err := b.Produce(ctx, topic, nil, values); err != nil || n != inFlight {
		t.Fatalf("produce: %d, %v", n, err)
	}
	old := p.current.Load()
	old.kp.TestFatalError(kafka.ErrOutOfOrderSequenceNumber, "injected by the test")
	old.setFatal()

	if _, err := a.ProduceAndWait(ctx, topic, nil, [][]byte{[]byte("second")}); err != nil {
		t.Fatalf("durable produce after the fatal error: %v", err)
	}
	if p.current.Load() == old {
		t.Fatal("the fatal producer was not replaced")
	}
	if left := b.Wait(ctx, 30*time.Second); left != 0 {
		t.Fatalf("%d of the in-flight messages never reported", left)
	}
	p.retired.Wait()
	if got := st.Get(stats.ProducersCreated); got != 2 {
		t.Errorf("producers created = %d, want 2", got)
	}
	if got := st.Get(stats.ProducersCurrent); got != 1 {
		t.Errorf("producers current = %d, want 1 (the fatal one closed)", got)
	}
	if a.Outstanding() != 0 || a.Failed() != 0 {
		t.Errorf("account a: %d outstanding, %d failed; want 0, 0", a.Outstanding(), a.Failed())
	}
	delivered, failed := st.Get(stats.ProducerDelivered), st.Get(stats.ProducerDeliveryErrors)
	if delivered+failed != inFlight+2 {
		t.Errorf("%d delivered + %d failed reports, want %d", delivered, failed, inFlight+2)
	}
	if b.Failed() != failed {
		t.Errorf("account b failed %d, the producer counted %d failures", b.Failed(), failed)
	}
	t.Logf("of %d messages in flight at the fatal error, %d failed", inFlight, failed)
}

// hurryState reports whether the flushing loop runs and how many wait.
func (in *instance) hurryState() (running bool, waiting int) {
	in.hurryMu.Lock()
	defer in.hurryMu.Unlock()
	return in.hurryLoop, in.hurrying
}

// TestHurryEndsUnderLoad: the flushing loop a DUMP starts ends once no
// account waits, even while other accounts keep the queue busy.
func TestHurryEndsUnderLoad(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	p, _ := newTestProducer(t, brokers, Limits{Messages: 5000})
	topic := []byte(kafkatest.CreateTopic(t, brokers, "producer", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	load, waiter := p.NewAccount(), p.NewAccount()
	stop := make(chan struct{})
	loaded := make(chan error, 1)
	go func() {
		values := [][]byte{make([]byte, 100)}
		for {
			select {
			case <-stop:
				loaded <- nil
				return
			default:
			}
			if _, err := load.Produce(ctx, topic, nil, values); err != nil {
				loaded <- err
				return
			}
			if err := load.Throttle(ctx); err != nil {
				loaded <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-loaded; err != nil {
			t.Errorf("load: %v", err)
		}
	}()
	if _, err := waiter.Produce(ctx, topic, nil, [][]byte{[]byte("w")}); err != nil {
		t.Fatal(err)
	}
	if left := waiter.Wait(ctx, 10*time.Second); left != 0 {
		t.Fatalf("Wait: %d left", left)
	}
	in := p.current.Load()
	deadline := time.Now().Add(3 * time.Second)
	for {
		running, waiting := in.hurryState()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("flush loop still running 3 s after the last wait (%d waiting)", waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOneCommandOverLimit: a single call with more values than the
// account's limit waits for deliveries part-way instead of putting them
// all in librdkafka's queue at once.
func TestOneCommandOverLimit(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	const limit, n = 100, 5000
	p, st := newTestProducer(t, brokers, Limits{Messages: limit})
	topic := []byte(kafkatest.CreateTopic(t, brokers, "producer", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := p.NewAccount()
	values := make([][]byte, n)
	for i := range values {
		values[i] = []byte(strconv.Itoa(i))
	}
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var most int64
		for {
			select {
			case <-stop:
				peak <- most
				return
			default:
				most = max(most, a.Outstanding())
			}
		}
	}()
	got, err := a.Produce(ctx, topic, nil, values)
	close(stop)
	if err != nil || got != n {
		t.Fatalf("Produce: %d, %v", got, err)
	}
	if most := <-peak; most > limit+1 {
		t.Errorf("%d messages outstanding at once, limit %d", most, limit)
	}
	if waits := st.Get(stats.ProducerBackpressureWaits); waits == 0 {
		t.Error("no backpressure wait counted")
	}
	if left := a.Wait(ctx, 30*time.Second); left != 0 {
		t.Errorf("%d undelivered", left)
	}
}
