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

	// Names: a quarter of MaxConsumerNames for each user, counted for the
	// user whose command used the name first, whoever made the member.
	alice, carol := g.owners.get("alice"), g.owners.get("carol")
	newMember := func() *Member {
		return &Member{names: &g.names, consumers: map[string]time.Time{}, nameOwners: map[string]*owner{}, pel: map[entryKey]*Pending{}}
	}
	members := []*Member{newMember()}
	for i := range MaxConsumerNames / ownerShare {
		if i > 0 && i%MaxConsumers == 0 {
			members = append(members, newMember())
		}
		if err := members[len(members)-1].seenLocked(fmt.Sprint("n", i), alice); err != nil {
			t.Fatalf("alice's name %d: %v", i, err)
		}
	}
	if err := newMember().seenLocked("one more", alice); !errors.Is(err, ErrTooManyUserNames) {
		t.Fatalf("alice's name past her share: %v", err)
	}
	// The same member takes carol's names, and the unrestricted user's.
	last := members[len(members)-1]
	if err := last.seenLocked("c", carol); err != nil {
		t.Fatalf("carol's name in a member alice filled: %v", err)
	}
	if err := last.seenLocked("admin", nil); err != nil {
		t.Fatalf("the unrestricted user's name: %v", err)
	}
	if found, _ := members[0].RemoveConsumer(topic, "n0"); !found {
		t.Fatal("DELCONSUMER of n0 found no name")
	}
	if err := newMember().seenLocked("after a DELCONSUMER", alice); err != nil {
		t.Fatalf("alice's name after a DELCONSUMER: %v", err)
	}
	if err := newMember().seenLocked("another", alice); !errors.Is(err, ErrTooManyUserNames) {
		t.Fatalf("alice's name past her share again: %v", err)
	}
	if got := carol.names.Load(); got != 1 {
		t.Errorf("carol holds %d names, want 1", got)
	}
}
