package server

import (
	"context"
	"sync"
	"time"

	"rafka/stats"
)

// The instantaneous rates of INFO, as Redis computes them: the counters are
// sampled every rateInterval and a rate is the change over the last
// rateSamples samples.
const (
	rateInterval = 100 * time.Millisecond
	rateSamples  = 16
)

// rateSample is the counters at one moment.
type rateSample struct {
	at                time.Time
	commands, in, out int64
}

// rates samples the counters behind INFO's instantaneous_* fields.
type rates struct {
	stats *stats.Stats

	mu      sync.Mutex
	samples [rateSamples]rateSample
	next    int // where the next sample goes
	n       int // samples taken, up to rateSamples
}

// run samples until ctx ends.
func (r *rates) run(ctx context.Context) {
	t := time.NewTicker(rateInterval)
	defer t.Stop()
	r.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.sample(now)
		}
	}
}

func (r *rates) sample(now time.Time) {
	s := rateSample{at: now, commands: r.stats.Get(stats.Commands),
		in: r.stats.Get(stats.NetBytesIn), out: r.stats.Get(stats.NetBytesOut)}
	r.mu.Lock()
	r.samples[r.next] = s
	r.next = (r.next + 1) % rateSamples
	r.n = min(r.n+1, rateSamples)
	r.mu.Unlock()
}

// current returns commands per second and input and output KiB per second
// over the samples taken (zeros before two samples).
func (r *rates) current() (opsPerSec int64, inKbps, outKbps float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n < 2 {
		return 0, 0, 0
	}
	newest := r.samples[(r.next+rateSamples-1)%rateSamples]
	oldest := r.samples[(r.next+rateSamples-r.n)%rateSamples]
	secs := newest.at.Sub(oldest.at).Seconds()
	if secs <= 0 {
		return 0, 0, 0
	}
	return int64(float64(newest.commands-oldest.commands) / secs),
		float64(newest.in-oldest.in) / 1024 / secs, float64(newest.out-oldest.out) / 1024 / secs
}
