package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// P4 parameters.
const (
	latencyRate    = 5000 // messages per second
	latencyWarmup  = 30 * time.Second
	latencyDrain   = 10 * time.Second // how long to wait for the last messages
	latencyTsWidth = 19               // digits of a UnixNano timestamp
)

// latencyCollector receives the consumed values of one latency run.
type latencyCollector struct {
	warm     chan struct{} // closed when the first warm-up message arrived
	warmOnce sync.Once
	done     chan struct{} // closed when want samples arrived
	stop     chan struct{} // closed by the driver: consumers return
	want     int

	mu      sync.Mutex
	samples []time.Duration
}

func newLatencyCollector(want int) *latencyCollector {
	return &latencyCollector{warm: make(chan struct{}), done: make(chan struct{}), stop: make(chan struct{}),
		want: want, samples: make([]time.Duration, 0, want)}
}

// stopped reports whether the driver asked the consumers to return.
func (l *latencyCollector) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// observe records a value received at at.
func (l *latencyCollector) observe(v string, at time.Time) error {
	if len(v) < 1+latencyTsWidth {
		return fmt.Errorf("value of %d bytes carries no timestamp", len(v))
	}
	if v[0] == 'w' {
		l.warmOnce.Do(func() { close(l.warm) })
		return nil
	}
	ns, err := strconv.ParseInt(v[1:1+latencyTsWidth], 10, 64)
	if err != nil {
		return fmt.Errorf("value timestamp: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) < l.want {
		l.samples = append(l.samples, at.Sub(time.Unix(0, ns)))
		if len(l.samples) == l.want {
			close(l.done)
		}
	}
	return nil
}

// timedValue is a 100-byte value: kind ('w' warm-up, 'm' measured), the
// send time in UnixNano, padding.
func timedValue(kind byte, t time.Time) []byte {
	v := make([]byte, 0, valueSize)
	v = append(v, kind)
	ts := strconv.FormatInt(t.UnixNano(), 10)
	for i := len(ts); i < latencyTsWidth; i++ {
		v = append(v, '0')
	}
	v = append(v, ts...)
	for len(v) < valueSize {
		v = append(v, 'x')
	}
	return v
}

// drive sends warm-up messages until the consumer got one, then n measured
// messages at latencyRate, then waits for them to arrive.
func drive(ctx context.Context, send func([]byte) error, col *latencyCollector, n int) error {
	defer close(col.stop)
	warmDeadline := time.After(latencyWarmup)
	for warm := false; !warm; {
		if err := send(timedValue('w', time.Now())); err != nil {
			return fmt.Errorf("warm-up send: %w", err)
		}
		select {
		case <-col.warm:
			warm = true
		case <-time.After(100 * time.Millisecond):
		case <-warmDeadline:
			return fmt.Errorf("consumer received nothing within %s of warm-up", latencyWarmup)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(200 * time.Millisecond) // let late warm-up messages pass
	interval := time.Second / latencyRate
	start := time.Now()
	for i := 0; i < n; {
		now := time.Now()
		due := start.Add(time.Duration(i) * interval)
		if due.After(now) {
			time.Sleep(due.Sub(now))
			continue
		}
		for ; i < n && !start.Add(time.Duration(i)*interval).After(now); i++ {
			if err := send(timedValue('m', time.Now())); err != nil {
				return fmt.Errorf("send: %w", err)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	select {
	case <-col.done:
	case <-time.After(latencyDrain):
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// percentiles of a latency run.
type percentiles struct {
	n                   int
	p50, p99, p999, max time.Duration
}

func summarize(samples []time.Duration) percentiles {
	s := slices.Clone(samples)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return percentiles{n: len(s), p50: at(0.50), p99: at(0.99), p999: at(0.999), max: s[len(s)-1]}
}

func (p percentiles) String() string {
	return fmt.Sprintf("p50 %s · p99 %s · p99.9 %s · max %s", fmtMs(p.p50), fmtMs(p.p99), fmtMs(p.p999), fmtMs(p.max))
}

// benchLatency is P4: RPUSHX→BLPOP latency at a fixed rate vs. raw
// producer→consumer latency.
func (b *bench) benchLatency(ctx context.Context) error {
	const scenario = "P4 latency"
	n := b.count(latencyRate * 10)
	var results [2]percentiles
	for i, run := range []func(context.Context, *latencyCollector) error{b.latencyRaw, b.latencyRafka} {
		col := newLatencyCollector(n)
		rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		err := run(rctx, col)
		cancel()
		if err != nil {
			return err
		}
		col.mu.Lock()
		got := len(col.samples)
		if got == 0 {
			col.mu.Unlock()
			return errors.New("no measured message arrived")
		}
		results[i] = summarize(col.samples)
		col.mu.Unlock()
		if got < n {
			b.note(fmt.Sprintf("P4 run %d: only %d of %d messages arrived within %s", i, got, n, latencyDrain))
		}
	}
	raw, rafka := results[0], results[1]
	b.add(result{scenario: scenario, name: fmt.Sprintf("raw producer → raw group consumer, %d msg/s", latencyRate),
		count: raw.n, figure: raw.String(), ratio: "1.00 (baseline)"})
	added := rafka.p99 - raw.p99
	b.add(result{scenario: scenario, name: fmt.Sprintf("rafka RPUSHX → BLPOP (+ack), %d msg/s", latencyRate),
		count: rafka.n, figure: rafka.String(),
		ratio:  fmt.Sprintf("p99 %s; added p99 %+.2f ms", fmtRatio(float64(rafka.p99)/float64(raw.p99)), float64(added)/float64(time.Millisecond)),
		target: "added p99 ≤ 2 ms", verdict: verdictMax(float64(added), float64(2*time.Millisecond))})
	return nil
}
