package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	wmmessage "github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// TestWatermillRedisStream runs Watermill's redisstream Pub/Sub, unmodified,
// on rafka: a subscriber group gets and acks every published message, a
// nacked message comes again, and a message its subscriber never acked (the
// subscriber gone) is claimed by another after the claim interval.
func TestWatermillRedisStream(t *testing.T) {
	ts := startServer(t)
	topic, group := uniqueName(t, "wm"), uniqueName(t, "wmg")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	logger := watermill.NopLogger{}
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr})
	defer rdb.Close()
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: rdb, Marshaller: redisstream.DefaultMarshallerUnmarshaller{}}, logger)
	if err != nil {
		t.Fatal(err)
	}
	newSub := func(consumer string) *redisstream.Subscriber {
		sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client:        redis.NewClient(&redis.Options{Addr: ts.addr}),
			Unmarshaller:  redisstream.DefaultMarshallerUnmarshaller{},
			ConsumerGroup: group,
			Consumer:      consumer,
			OldestId:      "0",
			ClaimInterval: 500 * time.Millisecond,
			MaxIdleTime:   time.Second,
		}, logger)
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}

	// 1. Every message published reaches the group once and is acked; the
	// second is nacked once and comes again.
	const n = 20
	sub1 := newSub("c1")
	msgs, err := sub1.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := pub.Publish(topic, wmmessage.NewMessage(watermill.NewUUID(), []byte(fmt.Sprint("m", i)))); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	got := map[string]int{}
	nacked := false
	for len(got) < n {
		select {
		case m := <-msgs:
			p := string(m.Payload)
			if p == "m1" && !nacked {
				nacked = true
				m.Nack()
				continue
			}
			got[p]++
			m.Ack()
		case <-ctx.Done():
			t.Fatalf("got %d of %d messages (%v)", len(got), n, got)
		}
	}
	for p, c := range got {
		if c != 1 {
			t.Errorf("%s delivered %d times", p, c)
		}
	}
	if !nacked {
		t.Error("m1 was never nacked")
	}

	// 2. A message taken and never acked (its subscriber closes) is claimed
	// by another subscriber after MaxIdleTime.
	if err := pub.Publish(topic, wmmessage.NewMessage(watermill.NewUUID(), []byte("orphan"))); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if string(m.Payload) != "orphan" {
			t.Fatalf("got %q", m.Payload)
		}
		// Not acked: the subscriber goes away with it.
	case <-ctx.Done():
		t.Fatal("the orphan never came")
	}
	_ = sub1.Close()
	sub2 := newSub("c2")
	defer sub2.Close()
	msgs2, err := sub2.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs2:
		if string(m.Payload) != "orphan" {
			t.Fatalf("c2 got %q, want the orphan", m.Payload)
		}
		m.Ack()
	case <-ctx.Done():
		t.Fatal("the orphan was never claimed by c2")
	}
}
