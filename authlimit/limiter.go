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

// Limiter counts failed logins per host and makes a host that failed too
// often wait before its next login is checked. It is safe for concurrent
// use.
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

// Wait waits while host has spent its allowance of failed logins, or until
// ctx ends. Call it before checking credentials, so that a right password
// is answered no sooner than a wrong one: were only failures slowed, a
// client sending guesses in parallel would learn the right one at once.
// Hosts that have not failed lately never wait.
func (l *Limiter) Wait(ctx context.Context, host string) error {
	d := l.delay(host)
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

// delay is how long host must wait until it has an allowance again.
func (l *Limiter) delay(host string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.addrs[host]
	if !ok {
		return 0
	}
	tokens := lim.TokensAt(time.Now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.every) * float64(time.Second))
}

// Failed records a failed login from host; it spends one of its
// allowance, going into debt past it (the next Wait lasts longer).
func (l *Limiter) Failed(host string) {
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
	lim.Reserve()
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
