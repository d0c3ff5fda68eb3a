// Package authlimit limits failed logins per client address, so a client
// cannot try thousands of passwords a second over RESP AUTH or a Flight
// handshake, however many connections it opens.
package authlimit

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxAddrs is how many addresses a limiter remembers. (The rate is
// the auth_failures_per_second setting.)
const DefaultMaxAddrs = 65536

// Limiter counts failed logins per host. A login is checked only while its
// host has allowance left; every check claims one unit, which a successful
// login gives back. So however many attempts a host sends in parallel, at
// most the allowance of them is checked, and a right guess among them is
// answered no sooner than the wrong ones. It is safe for concurrent use.
type Limiter struct {
	every    rate.Limit
	burst    int
	maxAddrs int

	mu    sync.Mutex
	addrs map[string]*host
}

// host is one host's allowance and its logins being checked.
type host struct {
	lim     *rate.Limiter
	pending int // logins begun, neither succeeded nor failed yet
}

// New returns a limiter allowing burst failed logins from one host at once
// and perSecond a second after that; it remembers at most maxAddrs hosts.
func New(perSecond float64, burst, maxAddrs int) *Limiter {
	return &Limiter{every: rate.Limit(perSecond), burst: max(burst, 1), maxAddrs: maxAddrs, addrs: map[string]*host{}}
}

// Host returns the unit failures are counted by for a "host:port" address:
// the IPv4 address, or the /64 network of an IPv6 address (one machine
// usually holds a whole /64). An address without a port is used whole.
func Host(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		h = addr
	}
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return h
}

// Attempt is one login's claim on its host's allowance; exactly one of
// Succeeded and Failed must be called.
type Attempt struct {
	l *Limiter
	h *host
}

// Succeeded gives the claim back: only failed logins count.
func (a Attempt) Succeeded() {
	a.l.mu.Lock()
	a.h.pending--
	a.l.mu.Unlock()
}

// Failed spends the claim.
func (a Attempt) Failed() {
	a.l.mu.Lock()
	a.h.pending--
	a.h.lim.Reserve()
	a.l.mu.Unlock()
}

// Begin claims the allowance for one login of name (see Host). When the
// host has spent it, counting the logins still being checked, ok is false
// and retry says when it may try again; the login must then be refused
// without being checked.
func (l *Limiter) Begin(name string) (a Attempt, ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, found := l.addrs[name]
	if !found {
		if len(l.addrs) >= l.maxAddrs {
			l.pruneLocked()
		}
		h = &host{lim: rate.NewLimiter(l.every, l.burst)}
		l.addrs[name] = h
	}
	if left := h.lim.TokensAt(time.Now()) - float64(h.pending); left < 1 {
		return Attempt{}, false, time.Duration((1 - left) / float64(l.every) * float64(time.Second))
	}
	h.pending++
	return Attempt{l: l, h: h}, true, 0
}

// pruneLocked forgets the hosts whose allowance is whole again (they would
// get the same treatment as a new host); if every host is still limited, it
// forgets them all rather than grow without bound.
func (l *Limiter) pruneLocked() {
	now := time.Now()
	for name, h := range l.addrs {
		if h.pending == 0 && h.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.addrs, name)
		}
	}
	if len(l.addrs) >= l.maxAddrs {
		clear(l.addrs)
	}
}
