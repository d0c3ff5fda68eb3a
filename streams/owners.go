package streams

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// A member's owner is the ACL user whose command made it ("" for the
// unrestricted user). One owner may hold at most a quarter of the members
// (GroupsConfig.MaxMembers) and of the consumer names (MaxConsumerNames):
// the bounds are the server's, and one tenant filling them held every
// other tenant off (a member with a pending entry is never swept).
const ownerShare = 4

// ErrTooManyUserMembers and ErrTooManyUserNames are the answers past an
// owner's share.
var (
	ErrTooManyUserMembers = errors.New("too many stream group members for this user on this rafka")
	ErrTooManyUserNames   = fmt.Errorf("too many stream consumers for this user on this rafka (at most %d names in all its groups): XGROUP DELCONSUMER some", MaxConsumerNames/ownerShare)
)

// owner counts what one ACL user's members hold.
type owner struct {
	members int          // under Groups.mu
	names   atomic.Int64 // consumer names kept by its members
}

// nameBudget is what a member counts its consumer names against: every
// member's names, and those of its owner's members.
type nameBudget struct {
	all   *atomic.Int64
	owner *owner // nil: the unrestricted user's
}

// take counts one name more, or says which bound it would break.
func (b nameBudget) take() error {
	if b.all.Add(1) > MaxConsumerNames {
		b.all.Add(-1)
		return ErrTooManyConsumerNames
	}
	if b.owner != nil && b.owner.names.Add(1) > MaxConsumerNames/ownerShare {
		b.owner.names.Add(-1)
		b.all.Add(-1)
		return ErrTooManyUserNames
	}
	return nil
}

// give gives back n names.
func (b nameBudget) give(n int) {
	b.all.Add(-int64(n))
	if b.owner != nil {
		b.owner.names.Add(-int64(n))
	}
}

// ownerLocked is user's count, made on first use; nil for "".
func (g *Groups) ownerLocked(user string) *owner {
	if user == "" {
		return nil
	}
	o, ok := g.owners[user]
	if !ok {
		o = &owner{}
		g.owners[user] = o
	}
	return o
}

// releaseLocked forgets m's place among its owner's members (m leaves
// g.members; its close gives back its names).
func (g *Groups) releaseLocked(m *Member) {
	if m.ownerName == "" {
		return
	}
	if o := g.owners[m.ownerName]; o != nil && o == m.names.owner {
		if o.members--; o.members <= 0 {
			delete(g.owners, m.ownerName)
		}
	}
}
