package server

import "sync"

// consumerCount bounds the BLPOP consumers on this rafka
// (--max-consumers), an ACL user's to a quarter of them. Each is a
// librdkafka consumer with some five threads, and its poll holds a Go
// thread in cgo: before, one ACL user's connections, each with one BLPOP,
// made a thread per consumer until the Go runtime's limit of 10000
// threads ended the process ("fatal error: thread exhaustion"), which no
// recover catches.
type consumerCount struct {
	mu     sync.Mutex
	all    int
	byUser map[string]int // ACL users' consumers ("" is not counted here)
}

// consumerShare is the part of the bound one ACL user may hold.
const consumerShare = 4

// take counts a consumer more for user, or refuses one past the bounds.
func (cc *consumerCount) take(user string, limit int) error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.all >= limit {
		return consErr("too many consumers on this rafka (at most %d): end some consumers' connections", limit)
	}
	if user != "" {
		share := max(limit/consumerShare, 1)
		if cc.byUser[user] >= share {
			return consErr("too many consumers for this user on this rafka (at most %d)", share)
		}
		if cc.byUser == nil {
			cc.byUser = map[string]int{}
		}
		cc.byUser[user]++
	}
	cc.all++
	return nil
}

// give counts a consumer of user's less.
func (cc *consumerCount) give(user string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.all--
	if user != "" {
		if cc.byUser[user]--; cc.byUser[user] <= 0 {
			delete(cc.byUser, user)
		}
	}
}
