// Package locks keeps the small string keys that Redis clients take as
// locks (SET key token NX PX ms, GET, DEL and redis-py's Lock scripts) in
// this process's memory: one namespace per ACL user, each bounded in keys
// and bytes. Nothing here reaches Kafka; the keys end with the process.
package locks

import (
	"errors"
	"sync"
	"time"
)

// The bounds of one namespace: how many keys it holds and how long a key
// and its value may be. A lock is a name and a token; anything longer is
// not one.
const (
	MaxKeys       = 4096
	MaxKeyBytes   = 512
	MaxValueBytes = 512
)

// Errors of Set.
var (
	// ErrFull is Set's answer when a namespace holds MaxKeys live keys.
	ErrFull = errors.New("this user's lock keys are all in use: DEL some or let them expire")
	// ErrTooLong is Set's answer for a key or value over its bound.
	ErrTooLong = errors.New("a lock key and its value are each at most 512 bytes")
)

// Condition is SET's NX or XX.
type Condition uint8

// The conditions of Set.
const (
	Always     Condition = iota // set whatever is there
	IfAbsent                    // NX: only if the key does not exist
	IfExisting                  // XX: only if it does
)

// SetOptions are SET's options.
type SetOptions struct {
	Condition Condition
	// TTL > 0: the key expires that long from now; 0: it never does
	// (unless KeepTTL).
	TTL time.Duration
	// KeepTTL keeps an existing key's expiry.
	KeepTTL bool
}

// MaxTTL is the longest time to live a key may have (about a century):
// far past any lock, and far from overflowing a time.Duration.
const MaxTTL = 100 * 365 * 24 * time.Hour

// Table holds every namespace's keys. Its methods are safe for concurrent
// use; each namespace has its own lock, so one user's many keys never make
// another's commands wait.
type Table struct {
	mu     sync.Mutex
	spaces map[string]*space // never removed: one per ACL user at most
}

// space is one namespace's keys.
type space struct {
	mu   sync.Mutex
	keys map[string]entry
	// earliest is no later than the first expiry of any key (zero: none
	// expires): dropExpired need not look before then.
	earliest time.Time
}

type entry struct {
	value   []byte
	expires time.Time // zero: never
}

func (e entry) live(now time.Time) bool {
	return e.expires.IsZero() || now.Before(e.expires)
}

// New returns an empty table.
func New() *Table {
	return &Table{spaces: make(map[string]*space)}
}

// space returns ns's namespace, locked; the caller unlocks it.
func (t *Table) space(ns string) *space {
	t.mu.Lock()
	sp, ok := t.spaces[ns]
	if !ok {
		sp = &space{keys: make(map[string]entry)}
		t.spaces[ns] = sp
	}
	t.mu.Unlock()
	sp.mu.Lock()
	return sp
}

// get returns the live key, dropping it if it expired. sp.mu is held.
func (sp *space) get(key string, now time.Time) (entry, bool) {
	e, ok := sp.keys[key]
	if ok && !e.live(now) {
		delete(sp.keys, key)
		return entry{}, false
	}
	return e, ok
}

// Set stores value under ns's key as SET does, and reports whether it did
// (false: the condition did not hold). A TTL over MaxTTL is MaxTTL.
func (t *Table) Set(ns, key string, value []byte, opt SetOptions) (bool, error) {
	if len(key) > MaxKeyBytes || len(value) > MaxValueBytes {
		return false, ErrTooLong
	}
	now := time.Now()
	sp := t.space(ns)
	defer sp.mu.Unlock()
	old, exists := sp.get(key, now)
	if opt.Condition == IfAbsent && exists || opt.Condition == IfExisting && !exists {
		return false, nil
	}
	if !exists && len(sp.keys) >= MaxKeys {
		sp.dropExpired(now)
		if len(sp.keys) >= MaxKeys {
			return false, ErrFull
		}
	}
	e := entry{value: append([]byte(nil), value...)}
	switch {
	case opt.KeepTTL && exists:
		e.expires = old.expires
	case opt.TTL > 0:
		sp.expire(&e, now, opt.TTL)
	}
	sp.keys[key] = e
	return true, nil
}

// expire sets e to expire ttl (at most MaxTTL) after now. sp.mu is held.
func (sp *space) expire(e *entry, now time.Time, ttl time.Duration) {
	e.expires = now.Add(min(ttl, MaxTTL))
	if sp.earliest.IsZero() || e.expires.Before(sp.earliest) {
		sp.earliest = e.expires
	}
}

// dropExpired removes the expired keys, if any can have expired. sp.mu is
// held.
func (sp *space) dropExpired(now time.Time) {
	if sp.earliest.IsZero() || now.Before(sp.earliest) {
		return
	}
	sp.earliest = time.Time{}
	for key, e := range sp.keys {
		switch {
		case !e.live(now):
			delete(sp.keys, key)
		case !e.expires.IsZero() && (sp.earliest.IsZero() || e.expires.Before(sp.earliest)):
			sp.earliest = e.expires
		}
	}
}

// Get returns a copy of ns's key's value, and whether it exists.
func (t *Table) Get(ns, key string) ([]byte, bool) {
	sp := t.space(ns)
	defer sp.mu.Unlock()
	e, ok := sp.get(key, time.Now())
	if !ok {
		return nil, false
	}
	return append([]byte(nil), e.value...), true
}

// Exists reports whether ns's key exists.
func (t *Table) Exists(ns, key string) bool {
	sp := t.space(ns)
	defer sp.mu.Unlock()
	_, ok := sp.get(key, time.Now())
	return ok
}

// Del removes ns's keys and returns how many existed.
func (t *Table) Del(ns string, keys ...string) int {
	now := time.Now()
	sp := t.space(ns)
	defer sp.mu.Unlock()
	n := 0
	for _, key := range keys {
		if _, ok := sp.get(key, now); ok {
			delete(sp.keys, key)
			n++
		}
	}
	return n
}

// PTTL is Redis's PTTL of ns's key: the milliseconds left, -1 for a key
// that never expires, -2 for no key.
func (t *Table) PTTL(ns, key string) int64 {
	now := time.Now()
	sp := t.space(ns)
	defer sp.mu.Unlock()
	e, ok := sp.get(key, now)
	switch {
	case !ok:
		return -2
	case e.expires.IsZero():
		return -1
	}
	return max(e.expires.Sub(now).Milliseconds(), 0)
}

// Release deletes ns's key if it holds token (a lock's release), and
// reports whether it did.
func (t *Table) Release(ns, key string, token []byte) bool {
	sp := t.space(ns)
	defer sp.mu.Unlock()
	if _, ok := sp.holds(key, token, time.Now()); !ok {
		return false
	}
	delete(sp.keys, key)
	return true
}

// Expire gives ns's key a new time to live if it holds token (a lock's
// reacquire), and reports whether it did. A ttl of zero or less deletes
// the key, as PEXPIRE does.
func (t *Table) Expire(ns, key string, token []byte, ttl time.Duration) bool {
	now := time.Now()
	sp := t.space(ns)
	defer sp.mu.Unlock()
	e, ok := sp.holds(key, token, now)
	if !ok {
		return false
	}
	sp.expireAt(key, e, now, ttl)
	return true
}

// Extend lengthens ns's key's time to live by ttl (or, with replace, sets
// it to ttl) if the key holds token and expires at all (a lock's extend),
// and reports whether it did.
func (t *Table) Extend(ns, key string, token []byte, ttl time.Duration, replace bool) bool {
	now := time.Now()
	sp := t.space(ns)
	defer sp.mu.Unlock()
	e, ok := sp.holds(key, token, now)
	if !ok || e.expires.IsZero() {
		return false
	}
	if !replace {
		// As the script does: the milliseconds left plus ttl, neither
		// over MaxTTL, so the sum cannot overflow.
		left := time.Duration(max(e.expires.Sub(now).Milliseconds(), 0)) * time.Millisecond
		ttl = min(ttl, MaxTTL) + left
	}
	sp.expireAt(key, e, now, ttl)
	return true
}

// holds returns the live key if its value is token. sp.mu is held.
func (sp *space) holds(key string, token []byte, now time.Time) (entry, bool) {
	e, ok := sp.get(key, now)
	return e, ok && string(e.value) == string(token)
}

// expireAt makes the existing key e expire ttl after now, or deletes it
// for a ttl of zero or less. sp.mu is held.
func (sp *space) expireAt(key string, e entry, now time.Time, ttl time.Duration) {
	if ttl <= 0 {
		delete(sp.keys, key)
		return
	}
	sp.expire(&e, now, ttl)
	sp.keys[key] = e
}
