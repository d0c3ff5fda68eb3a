// Package authlimit slows repeated failed logins from one address, so a
// client cannot try thousands of passwords a second over RESP AUTH or a
// Flight handshake, however many connections it opens.
package authlimit

import (
	"context"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults: after a burst of failures an address gets one more try every
// 100 ms; at most this many addresses are remembered.
const (
	DefaultRate     = 10 // failed logins per second per address, after the burst
	DefaultBurst    = 10
	DefaultMaxAddrs = 65536
)

// Limiter hands out the delay a failed login waits before its answer. It
// is safe for concurrent use.
type Limiter struct {
	every    rate.Limit
	burst    int
	maxAddrs int

	mu    sync.Mutex
	addrs map[string]*rate.Limiter
}

// New returns a limiter allowing burst failures from one address at once and
// perSecond a second after that; it remembers at most maxAddrs addresses.
func New(perSecond float64, burst, maxAddrs int) *Limiter {
	return &Limiter{every: rate.Limit(perSecond), burst: burst, maxAddrs: maxAddrs, addrs: map[string]*rate.Limiter{}}
}

// Host returns the host part of a "host:port" address (the whole string
// when it has no port): the unit failures are counted by.
func Host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Failed records a failed login from host and returns how long its answer
// should wait: zero within the burst, then growing with the failures that
// are still waiting.
func (l *Limiter) Failed(host string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.addrs[host]
	if !ok {
		if len(l.addrs) >= l.maxAddrs {
			l.pruneLocked()
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.addrs[host] = lim
	}
	return lim.Reserve().Delay()
}

// Wait records a failed login from host and sleeps for its delay, or until
// ctx ends.
func (l *Limiter) Wait(ctx context.Context, host string) error {
	d := l.Failed(host)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pruneLocked forgets the addresses whose allowance is whole again (they
// would get the same treatment as a new address); if every address is
// still being slowed, it forgets them all rather than grow without bound.
func (l *Limiter) pruneLocked() {
	now := time.Now()
	for h, lim := range l.addrs {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.addrs, h)
		}
	}
	if len(l.addrs) >= l.maxAddrs {
		clear(l.addrs)
	}
}
