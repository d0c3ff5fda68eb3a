package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// roomSignal wakes every produce waiting for room in librdkafka's full
// queue when a delivery report frees some. All waiters wake together, so
// a connection with no messages of its own in flight (which no report of
// its own would wake) competes on equal terms with the ones that have.
type roomSignal struct {
	waiters atomic.Int32
	mu      sync.Mutex
	ch      chan struct{} // closed by signal; nil when no one waits
}

// wait waits for the next report, at most max, or until ctx ends.
func (r *roomSignal) wait(ctx context.Context, max time.Duration) error {
	r.waiters.Add(1)
	defer r.waiters.Add(-1)
	r.mu.Lock()
	if r.ch == nil {
		r.ch = make(chan struct{})
	}
	ch := r.ch
	r.mu.Unlock()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// signal wakes the waiters; it costs one atomic load when there are none.
func (r *roomSignal) signal() {
	if r.waiters.Load() == 0 {
		return
	}
	r.mu.Lock()
	if r.ch != nil {
		close(r.ch)
		r.ch = nil
	}
	r.mu.Unlock()
}
