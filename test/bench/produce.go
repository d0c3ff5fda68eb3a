package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// P1 parameters: rafka's side uses this many connections, pipelining up to
// this many commands each.
const (
	produceConns = 50
	produceDepth = 100
)

// benchProduce is P1: a raw librdkafka producer vs. rafka RPUSHX from
// produceConns connections, pipelined and unpipelined, each waiting until
// Kafka acknowledged every message.
func (b *bench) benchProduce(ctx context.Context) error {
	const scenario = "P1 produce"
	value := payload(valueSize)

	n := b.count(1_000_000)
	topic, err := b.topic(ctx, "p1-raw")
	if err != nil {
		return err
	}
	rawCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	elapsed, err := produceRaw(rawCtx, b.kafka.brokers, "", topic, n, value, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("raw producer: %w", err)
	}
	if err := b.checkStored(topic, int64(n)); err != nil {
		return err
	}
	raw := rate(n, elapsed)
	b.rawProduceRate = raw
	b.add(result{scenario: scenario, name: "raw librdkafka producer (1 producer, rafka's producer settings, acks=all)",
		count: n, elapsed: elapsed, figure: fmtRate(raw), ratio: "1.00 (baseline)"})

	for _, v := range []struct {
		label  string
		depth  int
		n      int
		target bool // the target applies
	}{
		{fmt.Sprintf("rafka RPUSHX, %d conns pipelining %d deep, then DUMP", produceConns, produceDepth), produceDepth, b.count(1_000_000), true},
		{fmt.Sprintf("rafka RPUSHX, %d conns unpipelined, then DUMP", produceConns), 1, b.count(100_000), false},
	} {
		topic, err := b.topic(ctx, "p1-rafka")
		if err != nil {
			return err
		}
		before, err := rafkaStats(ctx, b.rafka.addr)
		if err != nil {
			return err
		}
		runCtx, cancel := context.WithTimeout(ctx, 120*time.Second)
		elapsed, rounds, err := produceRafka(runCtx, b.rafka.addr, topic, v.n, v.depth, value)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", v.label, err)
		}
		if err := b.checkStored(topic, int64(v.n)); err != nil {
			if serr := b.checkProducerStats(ctx, before, v.label); serr != nil {
				err = fmt.Errorf("%w; %w", err, serr)
			}
			return err
		}
		if err := b.checkProducerStats(ctx, before, v.label); err != nil {
			return err
		}
		r := rate(v.n, elapsed)
		what := "latency"
		if v.depth > 1 {
			what = fmt.Sprintf("latency of a round of %d", v.depth)
		}
		figure := fmt.Sprintf("%s; %s %s", fmtRate(r), what, summarize(rounds))
		res := result{scenario: scenario, name: v.label, count: v.n, elapsed: elapsed, figure: figure, ratio: fmtRatio(r / raw)}
		if v.target {
			res.target, res.verdict = "≥ 0.8× raw", verdictMin(r/raw, 0.8)
		}
		b.add(res)
	}
	return nil
}

// produceRafka sends n RPUSHX commands of one message each over
// produceConns connections, depth commands in flight per connection, then
// DUMP on every connection until all were delivered. It returns the time
// from the first command to the last DUMP reply and the time of every
// round (from sending its commands to reading its last reply).
func produceRafka(ctx context.Context, addr, topic string, n, depth int, value []byte) (time.Duration, []time.Duration, error) {
	conns := make([]*respConn, produceConns)
	for i := range conns {
		c, err := dialRESP(ctx, addr)
		if err != nil {
			return 0, nil, err
		}
		defer c.Close()
		conns[i] = c
	}
	rounds := make([][]time.Duration, len(conns))
	key := []string{"RPUSHX", "topics:" + topic}
	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		share := n / len(conns)
		if i < n%len(conns) {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			rounds[i], err = rpushxLoop(c, key, value, share, depth)
			errs <- err
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, nil, err
		}
	}
	return elapsed, slices.Concat(rounds...), nil
}

// rpushxLoop sends n RPUSHX commands on c in rounds of depth pipelined
// commands, then DUMP 60000, which must report nothing undelivered. It
// returns the time of every round.
func rpushxLoop(c *respConn, key []string, value []byte, n, depth int) ([]time.Duration, error) {
	rounds := make([]time.Duration, 0, n/depth+1)
	for sent := 0; sent < n; {
		round := min(depth, n-sent)
		start := time.Now()
		for i := 0; i < round; i++ {
			c.WriteArgs(key, value)
		}
		if err := c.Flush(); err != nil {
			return nil, err
		}
		for i := 0; i < round; i++ {
			got, err := c.ReadInt()
			if err != nil {
				return nil, fmt.Errorf("RPUSHX: %w", err)
			}
			if got != 1 {
				return nil, fmt.Errorf("RPUSHX replied %d, want 1", got)
			}
		}
		rounds = append(rounds, time.Since(start))
		sent += round
	}
	r, err := c.Call("DUMP", "60000")
	if err != nil {
		return nil, fmt.Errorf("DUMP: %w", err)
	}
	if r.Num != 0 {
		return nil, fmt.Errorf("DUMP: %d messages still undelivered after 60 s", r.Num)
	}
	return rounds, nil
}
