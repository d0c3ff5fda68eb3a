package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/streams"
)

// benchStreams is P6, Redis Streams: pipelined XADD against the raw
// producer, XREADGROUP COUNT 100 + XACK against the raw consumer, and the
// memory of 1000 idle Redis consumers of one group.
func (b *bench) benchStreams(ctx context.Context) error {
	const scenario = "P6 streams"
	value := payload(valueSize)
	n := b.count(500_000)
	// Both producing sides are timed warm: the raw producer has delivered
	// one message, and each XADD connection has had one reply (rafka's
	// librdkafka producer is then connected and has its producer ID), so
	// that neither figure holds the few hundred milliseconds of a
	// producer's start.
	warmTopic, err := b.topic(ctx, "p6-warm")
	if err != nil {
		return err
	}

	// The three producing cases alternate, p6Rounds times: the machine's
	// drift (other load, the broker warming up) weighs on each of them.
	var rec kafka.Message
	streams.NewMapping([]string{"payload"}).Record(&rec, []streams.Pair{{Field: []byte("payload"), Value: value}}, nil)
	var raw, marked, xadd rounds
	var topic string
	for range p6Rounds {
		// The raw producer, as in P1.
		rawTopic, err := b.topic(ctx, "p6-raw")
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		elapsed, err := produceRaw(rctx, b.kafka.brokers, warmTopic, rawTopic, n, value, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("raw producer: %w", err)
		}
		raw.add(n, elapsed)

		// For comparison, not a target: the same producer writing the
		// records XADD writes for these entries (the payload as the
		// value, and the mapping's marker header).
		markedTopic, err := b.topic(ctx, "p6-raw-marked")
		if err != nil {
			return err
		}
		rctx, cancel = context.WithTimeout(ctx, 90*time.Second)
		elapsed, err = produceRaw(rctx, b.kafka.brokers, warmTopic, markedTopic, n, value, rec.Headers)
		cancel()
		if err != nil {
			return fmt.Errorf("raw producer of XADD's records: %w", err)
		}
		marked.add(n, elapsed)

		if topic, err = b.topic(ctx, "p6-xadd"); err != nil {
			return err
		}
		xctx, cancel := context.WithTimeout(ctx, 120*time.Second)
		elapsed, err = xaddRafka(xctx, b.rafka.addr, warmTopic, topic, n, produceDepth, value)
		cancel()
		if err != nil {
			return fmt.Errorf("XADD: %w", err)
		}
		if err := b.checkStored(topic, int64(n)); err != nil {
			return err
		}
		xadd.add(n, elapsed)
	}
	rawRate, rawElapsed := raw.median()
	b.add(result{scenario: scenario, name: "raw librdkafka producer (1 producer, rafka's producer settings)", count: n,
		elapsed: rawElapsed, figure: raw.figure(), ratio: "1.00 (baseline)"})
	markedRate, markedElapsed := marked.median()
	b.add(result{scenario: scenario, name: "raw librdkafka producer of the records XADD writes (with the marker header; for comparison)", count: n,
		elapsed: markedElapsed, figure: marked.figure(), ratio: fmtRatio(markedRate / rawRate)})
	r, elapsed := xadd.median()
	b.add(result{scenario: scenario, name: fmt.Sprintf("rafka XADD, %d conns pipelining %d deep (each reply after Kafka's ack)", produceConns, produceDepth),
		count: n, elapsed: elapsed, figure: xadd.figure(), ratio: fmtRatio(r / rawRate), target: "≥ 0.5× raw", verdict: verdictMin(r/rawRate, 0.5)})

	// Consuming: the raw consumer, then XREADGROUP + XACK, of the XADD topic.
	ends, err := b.kafka.endOffsets(topic)
	if err != nil {
		return err
	}
	tr := newTracker(ends, int64(n))
	cctx, cancel := context.WithTimeout(ctx, consumeBound)
	tr.begin()
	err = consumeRaw(cctx, rafkaConsumerConfig(b.kafka.brokers, b.name("p6-rawc"), "earliest"), topic, tr)
	cancel()
	if err != nil || !tr.finished() {
		return fmt.Errorf("raw consumer: %v", err)
	}
	_, reading := tr.timing()
	rawC := rate(n, reading)
	b.add(result{scenario: scenario, name: "raw librdkafka group consumer (rafka's consumer settings)", count: n,
		elapsed: reading, figure: fmtRate(rawC), ratio: "1.00 (baseline)"})

	group := b.name("p6-g")
	if err := createStreamGroup(ctx, b.rafka.addr, topic, group, "0"); err != nil {
		return err
	}
	tr = newTracker(ends, int64(n))
	cctx, cancel = context.WithTimeout(ctx, consumeBound)
	tr.begin()
	err = xreadgroupRafka(cctx, b.rafka.addr, topic, group, tr)
	cancel()
	unique, _ := tr.progress()
	if err != nil && !tr.finished() {
		return fmt.Errorf("XREADGROUP: read %d of %d: %w", unique, n, err)
	}
	_, reading = tr.timing()
	rc := rate(int(unique), reading)
	b.add(result{scenario: scenario, name: fmt.Sprintf("rafka XREADGROUP COUNT 100 + one XACK per batch, %d conns in one group", consumeConns),
		count: int(unique), elapsed: reading, figure: fmtRate(rc), ratio: fmtRatio(rc / rawC), target: "≥ 0.5× raw", verdict: verdictMin(rc/rawC, 0.5)})
	return b.memoryStreamConsumers(ctx, b.count(1000))
}

// xaddRafka sends n XADDs to topic over produceConns connections, depth
// pipelined per round, each reply an ID (Kafka acknowledged the entry). The
// clock starts once every connection has had the reply of one XADD to
// warmTopic.
func xaddRafka(ctx context.Context, addr, warmTopic, topic string, n, depth int, value []byte) (time.Duration, error) {
	errs := make(chan error, produceConns)
	var warm, wg sync.WaitGroup
	begin := make(chan struct{})
	warm.Add(produceConns)
	for i := range produceConns {
		share := n / produceConns
		if i < n%produceConns {
			share++
		}
		wg.Go(func() {
			c, err := dialRESP(ctx, addr)
			if err == nil {
				defer c.Close()
				if r, derr := c.Do("XADD", warmTopic, "*", "payload", "warm"); derr != nil {
					err = derr
				} else if r.Kind != '$' {
					err = fmt.Errorf("warm-up XADD replied %s", r)
				}
			}
			warm.Done()
			if err != nil {
				errs <- err
				return
			}
			<-begin
			args := []string{"XADD", topic, "*", "payload"}
			for sent := 0; sent < share; {
				round := min(depth, share-sent)
				for range round {
					c.WriteArgs(args, value)
				}
				if err := c.Flush(); err != nil {
					errs <- err
					return
				}
				for range round {
					r, err := c.Read()
					if err == nil && r.Kind != '$' {
						err = fmt.Errorf("XADD replied %s", r)
					}
					if err != nil {
						errs <- err
						return
					}
				}
				sent += round
			}
		})
	}
	warm.Wait()
	start := time.Now()
	close(begin)
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		return 0, err
	}
	return elapsed, nil
}

// xreadgroupRafka reads with consumeConns connections of one group until tr
// is done: XREADGROUP COUNT 100, then one XACK of the batch.
func xreadgroupRafka(ctx context.Context, addr, topic, group string, tr *tracker) error {
	errs := make(chan error, consumeConns)
	var wg sync.WaitGroup
	for i := range consumeConns {
		wg.Go(func() {
			c, err := dialRESP(ctx, addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			consumer := "c" + strconv.Itoa(i)
			ack := []string{"XACK", topic, group}
			for !tr.finished() && ctx.Err() == nil {
				r, err := c.Do("XREADGROUP", "GROUP", group, consumer, "COUNT", "100", "BLOCK", "1000", "STREAMS", topic, ">")
				if err != nil {
					errs <- err
					return
				}
				if r.Null || len(r.Elems) == 0 {
					continue
				}
				ids := ack[:3]
				for _, e := range r.Elems[0].Elems[1].Elems {
					id := e.Elems[0].Str
					ms, seq, err := parseEntryID(id)
					if err != nil {
						errs <- err
						return
					}
					if err := tr.mark(int32(seq), ms-1); err != nil {
						errs <- err
						return
					}
					ids = append(ids, id)
				}
				if _, err := c.Call(ids...); err != nil {
					errs <- fmt.Errorf("XACK: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}

// parseEntryID splits an entry ID "<ms>-<seq>" without fmt.Sscanf's
// allocations: the client shares the machine's cores with rafka and Kafka.
func parseEntryID(id string) (ms, seq int64, err error) {
	a, b, ok := strings.Cut(id, "-")
	if ok {
		if ms, err = strconv.ParseInt(a, 10, 64); err == nil {
			seq, err = strconv.ParseInt(b, 10, 32)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("entry ID %q is not <ms>-<seq>", id)
	}
	return ms, seq, nil
}

// memoryStreamConsumers measures a fresh rafka's memory for n idle Redis
// consumers of one stream group (each connection named by one XREADGROUP).
func (b *bench) memoryStreamConsumers(ctx context.Context, n int) error {
	topic, err := b.topic(ctx, "p6-mem")
	if err != nil {
		return err
	}
	s, _, err := b.startRafka(ctx, "--max-clients", memoryMaxClient)
	if err != nil {
		return err
	}
	defer b.stopServer(s)
	group := b.name("p6-mem-g")
	if err := createStreamGroup(ctx, s.addr, topic, group, "$"); err != nil {
		return err
	}
	base, err := settledMemory(ctx, s, memoryBaseWait)
	if err != nil {
		return err
	}
	conns, err := openConns(ctx, s.addr, n, func(i int, c *respConn) error {
		r, err := c.Call("XREADGROUP", "GROUP", group, "c"+strconv.Itoa(i), "BLOCK", "10", "STREAMS", topic, ">")
		if err != nil {
			return fmt.Errorf("XREADGROUP: %w", err)
		}
		if !r.Null {
			return fmt.Errorf("XREADGROUP of an empty stream replied %s", r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer closeAll(conns)
	after, err := settledMemory(ctx, s, memoryBaseWait)
	if err != nil {
		return err
	}
	per := float64(after.rssKB-base.rssKB) / float64(n) // KiB
	b.add(result{scenario: "P6 streams", name: "fresh rafka with one stream group (memory base)",
		figure: fmtMemory(base), ratio: "1.00 (baseline)"})
	b.add(result{scenario: "P6 streams", name: "idle Redis consumers of that one group (one XREADGROUP each, sharing one Kafka member)",
		count: n, figure: fmt.Sprintf("%s; %s per consumer", fmtMemory(after), fmtKB(per)),
		ratio: fmtRatio(float64(after.rssKB) / float64(base.rssKB)), target: "≤ 50 KB per consumer", verdict: verdictMax(per, 50)})
	return nil
}

// createStreamGroup runs XGROUP CREATE topic group start on the rafka at
// addr.
func createStreamGroup(ctx context.Context, addr, topic, group, start string) error {
	c, err := dialRESP(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Call("XGROUP", "CREATE", topic, group, start); err != nil {
		return fmt.Errorf("XGROUP CREATE: %w", err)
	}
	return nil
}

// p6Rounds is how many times P6 alternates its producing cases.
const p6Rounds = 3

// rounds are the timings of one case's rounds.
type rounds struct {
	rates   []float64
	elapsed []time.Duration
}

func (r *rounds) add(n int, elapsed time.Duration) {
	r.rates = append(r.rates, rate(n, elapsed))
	r.elapsed = append(r.elapsed, elapsed)
}

// median is the median round's rate and time.
func (r *rounds) median() (float64, time.Duration) {
	order := make([]int, len(r.rates))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(r.rates[a], r.rates[b]) })
	m := order[len(order)/2]
	return r.rates[m], r.elapsed[m]
}

// figure is the median rate, then every round's in the order run.
func (r *rounds) figure() string {
	m, _ := r.median()
	each := make([]string, len(r.rates))
	for i, x := range r.rates {
		each[i] = fmtInt(int64(x + 0.5))
	}
	return fmt.Sprintf("%s (median; rounds %s)", fmtRate(m), strings.Join(each, ", "))
}
