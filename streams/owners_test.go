package streams

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"rafka/test/kafkatest"
)

// TestOwnerShare: one ACL user's members hold at most a quarter of the
// members and of the consumer names, so that one tenant cannot hold every
// other one off; another user, and the unrestricted one, still get theirs,
// and a member dropped or a name deleted gives its place back.
func TestOwnerShare(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.CreateTopic(t, brokers, "owners", 1)
	g := newTestGroups(t, brokers) // 8 members: 2 per user
	ctx := context.Background()
	for i := range 2 {
		if _, err := g.Member(ctx, fmt.Sprint("alice-", i), []string{topic}, "alice"); err != nil {
			t.Fatalf("alice's member %d: %v", i, err)
		}
	}
	if _, err := g.Member(ctx, "alice-2", []string{topic}, "alice"); !errors.Is(err, ErrTooManyUserMembers) {
		t.Fatalf("alice's third member: %v", err)
	}
	if _, err := g.Member(ctx, "alice-0", []string{topic}, "alice"); err != nil {
		t.Fatalf("alice's existing member: %v", err)
	}
	for _, user := range []string{"bob", ""} {
		if _, err := g.Member(ctx, "g-"+user, []string{topic}, user); err != nil {
			t.Fatalf("%q's member: %v", user, err)
		}
	}
	g.Drop("alice-1")
	if _, err := g.Member(ctx, "alice-2", []string{topic}, "alice"); err != nil {
		t.Fatalf("alice's member after one was dropped: %v", err)
	}

	// Names: a quarter of MaxConsumerNames over all of an owner's members.
	alice, carol := &owner{}, &owner{}
	newMember := func(o *owner) *Member {
		return &Member{names: nameBudget{all: &g.names, owner: o}, consumers: map[string]time.Time{}, pel: map[entryKey]*Pending{}}
	}
	a1, a2, c := newMember(alice), newMember(alice), newMember(carol)
	for i := range MaxConsumerNames / ownerShare {
		m := a1
		if i >= MaxConsumers {
			m = a2
			if i >= 2*MaxConsumers {
				m = newMember(alice)
				a2 = m
			}
		}
		if err := m.seenLocked(fmt.Sprint("n", i)); err != nil {
			t.Fatalf("alice's name %d: %v", i, err)
		}
	}
	if err := newMember(alice).seenLocked("one more"); !errors.Is(err, ErrTooManyUserNames) {
		t.Fatalf("alice's name past her share: %v", err)
	}
	if err := c.seenLocked("c"); err != nil {
		t.Fatalf("carol's name: %v", err)
	}
	if found, _ := a1.RemoveConsumer(topic, "n0"); !found {
		t.Fatal("DELCONSUMER of n0 found no name")
	}
	if err := newMember(alice).seenLocked("after a DELCONSUMER"); err != nil {
		t.Fatalf("alice's name after a DELCONSUMER: %v", err)
	}
}
