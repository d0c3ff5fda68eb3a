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

// Table holds every namespace's keys. Its methods are safe for concurrent
// use.
type Table struct {
	mu     sync.Mutex
	spaces map[string]map[string]entry
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
	return &Table{spaces: make(map[string]map[string]entry)}
}

// get returns ns's live key, dropping it if it expired. t.mu is held.
func (t *Table) get(ns, key string, now time.Time) (entry, bool) {
	e, ok := t.spaces[ns][key]
	if ok && !e.live(now) {
		t.del(ns, key)
		return entry{}, false
	}
	return e, ok
}

// del drops ns's key, and ns with its last key. t.mu is held.
func (t *Table) del(ns, key string) {
	space := t.spaces[ns]
	delete(space, key)
	if len(space) == 0 {
		delete(t.spaces, ns)
	}
}

// Set stores value under ns's key as SET does, and reports whether it did
// (false: the condition did not hold).
func (t *Table) Set(ns, key string, value []byte, opt SetOptions) (bool, error) {
	if len(key) > MaxKeyBytes || len(value) > MaxValueBytes {
		return false, ErrTooLong
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	old, exists := t.get(ns, key, now)
	if opt.Condition == IfAbsent && exists || opt.Condition == IfExisting && !exists {
		return false, nil
	}
	space := t.spaces[ns]
	if !exists && len(space) >= MaxKeys {
		t.dropExpired(ns, now)
		if len(t.spaces[ns]) >= MaxKeys {
			return false, ErrFull
		}
		space = t.spaces[ns]
	}
	if space == nil {
		space = make(map[string]entry)
		t.spaces[ns] = space
	}
	e := entry{value: append([]byte(nil), value...)}
	switch {
	case opt.KeepTTL && exists:
		e.expires = old.expires
	case opt.TTL > 0:
		e.expires = now.Add(opt.TTL)
	}
	space[key] = e
	return true, nil
}

// dropExpired removes ns's expired keys. t.mu is held.
func (t *Table) dropExpired(ns string, now time.Time) {
	for key, e := range t.spaces[ns] {
		if !e.live(now) {
			t.del(ns, key)
		}
	}
}

// Get returns a copy of ns's key's value, and whether it exists.
func (t *Table) Get(ns, key string) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.get(ns, key, time.Now())
	if !ok {
		return nil, false
	}
	return append([]byte(nil), e.value...), true
}

// Exists reports whether ns's key exists.
func (t *Table) Exists(ns, key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.get(ns, key, time.Now())
	return ok
}

// Del removes ns's keys and returns how many existed.
func (t *Table) Del(ns string, keys ...string) int {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, key := range keys {
		if _, ok := t.get(ns, key, now); ok {
			t.del(ns, key)
			n++
		}
	}
	return n
}

// PTTL is Redis's PTTL of ns's key: the milliseconds left, -1 for a key
// that never expires, -2 for no key.
func (t *Table) PTTL(ns, key string) int64 {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.get(ns, key, now)
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
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.holds(ns, key, token, time.Now()) {
		return false
	}
	t.del(ns, key)
	return true
}

// Expire gives ns's key a new time to live if it holds token (a lock's
// reacquire), and reports whether it did. A ttl of zero or less deletes
// the key, as PEXPIRE does.
func (t *Table) Expire(ns, key string, token []byte, ttl time.Duration) bool {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.holds(ns, key, token, now) {
		return false
	}
	t.expireAt(ns, key, now, ttl)
	return true
}

// Extend lengthens ns's key's time to live by ttl (or, with replace, sets
// it to ttl) if the key holds token and expires at all (a lock's extend),
// and reports whether it did.
func (t *Table) Extend(ns, key string, token []byte, ttl time.Duration, replace bool) bool {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.holds(ns, key, token, now) {
		return false
	}
	e := t.spaces[ns][key]
	if e.expires.IsZero() {
		return false
	}
	if !replace {
		// As the script does: the milliseconds left plus ttl.
		ttl += time.Duration(max(e.expires.Sub(now).Milliseconds(), 0)) * time.Millisecond
	}
	t.expireAt(ns, key, now, ttl)
	return true
}

// holds reports whether ns's live key's value is token. t.mu is held.
func (t *Table) holds(ns, key string, token []byte, now time.Time) bool {
	e, ok := t.get(ns, key, now)
	return ok && string(e.value) == string(token)
}

// expireAt sets ns's existing key to expire ttl after now, or deletes it
// for a ttl of zero or less. t.mu is held.
func (t *Table) expireAt(ns, key string, now time.Time, ttl time.Duration) {
	if ttl <= 0 {
		t.del(ns, key)
		return
	}
	space := t.spaces[ns]
	e := space[key]
	e.expires = now.Add(ttl)
	space[key] = e
}
