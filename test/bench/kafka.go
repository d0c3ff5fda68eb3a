package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/config"
)

// partitions is the topic layout of every scenario.
const partitions = 4

// valueSize is the size of every message value.
const valueSize = 100

// kafkaEnv is the broker under test and an admin client for it.
type kafkaEnv struct {
	brokers string
	admin   *kafka.AdminClient
}

// newKafkaEnv connects an admin client to brokers.
func newKafkaEnv(brokers string) (*kafkaEnv, error) {
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": brokers, "enable.metrics.push": false})
	if err != nil {
		return nil, fmt.Errorf("create admin client: %w", err)
	}
	return &kafkaEnv{brokers: brokers, admin: admin}, nil
}

// Close closes the admin client.
func (k *kafkaEnv) Close() { k.admin.Close() }

// createTopic creates a topic with the standard layout and waits until every
// partition has a leader.
func (k *kafkaEnv) createTopic(ctx context.Context, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := k.admin.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return fmt.Errorf("create topic %s: %w", topic, res[0].Error)
	}
	for {
		md, err := k.admin.GetMetadata(&topic, false, 2000)
		if err == nil {
			if tm, ok := md.Topics[topic]; ok && tm.Error.Code() == kafka.ErrNoError && len(tm.Partitions) == partitions && allLed(tm.Partitions) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leaders: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allLed(ps []kafka.PartitionMetadata) bool {
	for _, p := range ps {
		if p.Leader < 0 {
			return false
		}
	}
	return true
}

// endOffsets returns the high watermark of every partition of topic.
func (k *kafkaEnv) endOffsets(topic string) ([]int64, error) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": k.brokers, "group.id": "bench-watermarks", "enable.metrics.push": false})
	if err != nil {
		return nil, fmt.Errorf("create watermark consumer: %w", err)
	}
	defer c.Close()
	out := make([]int64, partitions)
	for p := range out {
		_, high, err := c.QueryWatermarkOffsets(topic, int32(p), 10000)
		if err != nil {
			return nil, fmt.Errorf("watermarks of %s/%d: %w", topic, p, err)
		}
		out[p] = high
	}
	return out, nil
}

// storedCount returns how many messages topic holds (all partitions).
func (k *kafkaEnv) storedCount(topic string) (int64, error) {
	ends, err := k.endOffsets(topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n, nil
}

// producerConfig is exactly the configuration rafka gives each of its
// producers (config.producerDefaults plus the brokers), so the raw baseline
// runs with the same settings.
func producerConfig(brokers string) *kafka.ConfigMap {
	return (&config.File{}).ProducerProperties(brokers).ConfigMap()
}

// rawConsumerConfig is a plain librdkafka group consumer: librdkafka's
// defaults (auto commit, auto offset store) reading from the beginning.
func rawConsumerConfig(brokers, group, reset string) *kafka.ConfigMap {
	return &kafka.ConfigMap{
		"bootstrap.servers":   brokers,
		"group.id":            group,
		"auto.offset.reset":   reset,
		"enable.metrics.push": false,
	}
}

// rafkaConsumerConfig is the configuration rafka gives each of its
// consumers (config.ConsumerProperties: bounded prefetch, stores offsets
// only on ack), for a raw consumer that differs from rafka only by the
// gateway.
func rafkaConsumerConfig(brokers, group, reset string) *kafka.ConfigMap {
	props := (&config.File{}).ConsumerProperties(brokers)
	props["group.id"] = group
	props["auto.offset.reset"] = reset
	return props.ConfigMap()
}

// produceRaw produces n messages of value to topic with one librdkafka
// producer and waits for every delivery report. It returns the elapsed time
// from the first produce to the last report. With warmTopic, the producer
// first delivers one message there (connection, producer ID, metadata)
// before the clock starts.
func produceRaw(ctx context.Context, brokers, warmTopic, topic string, n int, value []byte, headers []kafka.Header) (time.Duration, error) {
	p, err := kafka.NewProducer(producerConfig(brokers))
	if err != nil {
		return 0, fmt.Errorf("create producer: %w", err)
	}
	defer p.Close()
	if warmTopic != "" {
		err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &warmTopic, Partition: kafka.PartitionAny}, Value: value}, nil)
		if err == nil {
			err = awaitDeliveries(ctx, p, 1)
		}
		if err != nil {
			return 0, fmt.Errorf("warm-up: %w", err)
		}
	}
	reports := make(chan error, 1)
	go func() { reports <- awaitDeliveries(ctx, p, n) }()
	start := time.Now()
	tp := kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}
	for i := 0; i < n; {
		err := p.Produce(&kafka.Message{TopicPartition: tp, Value: value, Headers: headers}, nil)
		if err == nil {
			i++
			continue
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
			// The delivery goroutine drains the queue; wait a little.
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("produce: %w", ctx.Err())
			case <-time.After(time.Millisecond):
			}
			continue
		}
		return 0, fmt.Errorf("produce message %d: %w", i, err)
	}
	if err := <-reports; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// awaitDeliveries reads p's events until n delivery reports arrived; a
// failed delivery is an error.
func awaitDeliveries(ctx context.Context, p *kafka.Producer, n int) error {
	for got := 0; got < n; {
		select {
		case <-ctx.Done():
			return fmt.Errorf("delivery reports: %d of %d: %w", got, n, ctx.Err())
		case ev := <-p.Events():
			switch e := ev.(type) {
			case *kafka.Message:
				if e.TopicPartition.Error != nil {
					return fmt.Errorf("delivery failed: %w", e.TopicPartition.Error)
				}
				got++
			case kafka.Error:
				if e.IsFatal() {
					return fmt.Errorf("producer: %w", e)
				}
			}
		}
	}
	return nil
}

// payload is a value of n bytes.
func payload(n int) []byte { return bytes.Repeat([]byte("x"), n) }
