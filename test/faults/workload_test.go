package faults

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// workload is the checker's traffic through one rafka: producers sending
// unique messages with durable RPUSH at a fixed total rate, and consumers of
// one group popping and acking them, all reconnecting through faults.
type workload struct {
	t      *testing.T
	addr   string
	topic  string
	group  string
	ledger *ledger

	// producers is the number of producer connections; messages the total
	// to produce; rate the total messages per second; batch the messages
	// per RPUSH.
	producers, messages, rate, batch int

	// streams makes it a Redis Streams workload: pipelined XADD, and
	// XREADGROUP/XACK in one stream group.
	streams bool

	// producing counts running producers; consuming the running consumers.
	producing, consuming sync.WaitGroup
	// consumers are the running consumers, by member name.
	mu        sync.Mutex
	consumers map[string]runningConsumer
}

// runningConsumer is a consumer goroutine: cancel stops it, done is closed
// once its connection is closed.
type runningConsumer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// newWorkload prepares a workload against the rafka at addr.
func newWorkload(t *testing.T, addr, topic string, messages, rate int) *workload {
	return &workload{
		t:         t,
		addr:      addr,
		topic:     topic,
		group:     topic + "-checker",
		ledger:    newLedger(),
		producers: 4,
		messages:  messages,
		rate:      rate,
		batch:     50,
		consumers: map[string]runningConsumer{},
	}
}

// client opens a go-redis client with one connection (name set on every
// new connection) and no automatic retries: the checker sees every failure.
func (w *workload) client(name string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:             w.addr,
		Protocol:         2,
		ClientName:       name,
		PoolSize:         1,
		PipelinePoolSize: -1,
		MaxRetries:       -1,
		DialTimeout:      time.Second,
		ReadTimeout:      10 * time.Second,
		WriteTimeout:     5 * time.Second,
	})
}

// startProducers starts the producers; each sends messages/producers
// messages in batches, paced so that all of them together send rate
// messages per second, re-sending a batch until rafka acknowledges it.
func (w *workload) startProducers(ctx context.Context) {
	per := w.messages / w.producers
	interval := time.Duration(float64(time.Second) * float64(w.batch*w.producers) / float64(w.rate))
	for p := range w.producers {
		w.producing.Go(func() { w.produce(ctx, p, per, interval) })
	}
}

// produce is producer p: ids p*1e9+1 ... p*1e9+n.
func (w *workload) produce(ctx context.Context, p, n int, interval time.Duration) {
	rdb := w.client("")
	defer rdb.Close()
	key := "topics:" + w.topic
	next := time.Now()
	ids := make([]int64, 0, w.batch)
	values := make([]any, 0, w.batch)
	for sent := 0; sent < n; {
		ids, values = ids[:0], values[:0]
		for i := range min(w.batch, n-sent) {
			id := int64(p)*1_000_000_000 + int64(sent+i+1)
			ids = append(ids, id)
			values = append(values, messageValue(id))
		}
		if !sleepUntil(ctx, next) {
			return
		}
		next = next.Add(interval)
		for {
			var err error
			if w.streams {
				err = w.xadd(ctx, rdb, values)
			} else {
				var got int64
				got, err = rdb.RPush(ctx, key, values...).Result()
				if err == nil && got != int64(len(ids)) {
					err = fmt.Errorf("RPUSH replied %d for %d messages", got, len(ids))
				}
			}
			if err == nil {
				w.ledger.produced(ids)
				break
			}
			if ctx.Err() != nil {
				return
			}
			w.ledger.produceFailed(ids, err)
			if !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
				return
			}
		}
		sent += len(ids)
	}
}

// xadd sends one pipelined XADD per value; it succeeds when every one got
// an ID (a failed batch is sent again whole).
func (w *workload) xadd(ctx context.Context, rdb *redis.Client, values []any) error {
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, v := range values {
			p.XAdd(ctx, &redis.XAddArgs{Stream: w.topic, Values: []any{"payload", v}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if c.Err() != nil {
			return c.Err()
		}
	}
	return nil
}

// produced reports whether every message has been acknowledged.
func (w *workload) produced() bool {
	acked, _ := w.ledger.counts()
	return acked >= w.messages
}

// waitProduced waits until every producer has finished.
func (w *workload) waitProduced() { w.producing.Wait() }

// startConsumer starts group member name: BLPOP, record, ack, and on any
// error reconnect after a short pause. stopConsumer ends it.
func (w *workload) startConsumer(ctx context.Context, member string) {
	ctx, cancel := context.WithCancel(ctx)
	rc := runningConsumer{cancel: cancel, done: make(chan struct{})}
	w.mu.Lock()
	w.consumers[member] = rc
	w.mu.Unlock()
	w.consuming.Go(func() {
		defer close(rc.done)
		w.consume(ctx, member)
	})
}

// consume runs one consumer until ctx is done, then closes its connection
// (rafka commits the accepted acks and leaves the group).
func (w *workload) consume(ctx context.Context, member string) {
	if w.streams {
		w.consumeStream(ctx, member)
		return
	}
	rdb := w.client(w.group + ":" + member)
	defer rdb.Close()
	key := "topics:" + w.topic
	for ctx.Err() == nil {
		res, err := rdb.BLPop(ctx, time.Second, key).Result()
		if readFailed(ctx, err) {
			continue
		}
		pos, value, err := parseBLPOP(res)
		if err != nil {
			w.t.Errorf("consumer %s: %v", member, err)
			return
		}
		w.ledger.delivered(member, value, pos)
		// A delivered message is always acked, even when the consumer is
		// being stopped: it leaves only after that.
		ack := fmt.Sprintf("%s:%d:%d", w.topic, pos.partition, pos.offset)
		n, err := rdb.RPush(context.WithoutCancel(ctx), "acks", ack).Result()
		if err == nil && n != 1 {
			err = fmt.Errorf("RPUSH acks replied %d", n)
		}
		w.ledger.acked(value, err)
	}
}

// consumeStream is consume for a streams workload: XREADGROUP > of up to
// 100 entries, each recorded, then one XACK of them all.
func (w *workload) consumeStream(ctx context.Context, member string) {
	rdb := w.client("")
	defer rdb.Close()
	for ctx.Err() == nil {
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: w.group, Consumer: member,
			Streams: []string{w.topic, ">"}, Count: 100, Block: time.Second}).Result()
		if readFailed(ctx, err) {
			continue
		}
		var ids []string
		var values []string
		for _, s := range res {
			for _, m := range s.Messages {
				pos, err := streamPosition(m.ID)
				if err != nil {
					w.t.Errorf("consumer %s: %v", member, err)
					return
				}
				value, _ := m.Values["payload"].(string)
				w.ledger.delivered(member, value, pos)
				ids, values = append(ids, m.ID), append(values, value)
			}
		}
		if len(ids) == 0 {
			continue
		}
		// Delivered entries are always acked, even when stopping.
		n, err := rdb.XAck(context.WithoutCancel(ctx), w.topic, w.group, ids...).Result()
		if err == nil && n != int64(len(ids)) {
			// An entry of a partition moved to another member meanwhile
			// is no longer pending here: it will be redelivered.
			err = fmt.Errorf("XACK acked %d of %d", n, len(ids))
		}
		for _, v := range values {
			w.ledger.acked(v, err)
		}
	}
}

// streamPosition is the record an entry ID names: (offset+1)-partition.
func streamPosition(id string) (position, error) {
	var ms, seq int64
	if _, err := fmt.Sscanf(id, "%d-%d", &ms, &seq); err != nil || ms < 1 {
		return position{}, fmt.Errorf("entry ID %q is not <offset+1>-<partition>", id)
	}
	return position{partition: int32(seq), offset: ms - 1}, nil
}

// stopConsumer stops member and waits until its connection is closed.
func (w *workload) stopConsumer(member string) {
	w.mu.Lock()
	rc, ok := w.consumers[member]
	delete(w.consumers, member)
	w.mu.Unlock()
	if ok {
		rc.cancel()
		<-rc.done
	}
}

// stopAll stops every consumer and waits for all clients to finish.
func (w *workload) stopAll() {
	w.mu.Lock()
	for member, rc := range w.consumers {
		rc.cancel()
		delete(w.consumers, member)
	}
	w.mu.Unlock()
	w.producing.Wait()
	w.consuming.Wait()
}

// drain waits until every acknowledged message has been delivered, or
// limit passes.
func (w *workload) drain(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		acked, delivered := w.ledger.counts()
		if delivered == acked {
			return
		}
		sleepUntil(ctx, time.Now().Add(200*time.Millisecond))
	}
}

// parseBLPOP decodes rafka's BLPOP reply: topic, <t>, partition, <p>,
// offset, <o>, value, <v>.
func parseBLPOP(res []string) (position, string, error) {
	if len(res) != 8 || res[0] != "topic" || res[2] != "partition" || res[4] != "offset" || res[6] != "value" {
		return position{}, "", fmt.Errorf("unexpected BLPOP reply %q", res)
	}
	p, err := strconv.ParseInt(res[3], 10, 32)
	if err != nil {
		return position{}, "", fmt.Errorf("BLPOP partition %q: %w", res[3], err)
	}
	o, err := strconv.ParseInt(res[5], 10, 64)
	if err != nil {
		return position{}, "", fmt.Errorf("BLPOP offset %q: %w", res[5], err)
	}
	return position{partition: int32(p), offset: o}, res[7], nil
}

// sleepUntil sleeps until t or ctx is done; it reports whether ctx is still
// live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readFailed reports whether a consumer's read got nothing to handle: no
// message in its wait (redis.Nil), or an error, after which it pauses a
// moment unless the workload is ending.
func readFailed(ctx context.Context, err error) bool {
	if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
		sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
	}
	return err != nil
}
