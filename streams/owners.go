package streams

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// An ACL user may hold at most a quarter of the stream group members
// (GroupsConfig.MaxMembers: a member counts for the user whose command
// made it) and of the consumer names (MaxConsumerNames: a name counts for
// the user whose command first used it). The bounds are the server's, and
// one tenant filling them held every other tenant off (a member with a
// pending entry is never swept). The unrestricted user ("") is held by
// the server's bounds only.
const ownerShare = 4

// ErrTooManyUserMembers and ErrTooManyUserNames are the answers past a
// user's share.
var (
	ErrTooManyUserMembers = errors.New("too many stream group members for this user on this rafka")
	ErrTooManyUserNames   = fmt.Errorf("too many stream consumers for this user on this rafka (at most %d names in all its groups): XGROUP DELCONSUMER some", MaxConsumerNames/ownerShare)
)

// owner counts what one ACL user holds.
type owner struct {
	members int          // under Groups.mu
	names   atomic.Int64 // consumer names it used first
}

// owners are the ACL users' counts, kept for good: the users are the ACL
// file's, so they are bounded by it. Its lock is taken with no other held.
type owners struct {
	mu     sync.Mutex
	byUser map[string]*owner
}

// get is user's count, made on first use; nil for the unrestricted user.
func (os *owners) get(user string) *owner {
	if user == "" {
		return nil
	}
	os.mu.Lock()
	defer os.mu.Unlock()
	o, ok := os.byUser[user]
	if !ok {
		if os.byUser == nil {
			os.byUser = map[string]*owner{}
		}
		o = &owner{}
		os.byUser[user] = o
	}
	return o
}

// takeName counts a consumer name more for all members (all) and for o,
// or says which bound it would break.
func takeName(all *atomic.Int64, o *owner) error {
	if all.Add(1) > MaxConsumerNames {
		all.Add(-1)
		return ErrTooManyConsumerNames
	}
	if o != nil && o.names.Add(1) > MaxConsumerNames/ownerShare {
		o.names.Add(-1)
		all.Add(-1)
		return ErrTooManyUserNames
	}
	return nil
}

// giveName gives a name back to all and to o.
func giveName(all *atomic.Int64, o *owner) {
	all.Add(-1)
	if o != nil {
		o.names.Add(-1)
	}
}

// releaseLocked forgets m's place among its owner's members (m leaves
// g.members; its close gives back its names).
func (g *Groups) releaseLocked(m *Member) {
	if m.owner != nil {
		m.owner.members--
	}
}
