package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// latencyRaw measures a confluent-kafka-go producer to a group consumer,
// both with rafka's settings.
func (b *bench) latencyRaw(ctx context.Context, col *latencyCollector) error {
	topic, err := b.topic(ctx, "p4-raw")
	if err != nil {
		return err
	}
	c, err := kafka.NewConsumer(rafkaConsumerConfig(b.kafka.brokers, b.name("p4-raw"), "latest"))
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	consumed := make(chan error, 1)
	go func() {
		consumed <- func() error {
			for !col.stopped() {
				switch e := c.Poll(100).(type) {
				case *kafka.Message:
					if err := col.observe(string(e.Value), time.Now()); err != nil {
						return err
					}
				case kafka.Error:
					if e.IsFatal() {
						return fmt.Errorf("consumer: %w", e)
					}
				}
			}
			return nil
		}()
	}()
	p, err := kafka.NewProducer(producerConfig(b.kafka.brokers))
	if err != nil {
		return fmt.Errorf("create producer: %w", err)
	}
	defer p.Close()
	var failed atomic.Int64
	go func() {
		for ev := range p.Events() {
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				failed.Add(1)
			}
		}
	}()
	tp := kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}
	err = drive(ctx, func(v []byte) error { return p.Produce(&kafka.Message{TopicPartition: tp, Value: v}, nil) }, col, col.want)
	if cerr := <-consumed; err == nil {
		err = cerr
	}
	if n := failed.Load(); n > 0 && err == nil {
		err = fmt.Errorf("%d deliveries failed", n)
	}
	return err
}

// latencyRafka measures RPUSHX on one connection to BLPOP on another, the
// consumer acking each message with its next BLPOP.
func (b *bench) latencyRafka(ctx context.Context, col *latencyCollector) error {
	topic, err := b.topic(ctx, "p4-rafka")
	if err != nil {
		return err
	}
	cons, err := dialRESP(ctx, b.rafka.addr)
	if err != nil {
		return err
	}
	defer cons.Close()
	if _, err := cons.Call("CLIENT", "SETNAME", b.name("p4-rafka")+":w"); err != nil {
		return fmt.Errorf("CLIENT SETNAME: %w", err)
	}
	consumed := make(chan error, 1)
	go func() { consumed <- blpopLatencyLoop(cons, "topics:"+topic, col) }()

	prod, err := dialRESP(ctx, b.rafka.addr)
	if err != nil {
		return err
	}
	defer prod.Close()
	var sent, read atomic.Int64
	replies := make(chan error, 1)
	go func() {
		for {
			if _, err := prod.ReadInt(); err != nil {
				replies <- err
				return
			}
			read.Add(1)
		}
	}()
	key := []string{"RPUSHX", "topics:" + topic}
	err = drive(ctx, func(v []byte) error {
		sent.Add(1)
		prod.WriteArgs(key, v)
		return prod.Flush()
	}, col, col.want)
	if cerr := <-consumed; err == nil {
		err = cerr
	}
	// Every RPUSHX must have been answered before the connection closes.
	for deadline := time.Now().Add(5 * time.Second); read.Load() < sent.Load() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	prod.Close()
	rerr := <-replies
	if err == nil && read.Load() < sent.Load() {
		err = fmt.Errorf("RPUSHX: %d of %d replies: %w", read.Load(), sent.Load(), rerr)
	}
	return err
}

// blpopLatencyLoop pops messages with BLPOP, acking each with the next
// BLPOP, and hands their values to col until col stops.
func blpopLatencyLoop(c *respConn, key string, col *latencyCollector) error {
	var ack []byte
	ackReply := func() error {
		if _, err := c.ReadInt(); err != nil {
			return fmt.Errorf("RPUSH acks: %w", err)
		}
		return nil
	}
	for !col.stopped() {
		r, ok, err := popAfterAcks(c, pending(ack), ackReply, "BLPOP", key, "1")
		at := time.Now()
		if err != nil {
			return err
		}
		ack = ack[:0]
		if !ok {
			continue
		}
		if len(r.Elems) != 8 {
			return fmt.Errorf("BLPOP reply has %d elements, want 8", len(r.Elems))
		}
		if err := col.observe(r.Elems[7].Str, at); err != nil {
			return err
		}
		ack = appendAck(ack, r.Elems[1].Str, r.Elems[3].Num, r.Elems[5].Num)
	}
	return nil
}
