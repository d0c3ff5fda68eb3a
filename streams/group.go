package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/consumer"
	"rafka/stats"
)

// groupForced are set on a stream group's Kafka member whatever the
// configuration says: offsets are stored only over a contiguous acked
// prefix (Member.Ack), and a partition without a committed offset (one
// added after XGROUP CREATE) is read from its start, as losing nothing
// requires.
var groupForced = config.Properties{
	"enable.auto.offset.store": "false",
	"enable.auto.commit":       "true",
	"auto.offset.reset":        "earliest",
}

// ErrPELFull is XREADGROUP's answer when a group's pending entries list is
// at its bound: entries must be acked (or claimed and acked) first.
var ErrPELFull = errors.New("the group's pending entries list is full: XACK entries first")

// Groups are this instance's members of stream consumer groups: one Kafka
// group member per (group, topic set), shared by every Redis consumer of
// that group here that reads that set. Its methods are safe for concurrent
// use.
type Groups struct {
	props      config.Properties
	stats      *stats.Stats
	log        zerolog.Logger
	maxPending int
	maxMembers int
	names      atomic.Int64 // consumer names kept by all members

	mu      sync.Mutex
	members map[string]*Member // by memberKey
	owners  *owners            // the ACL users' members and names
	known   map[string]bool    // "group|topic" known to exist (created or seen here)
	// resetting holds the groups a Reset is changing, each with a channel
	// closed when it is done; no member of them starts meanwhile. At most
	// one entry per running XGROUP SETID or DESTROY.
	resetting map[string]chan struct{}
	closed    bool
}

// maxKnownGroups bounds the names Groups remembers as existing.
const maxKnownGroups = 10000

// GroupsConfig configures Groups.
type GroupsConfig struct {
	// Properties configure each member (the server's consumer properties).
	Properties config.Properties
	// MaxPending bounds a group's pending entries; MaxMembers the members
	// (librdkafka consumers) of all groups. Each is at least 1.
	MaxPending, MaxMembers int
	Stats                  *stats.Stats
	Log                    zerolog.Logger
}

// NewGroups is the groups of members configured by cfg.
func NewGroups(cfg GroupsConfig) *Groups {
	return &Groups{props: cfg.Properties, stats: cfg.Stats, log: cfg.Log.With().Str("role", "stream-groups").Logger(),
		maxPending: max(cfg.MaxPending, 1), maxMembers: max(cfg.MaxMembers, 1), members: map[string]*Member{}, owners: &owners{},
		resetting: map[string]chan struct{}{}}
}

func memberKey(group string, topics []string) string { return group + "|" + strings.Join(topics, ",") }

// ErrGroupReset is Member's answer when it waited for a Reset of the
// group: the group may since have gone, so the caller checks it exists
// before it asks again.
var ErrGroupReset = errors.New("the group was moved or destroyed meanwhile")

// Member returns the member of group for topics (sorted), made on first
// use by user (the ACL user, "" for the unrestricted one: see ownerShare).
// While a Reset of the group runs it waits (until ctx ends), then returns
// ErrGroupReset.
func (g *Groups) Member(ctx context.Context, group string, topics []string, user string) (*Member, error) {
	key := memberKey(group, topics)
	g.mu.Lock()
	defer g.mu.Unlock()
	if waited, err := g.awaitResetLocked(ctx, group); err != nil || waited {
		return nil, cmp.Or(err, ErrGroupReset)
	}
	if g.closed {
		return nil, consumer.ErrClosed
	}
	if m, ok := g.members[key]; ok {
		return m, nil
	}
	if len(g.members) >= g.maxMembers {
		return nil, fmt.Errorf("%w (at most %d groups and topic sets)", ErrTooManyMembers, g.maxMembers)
	}
	o := g.owners.get(user)
	if share := max(g.maxMembers/ownerShare, 1); o != nil && o.members >= share {
		return nil, fmt.Errorf("%w (at most %d groups and topic sets)", ErrTooManyUserMembers, share)
	}
	p := g.props.Clone()
	for k, v := range groupForced {
		p[k] = v
	}
	p["group.id"] = group
	p["client.id"] = "rafka-streams"
	cons, err := consumer.New(consumer.Config{Properties: p, Topics: topics, Stats: g.stats,
		Log: g.log.With().Str("group", group).Logger()})
	if err != nil {
		return nil, fmt.Errorf("create the group's member: %w", err)
	}
	if o != nil {
		o.members++
	}
	m := &Member{group: group, topics: topics, cons: cons, maxPending: g.maxPending, owner: o, owners: g.owners, names: &g.names,
		nameOwners: map[string]*owner{},
		pel:        map[entryKey]*Pending{}, parts: map[partKey]*partState{}, consumers: map[string]time.Time{}}
	m.lastUsed.Store(time.Now().UnixNano())
	g.members[key] = m
	return m, nil
}

// Of returns the members of group whose topics include topic.
func (g *Groups) Of(group, topic string) []*Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*Member
	for _, m := range g.members {
		if m.group == group && slices.Contains(m.topics, topic) {
			out = append(out, m)
		}
	}
	return out
}

// Remember records that group exists on topic (XGROUP CREATE made it, or
// Kafka said so), so that later commands need not ask Kafka again.
func (g *Groups) Remember(group, topic string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.resetting[group]; ok {
		return // what was seen may be gone when the Reset ends
	}
	if g.known == nil || len(g.known) >= maxKnownGroups {
		g.known = map[string]bool{}
	}
	g.known[group+"|"+topic] = true
}

// Known reports whether group is known to exist on topic here:
// remembered, or with a member here that reads topic.
func (g *Groups) Known(group, topic string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.known[group+"|"+topic] {
		return true
	}
	for _, m := range g.members {
		if m.group == group && slices.Contains(m.topics, topic) {
			return true
		}
	}
	return false
}

// MaxConsumers bounds the Redis consumer names one member keeps,
// MaxConsumerNames those of all members together (each name is at most
// 255 bytes: some 32 MB in all).
const (
	MaxConsumers     = 10000
	MaxConsumerNames = 100000
)

// ErrTooManyConsumerNames is XREADGROUP's answer past MaxConsumerNames.
var ErrTooManyConsumerNames = fmt.Errorf("too many stream consumers on this rafka (at most %d names in all groups): XGROUP DELCONSUMER some", MaxConsumerNames)

// ErrTooManyMembers is XREADGROUP's answer past GroupsConfig.MaxMembers.
var ErrTooManyMembers = errors.New("too many stream group members on this rafka")

// ErrTooManyConsumers is XREADGROUP's answer past MaxConsumers.
var ErrTooManyConsumers = fmt.Errorf("too many consumers in this group on this rafka (at most %d names)", MaxConsumers)

// Sweep closes the members no command used for idle that have no pending
// entry and no XREADGROUP waiting: a member nobody reads here would keep
// its partitions from the group's members on other rafkas. A later
// XREADGROUP makes it again. It also forgets the consumer names of every
// member not seen for idle that hold no pending entry. It returns how many
// members it closed.
func (g *Groups) Sweep(idle time.Duration) int {
	cutoff := time.Now().Add(-idle).UnixNano()
	g.mu.Lock()
	var idleMembers []*Member
	for k, m := range g.members {
		m.forgetIdleNames(time.Unix(0, cutoff))
		if m.busy.Load() > 0 || m.lastUsed.Load() > cutoff {
			continue
		}
		m.mu.Lock()
		pending := len(m.pel)
		m.mu.Unlock()
		if pending == 0 {
			idleMembers = append(idleMembers, m)
			delete(g.members, k)
			g.releaseLocked(m)
		}
	}
	g.mu.Unlock()
	for _, m := range idleMembers {
		m.close()
	}
	return len(idleMembers)
}

// awaitResetLocked waits, with g.mu held on entry and on return, until no
// Reset of group runs or ctx ends, and reports whether it waited.
func (g *Groups) awaitResetLocked(ctx context.Context, group string) (waited bool, err error) {
	for {
		done, ok := g.resetting[group]
		if !ok {
			return waited, nil
		}
		waited = true
		g.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		g.mu.Lock()
		if ctx.Err() != nil {
			return waited, ctx.Err()
		}
	}
}

// Reset closes group's members here and runs change (which moves or
// deletes the group in Kafka) while no member of the group can start:
// Kafka changes a group's offsets or deletes it only when it has no
// active member. XREADGROUPs of the group wait in Member meanwhile, and
// Resets of one group run one at a time.
func (g *Groups) Reset(ctx context.Context, group string, change func() error) error {
	g.mu.Lock()
	if _, err := g.awaitResetLocked(ctx, group); err != nil {
		g.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	g.resetting[group] = done
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.resetting, group)
		g.mu.Unlock()
		close(done)
	}()
	g.Drop(group)
	return change()
}

// Drop closes and forgets the members of group.
func (g *Groups) Drop(group string) {
	g.mu.Lock()
	for k := range g.known {
		if strings.HasPrefix(k, group+"|") {
			delete(g.known, k)
		}
	}
	var drop []*Member
	for k, m := range g.members {
		if m.group == group {
			drop = append(drop, m)
			delete(g.members, k)
			g.releaseLocked(m)
		}
	}
	g.mu.Unlock()
	for _, m := range drop {
		m.close()
	}
}

// Close closes every member (their stored offsets are committed).
func (g *Groups) Close() {
	g.mu.Lock()
	g.closed = true
	members := g.members
	g.members = map[string]*Member{}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(m.close)
	}
	wg.Wait()
}

// entryKey names one entry of a member's topics.
type entryKey struct {
	topic string
	id    ID
}

type partKey struct {
	topic     string
	partition int32
}

// Pending is one entry of a pending entries list.
type Pending struct {
	Topic      string
	ID         ID
	Consumer   string
	Delivered  time.Time
	Deliveries int64
	claim      uint64 // the member's count of claims at its last claim (0: none)
}

// partState is one partition's delivered entries not yet acked, for one
// assignment of it (epoch): a partition that left and came back starts
// afresh, from the commit of whoever owned it meanwhile.
type partState struct {
	epoch   uint64
	pending map[int64]bool // offsets delivered and not acked
	next    int64          // one past the last offset delivered
	stored  int64          // the offset stored for commit (0: none yet)
}

// Member is one Kafka group member shared by a group's Redis consumers.
type Member struct {
	group      string
	topics     []string
	cons       *consumer.Consumer
	maxPending int
	owner      *owner        // the ACL user whose command made it (nil: the unrestricted one)
	owners     *owners       // Groups.owners
	names      *atomic.Int64 // Groups.names: the consumer names of all members

	lastUsed atomic.Int64 // unix nanoseconds of the last command that used it
	busy     atomic.Int32 // XREADGROUPs in Next now

	mu        sync.Mutex
	closed    bool
	pel       map[entryKey]*Pending
	parts     map[partKey]*partState
	consumers map[string]time.Time // Redis consumer -> last seen
	// nameOwners are the ACL users its names count for (absent: the
	// unrestricted user's).
	nameOwners map[string]*owner
	claims     uint64 // claims made and undone, numbering Pending.claim
}

// Next hands consumer up to count new entries (XREADGROUP >), waiting up
// to block for the first when there is none (block < 0: no wait; 0: until
// one comes or ctx ends). Without noAck each is recorded in the pending
// entries list under consumer.
func (m *Member) Next(ctx context.Context, user, consumerName string, count int, block time.Duration, noAck bool) ([]*kafka.Message, error) {
	m.busy.Add(1)
	defer m.busy.Add(-1)
	o := m.owners.get(user)
	m.mu.Lock()
	if err := m.seenLocked(consumerName, o); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	full := !noAck && len(m.pel) >= m.maxPending
	m.mu.Unlock()
	if full {
		return nil, ErrPELFull
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if block > 0 {
		wctx, cancel = context.WithTimeout(ctx, block)
	}
	defer cancel()
	for {
		out, err := m.take(consumerName, count, noAck)
		if len(out) > 0 || err != nil || block < 0 {
			return out, err
		}
		if err := m.cons.WaitReady(wctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil, nil // BLOCK ran out
			}
			return nil, err
		}
	}
}

// take pops up to count buffered entries and records them, all under the
// member's lock: an entry popped is pending before any commit point is
// computed again, so no ack of a later entry can commit past it.
func (m *Member) take(consumerName string, count int, noAck bool) ([]*kafka.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	var out []*kafka.Message
	for len(out) < count {
		if !noAck && len(m.pel) >= m.maxPending {
			// Also checked here, not only before: one read, or reads
			// together, must not take the list past its bound.
			if len(out) == 0 {
				return nil, ErrPELFull
			}
			return out, nil
		}
		msg, err := m.cons.TryPop()
		if err != nil || msg == nil {
			return out, err
		}
		m.deliverLocked(msg, consumerName, noAck)
		out = append(out, msg)
	}
	return out, nil
}

// seenLocked records that consumerName asked now, for o's command (o: the
// ACL user's count, nil for the unrestricted user's), refusing a new name
// past MaxConsumers or the bounds on names.
func (m *Member) seenLocked(consumerName string, o *owner) error {
	m.lastUsed.Store(time.Now().UnixNano())
	if _, ok := m.consumers[consumerName]; !ok {
		switch {
		case m.closed:
			return consumer.ErrClosed
		case len(m.consumers) >= MaxConsumers:
			return ErrTooManyConsumers
		}
		if err := takeName(m.names, o); err != nil {
			return err
		}
		if o != nil {
			m.nameOwners[consumerName] = o
		}
	}
	m.consumers[consumerName] = time.Now()
	return nil
}

// forgetNameLocked drops a consumer name, giving it back to the bounds.
func (m *Member) forgetNameLocked(name string) {
	delete(m.consumers, name)
	giveName(m.names, m.nameOwners[name])
	delete(m.nameOwners, name)
}

// forgetIdleNames drops the consumer names not seen since cutoff that
// hold no pending entry, giving them back to the bounds on names: a name
// a client made up once does not keep its place for ever.
func (m *Member) forgetIdleNames(cutoff time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var stale map[string]bool
	for name, seen := range m.consumers {
		if seen.Before(cutoff) {
			if stale == nil {
				stale = map[string]bool{}
			}
			stale[name] = true
		}
	}
	if stale == nil {
		return
	}
	for _, p := range m.pel {
		delete(stale, p.Consumer)
	}
	for name := range stale {
		m.forgetNameLocked(name)
	}
}

// close closes the member's Kafka consumer (its stored offsets are
// committed) and gives back its consumer names.
func (m *Member) close() {
	m.mu.Lock()
	m.closed = true
	for name := range m.consumers {
		m.forgetNameLocked(name)
	}
	m.mu.Unlock()
	_ = m.cons.Close()
}

// deliverLocked records msg as delivered to consumerName.
func (m *Member) deliverLocked(msg *kafka.Message, consumerName string, noAck bool) {
	topic, p, off := *msg.TopicPartition.Topic, msg.TopicPartition.Partition, int64(msg.TopicPartition.Offset)
	ps := m.part(topic, p)
	ps.next = max(ps.next, off+1)
	if noAck {
		m.storeLocked(topic, p, ps)
		return
	}
	ps.pending[off] = true
	m.pel[entryKey{topic, IDOf(p, off)}] = &Pending{Topic: topic, ID: IDOf(p, off), Consumer: consumerName,
		Delivered: time.Now(), Deliveries: 1}
}

// part is the partition's state for its current assignment.
func (m *Member) part(topic string, p int32) *partState {
	k := partKey{topic, p}
	epoch, _ := m.cons.Assigned(topic, p)
	ps, ok := m.parts[k]
	if ok && ps.epoch != epoch {
		m.dropLocked(k, ps)
		ok = false
	}
	if !ok {
		ps = &partState{epoch: epoch, pending: map[int64]bool{}}
		m.parts[k] = ps
	}
	return ps
}

// dropLocked forgets a partition's state and its pending entries.
func (m *Member) dropLocked(k partKey, ps *partState) {
	for off := range ps.pending {
		delete(m.pel, entryKey{k.topic, IDOf(k.partition, off)})
	}
	delete(m.parts, k)
}

// Ack removes the entries from the pending entries list and returns how
// many were there; each partition's committed offset then advances over
// its contiguous acked prefix only, so an entry never acked is never
// skipped.
func (m *Member) Ack(topic string, ids []ID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastUsed.Store(time.Now().UnixNano())
	m.pruneLocked()
	n := 0
	touched := map[int32]bool{}
	for _, id := range ids {
		k := entryKey{topic, id}
		if _, ok := m.pel[k]; !ok {
			continue
		}
		delete(m.pel, k)
		p, off, _ := id.Record()
		delete(m.part(topic, p).pending, off)
		touched[p] = true
		n++
	}
	for p := range touched {
		m.storeLocked(topic, p, m.part(topic, p))
	}
	return n
}

// storeLocked stores the partition's commit point: its lowest pending
// offset, or one past the last delivered when none is pending.
func (m *Member) storeLocked(topic string, p int32, ps *partState) {
	commit := ps.next
	for off := range ps.pending {
		commit = min(commit, off)
	}
	if commit <= ps.stored {
		return
	}
	// The consumer stores ack+1: acking commit-1 stores commit.
	if errs := m.cons.AckAll([]consumer.Ack{{Topic: topic, Partition: p, Offset: commit - 1}}); errs == nil {
		ps.stored = commit
	}
}

// pruneLocked drops the pending entries of partitions this member no
// longer owns: their new owner redelivers them from the committed offset.
func (m *Member) pruneLocked() {
	for k, ps := range m.parts {
		if epoch, ok := m.cons.Assigned(k.topic, k.partition); !ok || epoch != ps.epoch {
			m.dropLocked(k, ps)
		}
	}
}

// PendingOf returns the pending entries of topic (of consumerName, or all
// when it is ""), in ID order, with IDs from start to end.
func (m *Member) PendingOf(topic, consumerName string, start, end ID) []Pending {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	var out []Pending
	for k, p := range m.pel {
		if k.topic != topic || (consumerName != "" && p.Consumer != consumerName) || k.id.Less(start) || end.Less(k.id) {
			continue
		}
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Pending) int { return a.ID.Compare(b.ID) })
	return out
}

// Consumers returns the Redis consumers this member has seen, sorted.
func (m *Member) Consumers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.consumers))
	for n := range m.consumers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ClaimOptions are XCLAIM's options.
type ClaimOptions struct {
	MinIdle    time.Duration
	Idle       *time.Duration // IDLE/TIME: the claimed entries' new idle time
	RetryCount *int64         // RETRYCOUNT: their new delivery count
	JustID     bool           // JUSTID: deliveries are not counted
}

// Claim gives the pending entries among ids idle at least o.MinIdle to
// consumerName and returns them in the order of ids, as Redis does
// (entries not pending are left out, as in Redis; FORCE has no effect: only
// an entry this member delivered can be pending).
func (m *Member) Claim(topic, user, consumerName string, ids []ID, o ClaimOptions) (claimed []Claimed, err error) {
	own := m.owners.get(user)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	if err := m.seenLocked(consumerName, own); err != nil {
		return nil, err
	}
	for _, id := range ids {
		p, ok := m.pel[entryKey{topic, id}]
		if !ok || time.Since(p.Delivered) < o.MinIdle {
			continue
		}
		before := *p
		m.claimLocked(p, consumerName, o)
		claimed = append(claimed, Claimed{Pending: *p, before: before, member: m})
	}
	return claimed, nil
}

// Claimed is a pending entry as a claim left it, with what it was before.
type Claimed struct {
	Pending
	before Pending
	member *Member
}

// Unclaim gives the entries back to what they were before their claims,
// those that nothing changed since: the claims whose entries the reply
// could not hold (a read past its bound) are undone, so that the entries
// are claimed again, not left with a consumer that never saw them.
//
// An entry claimed again since is left to that claim. A consumer the
// entry is given back to must still be known: one deleted meanwhile
// (DELCONSUMER, the sweep of idle names) does not get it back; the entry
// stays with the claimer, as idle as it was before.
func Unclaim(claims []Claimed) {
	for _, c := range claims {
		m := c.member
		m.mu.Lock()
		if p, ok := m.pel[entryKey{c.Topic, c.ID}]; ok && p.claim == c.claim {
			before := c.before
			if _, known := m.consumers[before.Consumer]; !known {
				before.Consumer = p.Consumer
			}
			m.claims++
			before.claim = m.claims // a claim undone is a change too
			*p = before
		}
		m.mu.Unlock()
	}
}

func (m *Member) claimLocked(p *Pending, consumerName string, o ClaimOptions) {
	m.claims++
	p.claim = m.claims
	p.Consumer = consumerName
	p.Delivered = time.Now()
	if o.Idle != nil {
		p.Delivered = p.Delivered.Add(-*o.Idle)
	}
	switch {
	case o.RetryCount != nil:
		p.Deliveries = *o.RetryCount
	case !o.JustID:
		p.Deliveries++
	}
}

// AutoClaim claims, in ID order from start, up to count pending entries of
// topic idle at least minIdle, and returns them with the ID to continue
// from (Min when the list was scanned to its end).
func (m *Member) AutoClaim(topic, user, consumerName string, minIdle time.Duration, start ID, count int, justID bool) (next ID, claimed []Claimed, err error) {
	o := m.owners.get(user)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	if err := m.seenLocked(consumerName, o); err != nil {
		return Min, nil, err
	}
	var candidates []*Pending
	for k, p := range m.pel {
		if k.topic == topic && !k.id.Less(start) {
			candidates = append(candidates, p)
		}
	}
	slices.SortFunc(candidates, func(a, b *Pending) int { return a.ID.Compare(b.ID) })
	scanned := 0
	for _, p := range candidates {
		if len(claimed) >= count {
			break
		}
		scanned++
		if time.Since(p.Delivered) < minIdle {
			continue
		}
		before := *p
		m.claimLocked(p, consumerName, ClaimOptions{JustID: justID})
		claimed = append(claimed, Claimed{Pending: *p, before: before, member: m})
	}
	if scanned < len(candidates) {
		return candidates[scanned].ID, claimed, nil
	}
	return Min, claimed, nil
}

// ConsumerInfo is one Redis consumer of a member (XINFO CONSUMERS).
type ConsumerInfo struct {
	Name     string
	Pending  int
	LastSeen time.Time
}

// ConsumerInfos are the member's Redis consumers with their pending
// entries of topic, by name.
func (m *Member) ConsumerInfos(topic string) []ConsumerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	pending := map[string]int{}
	for k, p := range m.pel {
		if k.topic == topic {
			pending[p.Consumer]++
		}
	}
	out := make([]ConsumerInfo, 0, len(m.consumers))
	for name, seen := range m.consumers {
		out = append(out, ConsumerInfo{Name: name, Pending: pending[name], LastSeen: seen})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LastDelivered is the largest ID of topic this member has delivered (Min
// when none).
func (m *Member) LastDelivered(topic string) ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	last := Min
	for k, ps := range m.parts {
		if k.topic == topic && ps.next > 0 {
			if id := IDOf(k.partition, ps.next-1); last.Less(id) {
				last = id
			}
		}
	}
	return last
}

// Names lists the groups with a member here that reads topic, sorted.
func (g *Groups) Names(topic string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[string]bool{}
	for _, m := range g.members {
		if slices.Contains(m.topics, topic) {
			seen[m.group] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AddConsumer registers consumerName (XGROUP CREATECONSUMER) and reports
// whether it is new; past the bounds on names it is refused.
func (m *Member) AddConsumer(user, consumerName string) (bool, error) {
	o := m.owners.get(user)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.consumers[consumerName]; ok {
		return false, nil
	}
	if err := m.seenLocked(consumerName, o); err != nil {
		return false, err
	}
	return true, nil
}

// RemoveConsumer forgets consumerName (XGROUP DELCONSUMER) and returns how
// many pending entries of topic it had. Unlike Redis, those entries stay
// pending, under its name, for XCLAIM or XAUTOCLAIM: dropping them would
// hold the partitions' commits below them forever, or lose them.
func (m *Member) RemoveConsumer(topic, consumerName string) (found bool, pending int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, found = m.consumers[consumerName]
	if found {
		m.forgetNameLocked(consumerName)
	}
	for k, p := range m.pel {
		if k.topic == topic && p.Consumer == consumerName {
			pending++
		}
	}
	return found, pending
}
