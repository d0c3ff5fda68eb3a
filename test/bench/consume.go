package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/test/rafkatest"
)

// consumeConns is k, the number of rafka connections reading in parallel.
const consumeConns = 4

// consumeBound is the time bound of each P3 reader.
const consumeBound = 150 * time.Second

// reader is one P3 contestant: it reads the pre-filled topic until the
// tracker has seen enough, with a fresh group.
type reader struct {
	label  string
	want   int     // distinct messages to read
	target string  // the target, if any
	min    float64 // the target as a ratio to raw
	read   func(ctx context.Context, topic, group string, tr *tracker) error
}

// benchConsume is P3: reading a pre-filled topic with a raw librdkafka
// group consumer vs. rafka BLPOP, ARROW.BLPOP and Flight DoGet.
func (b *bench) benchConsume(ctx context.Context) error {
	const scenario = "P3 consume"
	n := b.count(1_000_000)
	topic, err := b.topic(ctx, "p3")
	if err != nil {
		return err
	}
	fillCtx, cancel := context.WithTimeout(ctx, 120*time.Second)
	fill, err := produceRaw(fillCtx, b.kafka.brokers, "", topic, n, payload(valueSize), nil)
	cancel()
	if err != nil {
		return fmt.Errorf("pre-fill: %w", err)
	}
	logf("P3: pre-filled %s with %d messages in %s", topic, n, fill.Round(time.Millisecond))
	ends, err := b.kafka.endOffsets(topic)
	if err != nil {
		return err
	}

	// BLPOP reads one message per round trip: it reads a fixed part of the
	// topic to stay within the time bound.
	nBLPOP := b.count(100_000)
	// Pipelined BLPOP reads more, so that the group's first rebalances
	// (the four members join one after another) weigh as little as in
	// the other rows.
	nPipelined := b.count(300_000)
	var blpopAckErrs, arrowAckErrs atomic.Int64
	readers := []reader{
		{label: "raw librdkafka group consumer (1 consumer, rafka's consumer settings)", want: n,
			read: func(ctx context.Context, topic, group string, tr *tracker) error {
				return consumeRaw(ctx, rafkaConsumerConfig(b.kafka.brokers, group, "earliest"), topic, tr)
			}},
		{label: "raw librdkafka group consumer with librdkafka's defaults (auto commit, 64 MiB prefetch; for comparison)", want: n,
			read: func(ctx context.Context, topic, group string, tr *tracker) error {
				return consumeRaw(ctx, rawConsumerConfig(b.kafka.brokers, group, "earliest"), topic, tr)
			}},
		blpopReader(b, 1, nBLPOP, &blpopAckErrs),
		blpopReader(b, 10, nPipelined, &blpopAckErrs),
		blpopReader(b, 100, nPipelined, &blpopAckErrs),
		{label: fmt.Sprintf("rafka ARROW.BLPOP COUNT 1000, %d conns in one group, RPUSH acks per batch", consumeConns), want: n,
			target: "≥ 0.8× raw", min: 0.8,
			read: func(ctx context.Context, topic, group string, tr *tracker) error {
				return b.rafkaWorkers(ctx, topic, group, tr, &arrowAckErrs, arrowWorker)
			}},
		{label: "rafka Flight DoGet, PATH [topic], all endpoints in parallel", want: n,
			target: "≥ 0.8× raw", min: 0.8,
			read: func(ctx context.Context, topic, _ string, tr *tracker) error {
				return flightRead(ctx, b.flightAddr, topic, tr)
			}},
	}
	var raw float64
	for i, rd := range readers {
		tr := newTracker(ends, int64(rd.want))
		rctx, cancel := context.WithTimeout(ctx, consumeBound)
		tr.begin()
		err := rd.read(rctx, topic, b.name(fmt.Sprintf("p3-g%d", i)), tr)
		cancel()
		unique, dups := tr.progress()
		toFirst, reading := tr.timing()
		name := rd.label
		if tr.finished() {
			unique = int64(rd.want) // later arrivals are past the clock
		} else {
			if err == nil || unique == 0 || ctx.Err() != nil {
				return fmt.Errorf("%s: read %d of %d: %w", rd.label, unique, rd.want, err)
			}
			name += fmt.Sprintf(" — stopped at the %s bound after %d of %d (%v)", consumeBound, unique, rd.want, err)
		}
		if dups > 0 {
			name += fmt.Sprintf(" — %d redelivered", dups)
		}
		// The rate is from the first message on: joining a group takes
		// from 0.1 to several seconds, which would otherwise dominate.
		r := rate(int(unique), reading)
		figure := fmt.Sprintf("%s (%s counting the %.2f s to the first message)",
			fmtRate(r), fmtRate(rate(int(unique), toFirst+reading)), toFirst.Seconds())
		res := result{scenario: scenario, name: name, count: int(unique), elapsed: reading, figure: figure}
		if i == 0 {
			raw = r
			res.ratio = "1.00 (baseline)"
		} else {
			res.ratio = fmtRatio(r / raw)
			if rd.target != "" {
				res.target, res.verdict = rd.target, verdictMin(r/raw, rd.min)
			}
		}
		b.add(res)
	}
	for label, n := range map[string]int64{"BLPOP": blpopAckErrs.Load(), "ARROW.BLPOP": arrowAckErrs.Load()} {
		if n > 0 {
			b.note(fmt.Sprintf("P3 %s: %d acks were refused (partition reassigned by a rebalance)", label, n))
		}
	}
	return nil
}

// consumeRaw reads with one librdkafka group consumer until tr is done.
func consumeRaw(ctx context.Context, cfg *kafka.ConfigMap, topic string, tr *tracker) error {
	c, err := kafka.NewConsumer(cfg)
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for !tr.finished() {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				return fmt.Errorf("consume: %w", e.TopicPartition.Error)
			}
			if err := tr.mark(e.TopicPartition.Partition, int64(e.TopicPartition.Offset)); err != nil {
				return err
			}
		case kafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("consumer: %w", e)
			}
		}
	}
	return nil
}

// workerFunc is one rafka reading connection's loop.
type workerFunc func(ctx context.Context, c *respConn, key string, tr *tracker, ackErrs *atomic.Int64) error

// rafkaWorkers runs consumeConns connections named group:w<i>, each
// running work until tr is done.
func (b *bench) rafkaWorkers(ctx context.Context, topic, group string, tr *tracker, ackErrs *atomic.Int64, work workerFunc) error {
	key := "topics:" + topic + `:{"auto.offset.reset":"earliest"}`
	errs := make(chan error, consumeConns)
	var wg sync.WaitGroup
	for i := 0; i < consumeConns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				c, err := dialRESP(ctx, b.rafka.addr)
				if err != nil {
					return err
				}
				defer c.Close()
				if _, err := c.Call("CLIENT", "SETNAME", fmt.Sprintf("%s:w%d", group, i)); err != nil {
					return fmt.Errorf("CLIENT SETNAME: %w", err)
				}
				return work(ctx, c, key, tr, ackErrs)
			}()
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// blpopReader is the P3 row of BLPOP pipelined depth deep (blpopWorker);
// the target applies from depth 10 on (at depth 1 a message costs a round
// trip).
func blpopReader(b *bench, depth, n int, ackErrs *atomic.Int64) reader {
	label := fmt.Sprintf("rafka BLPOP, %d conns in one group, RPUSH acks per message (pipelined); reads %s of them", consumeConns, fmtInt(int64(n)))
	if depth > 1 {
		label = fmt.Sprintf("rafka BLPOP pipelined %d deep, %d conns in one group, one RPUSH acks of every message per round; reads %s of them", depth, consumeConns, fmtInt(int64(n)))
	}
	rd := reader{label: label, want: n,
		read: func(ctx context.Context, topic, group string, tr *tracker) error {
			return b.rafkaWorkers(ctx, topic, group, tr, ackErrs, func(ctx context.Context, c *respConn, key string, tr *tracker, ackErrs *atomic.Int64) error {
				return blpopWorker(c, key, depth, tr, ackErrs)
			})
		}}
	if depth > 1 {
		rd.target, rd.min = "≥ 0.25× raw", 0.25
	}
	return rd
}

// blpopWorker sends depth BLPOPs at a time, the RPUSH acks of every
// message of the previous round pipelined before them, as a worker loop
// that pipelines would.
func blpopWorker(c *respConn, key string, depth int, tr *tracker, ackErrs *atomic.Int64) error {
	var acks [][]byte
	var buf []byte
	ackReply := func() error { return readAck(c, ackErrs) }
	// Pipelined BLPOPs time out one after another once the topic is read:
	// a short timeout keeps that tail short.
	timeout := "1"
	if depth > 1 {
		timeout = "0.05"
	}
	pop := []string{"BLPOP", key, timeout}
	for !tr.finished() {
		if len(acks) > 0 {
			c.WriteArgs([]string{"RPUSH", "acks"}, acks...)
		}
		for range depth {
			c.Write(pop...)
		}
		if err := c.Flush(); err != nil {
			return err
		}
		if len(acks) > 0 {
			if err := ackReply(); err != nil {
				return err
			}
		}
		acks, buf = acks[:0], buf[:0]
		for range depth {
			r, err := c.Read()
			if err != nil {
				return fmt.Errorf("BLPOP: %w", err)
			}
			if r.Kind == '-' {
				return fmt.Errorf("BLPOP: %s", r.Str)
			}
			if r.Null {
				continue
			}
			if len(r.Elems) != 8 {
				return fmt.Errorf("BLPOP reply has %d elements, want 8", len(r.Elems))
			}
			p, off := r.Elems[3].Num, r.Elems[5].Num
			if err := tr.mark(int32(p), off); err != nil {
				return err
			}
			start := len(buf)
			buf = appendAck(buf, r.Elems[1].Str, p, off)
			acks = append(acks, buf[start:len(buf):len(buf)])
		}
	}
	return sendAcks(c, acks, ackErrs)
}

// appendAck appends "<topic>:<partition>:<offset>" to dst.
func appendAck(dst []byte, topic string, p, off int64) []byte {
	dst = append(dst, topic...)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, p, 10)
	dst = append(dst, ':')
	return strconv.AppendInt(dst, off, 10)
}

// readAck reads the reply to an RPUSH acks; a refused ack (the partition
// was reassigned) is counted, not fatal.
func readAck(c *respConn, ackErrs *atomic.Int64) error {
	_, err := c.ReadInt()
	var refused rafkatest.ErrorReply
	if errors.As(err, &refused) {
		ackErrs.Add(1)
		return nil
	}
	if err != nil {
		return fmt.Errorf("RPUSH acks: %w", err)
	}
	return nil
}

// popAfterAcks pipelines one RPUSH acks of acks (none when empty) with the
// pop command, reads the acks' reply with ackReply and returns the pop's
// reply; ok is false when the pop timed out (a null reply).
func popAfterAcks(c *respConn, acks [][]byte, ackReply func() error, pop ...string) (r rafkatest.Reply, ok bool, err error) {
	if len(acks) > 0 {
		c.WriteArgs([]string{"RPUSH", "acks"}, acks...)
	}
	c.Write(pop...)
	if err := c.Flush(); err != nil {
		return rafkatest.Reply{}, false, err
	}
	if len(acks) > 0 {
		if err := ackReply(); err != nil {
			return rafkatest.Reply{}, false, err
		}
	}
	r, err = c.Read()
	if err != nil {
		return r, false, fmt.Errorf("%s: %w", pop[0], err)
	}
	if r.Kind == '-' {
		return r, false, fmt.Errorf("%s: %s", pop[0], r.Str)
	}
	return r, !r.Null, nil
}

// sendAcks sends one RPUSH acks of acks, if any, and reads its reply.
func sendAcks(c *respConn, acks [][]byte, ackErrs *atomic.Int64) error {
	if len(acks) == 0 {
		return nil
	}
	c.WriteArgs([]string{"RPUSH", "acks"}, acks...)
	if err := c.Flush(); err != nil {
		return err
	}
	return readAck(c, ackErrs)
}

// pending is a single ack as a list of acks: none when it is empty.
func pending(ack []byte) [][]byte {
	if len(ack) == 0 {
		return nil
	}
	return [][]byte{ack}
}
