package streams

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestUnclaim: a claim undone gives the entry back as it was (consumer,
// idle time, deliveries), unless it was claimed again since (that claim
// stands) or its consumer was deleted meanwhile (it stays with the
// claimer, as idle as before).
func TestUnclaim(t *testing.T) {
	id := IDOf(0, 7)
	long := time.Now().Add(-time.Hour)
	newMember := func() *Member {
		m := &Member{names: new(atomic.Int64), consumers: map[string]time.Time{"a": time.Now()}, nameOwners: map[string]*owner{},
			pel: map[entryKey]*Pending{{"t", id}: {Topic: "t", ID: id, Consumer: "a", Delivered: long, Deliveries: 1}}}
		return m
	}
	claim := func(m *Member, by string) []Claimed {
		t.Helper()
		c, err := m.Claim("t", "", by, []ID{id}, ClaimOptions{})
		if err != nil || len(c) != 1 {
			t.Fatalf("claim by %s: %v, %v", by, c, err)
		}
		return c
	}
	entry := func(m *Member) Pending { return *m.pel[entryKey{"t", id}] }
	for _, tc := range []struct {
		name         string
		run          func(m *Member)
		wantConsumer string
		wantIdle     bool // as idle as before the claims
		wantDeliv    int64
	}{
		{"undone", func(m *Member) { Unclaim(claim(m, "b")) }, "a", true, 1},
		{"claimed again since", func(m *Member) {
			b := claim(m, "b")
			claim(m, "c")
			Unclaim(b)
		}, "c", false, 3},
		{"its consumer deleted meanwhile", func(m *Member) {
			b := claim(m, "b")
			m.RemoveConsumer("t", "a")
			Unclaim(b)
		}, "b", true, 1},
		{"undone twice", func(m *Member) {
			b := claim(m, "b")
			Unclaim(b)
			claim(m, "c")
			Unclaim(b)
		}, "c", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMember()
			tc.run(m)
			p := entry(m)
			if p.Consumer != tc.wantConsumer || p.Deliveries != tc.wantDeliv || (p.Delivered == long) != tc.wantIdle {
				t.Errorf("entry: consumer %s, deliveries %d, delivered %v; want %s, %d, idle as before %v",
					p.Consumer, p.Deliveries, p.Delivered, tc.wantConsumer, tc.wantDeliv, tc.wantIdle)
			}
		})
	}
}
