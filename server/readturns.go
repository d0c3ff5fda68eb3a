package server

import (
	"context"
	"sync"
)

// readTurns let each ACL user run one command's stream reads at a time:
// the shared stream readers (two) serve every tenant, and one tenant's
// connections pipelining XRANGEs held both, so that another's reads waited
// seconds and XINFO STREAM timed out. The unrestricted user takes no turn.
type readTurns struct {
	mu    sync.Mutex
	turns map[string]*readTurn // by ACL user, while one of its commands reads or waits
}

type readTurn struct {
	slot    chan struct{} // holds one token while a command reads
	waiters int           // commands reading or waiting (under readTurns.mu)
}

// take waits for user's turn (until ctx ends); release gives it back.
func (r *readTurns) take(ctx context.Context, user string) (release func(), err error) {
	if user == "" {
		return func() {}, nil
	}
	r.mu.Lock()
	if r.turns == nil {
		r.turns = map[string]*readTurn{}
	}
	t := r.turns[user]
	if t == nil {
		t = &readTurn{slot: make(chan struct{}, 1)}
		r.turns[user] = t
	}
	t.waiters++
	r.mu.Unlock()
	leave := func() {
		r.mu.Lock()
		if t.waiters--; t.waiters == 0 {
			delete(r.turns, user)
		}
		r.mu.Unlock()
	}
	select {
	case t.slot <- struct{}{}:
		return func() { <-t.slot; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}
