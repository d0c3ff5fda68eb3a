package bench

import (
	"fmt"
	"sync"
	"time"
)

// tracker records which (partition, offset) pairs of a pre-filled topic a
// reader has seen, so that readers stop once they have seen want distinct
// messages and redeliveries are counted, not double-counted.
type tracker struct {
	mu     sync.Mutex
	seen   [][]bool // per partition, indexed by offset
	want   int64
	unique int64
	dups   int64
	start  time.Time
	first  time.Time // the first message
	end    time.Time
	done   chan struct{}
}

// newTracker tracks a topic whose partitions end at ends (offsets start at
// 0), until want distinct messages were seen.
func newTracker(ends []int64, want int64) *tracker {
	t := &tracker{seen: make([][]bool, len(ends)), want: want, done: make(chan struct{})}
	for p, e := range ends {
		t.seen[p] = make([]bool, e)
	}
	return t
}

// begin starts the clock.
func (t *tracker) begin() { t.start = time.Now() }

// mark records one message and reports an offset outside the topic.
func (t *tracker) mark(p int32, off int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.markLocked(p, off)
}

// markBatch records the messages of a batch.
func (t *tracker) markBatch(ps []int32, offs []int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range ps {
		if err := t.markLocked(ps[i], offs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *tracker) markLocked(p int32, off int64) error {
	if p < 0 || int(p) >= len(t.seen) || off < 0 || off >= int64(len(t.seen[p])) {
		return fmt.Errorf("message at partition %d offset %d is outside the pre-filled topic", p, off)
	}
	if t.first.IsZero() {
		t.first = time.Now()
	}
	if t.seen[p][off] {
		t.dups++
		return nil
	}
	t.seen[p][off] = true
	t.unique++
	if t.unique == t.want {
		t.end = time.Now()
		close(t.done)
	}
	return nil
}

// finished reports whether want distinct messages were seen.
func (t *tracker) finished() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// progress returns the distinct and duplicate counts so far.
func (t *tracker) progress() (unique, dups int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unique, t.dups
}

// timing returns the time from begin to the first message (joining the
// group, starting the stream) and from the first message to the last new
// one (or to now, when not finished).
func (t *tracker) timing() (toFirst, reading time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first.IsZero() {
		return time.Since(t.start), 0
	}
	end := t.end
	if end.IsZero() {
		end = time.Now()
	}
	return t.first.Sub(t.start), end.Sub(t.first)
}
