package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"rafka/config"
	"rafka/consumer"
	"rafka/stats"
	"rafka/test/kafkatest"
)

// newTestGroups is the stream groups of a test, on brokers, closed when it
// ends.
func newTestGroups(t *testing.T, brokers string) *Groups {
	t.Helper()
	g := NewGroups(GroupsConfig{Properties: (&config.File{}).ConsumerProperties(brokers), MaxPending: 1_000_000,
		MaxMembers: 8, Stats: stats.New(), Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
	t.Cleanup(g.Close)
	return g
}

// stored is the offset the member stored for commit on the partition.
func (m *Member) stored(topic string, p int32) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ps, ok := m.parts[partKey{topic, p}]; ok {
		return ps.stored
	}
	return 0
}

// TestConcurrentReadersCommitOnlyAckedPrefix: many Redis consumers of one
// member read and ack at once, each leaving some entries unacked; the
// member's commit point is always the first entry not acked. Then the
// unacked ones are acked in order, and after each the commit point is
// exactly the next unacked one: no concurrent read let an ack commit past
// an entry that was delivered but not yet pending. (The race it looks for
// is a scheduling accident: each round catches the old defect about half
// the time, five rounds nearly always.)
func TestConcurrentReadersCommitOnlyAckedPrefix(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	g := newTestGroups(t, brokers)
	for round := range 5 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) { readAckAndCheck(t, brokers, g) })
	}
}

func readAckAndCheck(t *testing.T, brokers string, g *Groups) {
	topic := kafkatest.CreateTopic(t, brokers, "prefix", 1)
	const n = 4000
	kafkatest.Produce(t, brokers, topic, n)
	m, err := g.Member(context.Background(), topic, []string{topic}, "")
	if err != nil {
		t.Fatal(err)
	}
	withheld := func(off int64) bool { return off%7 == 3 }
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var delivered atomic.Int64
	var mu sync.Mutex
	var unacked []int64
	var wg sync.WaitGroup
	for r := range 8 {
		wg.Go(func() {
			name := string(rune('a' + r))
			for delivered.Load() < n && ctx.Err() == nil {
				msgs, err := m.Next(ctx, "", name, 1+r%3, 200*time.Millisecond, false)
				if err != nil {
					return
				}
				for _, msg := range msgs {
					delivered.Add(1)
					off := int64(msg.TopicPartition.Offset)
					if withheld(off) {
						mu.Lock()
						unacked = append(unacked, off)
						mu.Unlock()
						continue
					}
					if m.Ack(topic, []ID{IDOf(0, off)}) != 1 {
						t.Errorf("ack of %d: not pending", off)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := delivered.Load(); got != n {
		t.Fatalf("delivered %d of %d", got, n)
	}
	slices.Sort(unacked)
	if len(unacked) == 0 || unacked[0] != 3 {
		t.Fatalf("unacked offsets: %v", unacked[:min(len(unacked), 5)])
	}
	for i, off := range unacked {
		if got := m.stored(topic, 0); got != off {
			t.Fatalf("before the ack of unacked entry %d (offset %d), the commit point is %d: an ack committed past a delivered entry", i, off, got)
		}
		m.Ack(topic, []ID{IDOf(0, off)})
	}
	if got := m.stored(topic, 0); got != n {
		t.Fatalf("commit point after every ack: %d, want %d", got, n)
	}
}

// TestPartitionBackStartsAfresh: a member's partition goes to another
// member of the group, which acks and commits further, and comes back.
// The member then forgets the entries it had pending before (their new
// owner handled them): they are no longer in its pending list, and they
// no longer hold back its commit of what it reads now.
func TestPartitionBackStartsAfresh(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.CreateTopic(t, brokers, "back", 1)
	kafkatest.Produce(t, brokers, topic, 20)
	m, err := newTestGroups(t, brokers).Member(context.Background(), topic, []string{topic}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// read hands the member's consumer "a" entries until it has want of
	// them at or past from, acking them if asked.
	read := func(from int64, want int, ack bool) []int64 {
		var got []int64
		for len(got) < want {
			msgs, err := m.Next(ctx, "", "a", want-len(got), time.Second, false)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			for _, msg := range msgs {
				off := int64(msg.TopicPartition.Offset)
				if off < from {
					continue
				}
				got = append(got, off)
				if ack {
					m.Ack(topic, []ID{IDOf(0, off)})
				}
			}
		}
		return got
	}
	if got := read(0, 5, false); !slices.Equal(got, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("first read: %v", got)
	}

	// Another member joins; its client id sorts first, so the range
	// assignor gives it the one partition. It commits offset 10 and leaves.
	assigned := make(chan struct{}, 1)
	other, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ClientID("a-other"),
		kgo.ConsumerGroup(topic), kgo.ConsumeTopics(topic), kgo.Balancers(kgo.RangeBalancer()),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the other member was never assigned the partition")
	}
	var commitErr error
	other.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: 10}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
			if resp == nil {
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					commitErr = errors.Join(commitErr, kerr.ErrorForCode(rp.ErrorCode))
				}
			}
		})
	if commitErr != nil {
		t.Fatalf("the other member's commit: %v", commitErr)
	}
	other.Close()
	for {
		if _, ok := m.cons.Assigned(topic, 0); ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the partition never came back")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Back to the member: it reads on from 10, and its commit follows its
	// acks with nothing of before holding it back.
	if got := read(10, 5, true); !slices.Equal(got, []int64{10, 11, 12, 13, 14}) {
		t.Fatalf("read after the partition came back: %v", got)
	}
	if p := m.PendingOf(topic, "", Min, Max); len(p) != 0 {
		t.Errorf("pending after the partition came back: %v", p)
	}
	if got := m.stored(topic, 0); got != 15 {
		t.Errorf("commit point after acking 10..14: %d, want 15", got)
	}
}

// TestConsumerNameAccounting: the names of all members together are
// counted once each: a new name adds one (refused past a member's
// MaxConsumers), a known one nothing, DELCONSUMER and the idle sweep give
// them back, and a name that holds a pending entry is kept by the sweep.
func TestConsumerNameAccounting(t *testing.T) {
	g := &Groups{}
	newMember := func() *Member {
		return &Member{names: &g.names, consumers: map[string]time.Time{}, nameOwners: map[string]*owner{}, pel: map[entryKey]*Pending{}}
	}
	a, b := newMember(), newMember()
	for i := range MaxConsumers {
		if err := a.seenLocked(fmt.Sprint("a", i), nil); err != nil {
			t.Fatalf("name %d: %v", i, err)
		}
	}
	if err := a.seenLocked("one more", nil); err != ErrTooManyConsumers {
		t.Fatalf("name %d of a member: %v", MaxConsumers+1, err)
	}
	if err := a.seenLocked("a7", nil); err != nil {
		t.Fatalf("a known name: %v", err)
	}
	if added, err := b.AddConsumer("", "b0"); !added || err != nil {
		t.Fatalf("AddConsumer: %v %v", added, err)
	}
	if added, err := b.AddConsumer("", "b0"); added || err != nil {
		t.Fatalf("AddConsumer of a known name: %v %v", added, err)
	}
	if got := g.names.Load(); got != MaxConsumers+1 {
		t.Fatalf("names counted: %d, want %d", got, MaxConsumers+1)
	}
	if found, _ := a.RemoveConsumer("t", "a7"); !found {
		t.Fatal("RemoveConsumer of a7")
	}
	if found, _ := a.RemoveConsumer("t", "a7"); found {
		t.Fatal("RemoveConsumer of a7 twice")
	}
	a.pel[entryKey{"t", ID{1, 0}}] = &Pending{Topic: "t", ID: ID{1, 0}, Consumer: "a3"}
	a.forgetIdleNames(time.Now().Add(time.Second))
	if got := a.Consumers(); len(got) != 1 || got[0] != "a3" {
		t.Fatalf("names after the sweep: %d (%.3v)", len(got), got)
	}
	if got := g.names.Load(); got != 2 { // a3, b0
		t.Fatalf("names counted after the sweep: %d, want 2", got)
	}
	g.names.Store(MaxConsumerNames)
	if err := b.seenLocked("past the bound", nil); err != ErrTooManyConsumerNames {
		t.Fatalf("a name past MaxConsumerNames: %v", err)
	}
	if got := g.names.Load(); got != MaxConsumerNames {
		t.Fatalf("a refused name was counted: %d", got)
	}
}

// TestResetHoldsMembersBack: while a Reset of a group runs, its members
// are closed and no new one starts (Member waits, then answers
// ErrGroupReset, or gives up with its context), nothing is remembered of
// the group, and other groups are not held back; the Member after it is
// new.
func TestResetHoldsMembersBack(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.CreateTopic(t, brokers, "reset", 1)
	g := newTestGroups(t, brokers)
	ctx := context.Background()
	old, err := g.Member(ctx, "g", []string{topic}, "")
	if err != nil {
		t.Fatal(err)
	}
	inChange, release := make(chan struct{}), make(chan struct{})
	resetDone := make(chan error, 1)
	go func() {
		resetDone <- g.Reset(ctx, "g", func() error {
			close(inChange)
			<-release
			return nil
		})
	}()
	<-inChange
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := g.Member(short, "g", []string{topic}, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Member during the Reset: %v, want it to wait until its context ended", err)
	}
	if _, err := g.Member(ctx, "other", []string{topic}, ""); err != nil {
		t.Fatalf("another group's Member during the Reset: %v", err)
	}
	g.Remember("g", topic)
	got := make(chan error, 1)
	go func() {
		_, err := g.Member(ctx, "g", []string{topic}, "")
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Member returned while the Reset ran: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-resetDone; err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, ErrGroupReset) {
		t.Fatalf("Member that waited for the Reset: %v, want ErrGroupReset", err)
	}
	if g.Known("g", topic) {
		t.Error("what was remembered during the Reset is still known")
	}
	if m, err := g.Member(ctx, "g", []string{topic}, ""); err != nil || m == old {
		t.Fatalf("Member after the Reset: %p, %v; the closed one was %p", m, err, old)
	}
	if _, err := old.Next(ctx, "", "c", 1, -1, false); !errors.Is(err, consumer.ErrClosed) {
		t.Fatalf("the member the Reset closed reads: %v", err)
	}
}

// TestPendingBoundHoldsWithinARead: a read asks for more entries than the
// pending entries list has room for; it takes no more than the room, and
// the next read is refused until entries are acked.
func TestPendingBoundHoldsWithinARead(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	g := NewGroups(GroupsConfig{Properties: (&config.File{}).ConsumerProperties(brokers), MaxPending: 10,
		MaxMembers: 8, Stats: stats.New(), Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
	t.Cleanup(g.Close)
	topic := kafkatest.CreateTopic(t, brokers, "pelbound", 1)
	kafkatest.Produce(t, brokers, topic, 100)
	m, err := g.Member(context.Background(), topic, []string{topic}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var got int
	for got < 10 {
		msgs, err := m.Next(ctx, "", "a", 100, 5*time.Second, false)
		if err != nil {
			t.Fatalf("after %d entries: %v", got, err)
		}
		got += len(msgs)
	}
	if got != 10 {
		t.Fatalf("reads of COUNT 100 took %d entries with room for 10", got)
	}
	if _, err := m.Next(ctx, "", "a", 100, -1, false); !errors.Is(err, ErrPELFull) {
		t.Fatalf("a read with the list full: %v, want ErrPELFull", err)
	}
}
