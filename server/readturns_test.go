package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReadTurns: an ACL user's commands read one at a time, another user's
// (and the unrestricted user's) do not wait for them, a wait ends with its
// context, and a user's turn is forgotten once no command holds or wants
// it.
func TestReadTurns(t *testing.T) {
	var r readTurns
	ctx := context.Background()
	release, err := r.take(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan func(), 1)
	go func() {
		rel, err := r.take(ctx, "alice")
		if err != nil {
			rel = nil
		}
		second <- rel
	}()
	for _, user := range []string{"bob", ""} {
		short, cancel := context.WithTimeout(ctx, time.Second)
		rel, err := r.take(short, user)
		cancel()
		if err != nil {
			t.Fatalf("%q waited for alice's turn: %v", user, err)
		}
		rel()
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := r.take(short, "alice"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third command of alice while one reads: %v", err)
	}
	cancel()
	select {
	case <-second:
		t.Fatal("alice's second command read while her first did")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	var rel func()
	select {
	case rel = <-second:
		if rel == nil {
			t.Fatal("alice's second command failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alice's second command still waits after the first ended")
	}
	rel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.turns) != 0 {
		t.Errorf("%d turns kept after every command ended", len(r.turns))
	}
}
