package producer

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"rafka/config"
	"rafka/embedded"
	"rafka/stats"
)

// testBrokers returns $KAFKA_BROKERS, or starts an embedded broker for the
// test.
func testBrokers(t *testing.T) string {
	t.Helper()
	if brokers := os.Getenv("KAFKA_BROKERS"); brokers != "" {
		return brokers
	}
	b, err := embedded.Start(embedded.Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// newTestProducer returns a shared producer on brokers, closed when the test
// ends.
func newTestProducer(t *testing.T, brokers string, limits Limits) (*Producer, *stats.Stats) {
	t.Helper()
	st := stats.New()
	p := New((&config.File{}).ProducerProperties(brokers), limits, st, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel))
	t.Cleanup(func() { p.Close(5 * time.Second) })
	return p, st
}

// createTestTopic creates a topic of one partition for the test.
func createTestTopic(t *testing.T, brokers string) []byte {
	t.Helper()
	topic := "producer-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(kc)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	for { // until the partition has a leader
		md, err := adm.Metadata(ctx, topic)
		if err == nil && md.Topics[topic].Err == nil && len(md.Topics[topic].Partitions) == 1 && md.Topics[topic].Partitions[0].Leader >= 0 {
			return []byte(topic)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leader: %v", topic, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestFatalReplacementKeepsAccounting puts the shared producer into
// librdkafka's fatal state (as an unrecoverable idempotence error would)
// while one account has messages in flight: the next produce gets a new
// librdkafka producer, the old one is closed, and every account's figures
// stay exact: each message of the account in flight is reported once,
// delivered or failed, and the other account's messages are its own.
func TestFatalReplacementKeepsAccounting(t *testing.T) {
	brokers := testBrokers(t)
	p, st := newTestProducer(t, brokers, Limits{})
	topic := createTestTopic(t, brokers)
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
