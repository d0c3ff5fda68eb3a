package producer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"rafka/config"
	"rafka/stats"
	"rafka/test/kafkatest"
)

// newTestProducer returns a shared producer on brokers, closed when the test
// ends.
func newTestProducer(t *testing.T, brokers string, limits Limits, pool int) (*Producer, *stats.Stats) {
	t.Helper()
	st := stats.New()
	p := newPool((&config.File{}).ProducerProperties(brokers), limits, st, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel), pool)
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
	p, st := newTestProducer(t, brokers, Limits{}, 1) // both accounts on the one that turns fatal
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
	old := p.slots[0].Load()
	old.kp.TestFatalError(kafka.ErrOutOfOrderSequenceNumber, "injected by the test")
	old.setFatal()

	if _, err := a.ProduceAndWait(ctx, topic, nil, [][]byte{[]byte("second")}); err != nil {
		t.Fatalf("durable produce after the fatal error: %v", err)
	}
	if p.slots[0].Load() == old {
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
	p, _ := newTestProducer(t, brokers, Limits{Messages: 5000}, 1) // the waiter beside the load
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
	in := p.slots[0].Load()
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
	p, st := newTestProducer(t, brokers, Limits{Messages: limit}, poolSize)
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

// TestPoolKeepsEachAccountsOrder: accounts are spread over the pool's
// librdkafka producers, and each account's messages to a partition are
// stored in the order it produced them.
func TestPoolKeepsEachAccountsOrder(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	p, st := newTestProducer(t, brokers, Limits{Messages: 500}, poolSize)
	topic := kafkatest.CreateTopic(t, brokers, "pool-order", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const accounts, each = 4, 2000
	var wg sync.WaitGroup
	errs := make(chan error, accounts)
	for i := range accounts {
		a := p.NewAccount()
		wg.Go(func() {
			for j := range each {
				v := []byte(fmt.Sprintf("%d:%d", i, j))
				if _, err := a.Produce(ctx, []byte(topic), nil, [][]byte{v}); err != nil {
					errs <- err
					return
				}
			}
			if left := a.Wait(ctx, 30*time.Second); left != 0 {
				errs <- fmt.Errorf("account %d: %d undelivered", i, left)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := st.Get(stats.ProducersCreated); got != poolSize {
		t.Errorf("%d librdkafka producers for %d accounts, want %d", got, accounts, poolSize)
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	next := make([]int, accounts)
	for seen := 0; seen < accounts*each; {
		fs := kc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d: %v", seen, accounts*each, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var i, j int
			if _, err := fmt.Sscanf(string(r.Value), "%d:%d", &i, &j); err != nil {
				t.Errorf("record %q: %v", r.Value, err)
				return
			}
			if j != next[i] {
				t.Errorf("account %d: message %d stored where %d was due", i, j, next[i])
			}
			next[i] = j + 1
			seen++
		})
	}
}

// TestAccountSlots: accounts are spread over the pool in turn, and every
// waiting account uses the first producer without taking a turn.
func TestAccountSlots(t *testing.T) {
	p, _ := newTestProducer(t, "127.0.0.1:1", Limits{}, 2) // no librdkafka producer until a message
	for i, tc := range []struct {
		waiting bool
		slot    int
	}{
		{false, 0}, {false, 1}, {true, 0}, {false, 0}, {true, 0}, {true, 0}, {false, 1}, {false, 0},
	} {
		var a *Account
		if tc.waiting {
			a = p.NewWaitingAccount()
		} else {
			a = p.NewAccount()
		}
		if a.slot != &p.slots[tc.slot] {
			t.Errorf("account %d (waiting %v): not on slot %d", i, tc.waiting, tc.slot)
		}
	}
}
