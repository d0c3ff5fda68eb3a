// Package kafkatest gives the packages' unit tests a Kafka to talk to: the
// broker of $KAFKA_BROKERS (make test runs them against real Kafka) or,
// without it, an embedded broker for the test.
package kafkatest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"rafka/embedded"
)

// Brokers returns $KAFKA_BROKERS, or starts an embedded broker (without
// topic auto-creation, as the real one runs) closed when the test ends.
func Brokers(t testing.TB) string {
	t.Helper()
	if brokers := os.Getenv("KAFKA_BROKERS"); brokers != "" {
		return brokers
	}
	b, err := embedded.Start(embedded.Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("start embedded broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// CreateTopic creates a topic named prefix plus a unique suffix, with the
// given partitions, and returns once every partition has a leader.
func CreateTopic(t testing.TB, brokers, prefix string, partitions int) string {
	t.Helper()
	topic := prefix + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(kc)
	if _, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil && led(md.Topics[topic], partitions) {
			return topic
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leaders: %v", topic, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// led reports whether the topic has its partitions, each with a leader.
func led(td kadm.TopicDetail, partitions int) bool {
	if td.Err != nil || len(td.Partitions) != partitions {
		return false
	}
	for _, p := range td.Partitions {
		if p.Leader < 0 {
			return false
		}
	}
	return true
}

// Produce writes n small values ("message-0", "message-1", ...) to topic
// with an independent client, and returns once all are acknowledged.
func Produce(t testing.TB, brokers, topic string, n int) {
	t.Helper()
	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte("message-" + strconv.Itoa(i))}
	}
	if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}
