package arrowflight

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// joinTimeout bounds how long a group read waits for its first assignment.
const joinTimeout = 30 * time.Second

// groupRead is one group-mode DoGet: its ticket, the group consumer and
// the next offset of every partition it delivered from.
type groupRead struct {
	s          *Service
	t          *ticket
	kc         *kafka.Consumer // nil until the read joins
	next       map[int32]kafka.Offset
	assignedAt time.Time
}

// getGroup streams a group read of t and, once the whole stream was sent,
// commits what it delivered.
func (s *Service) getGroup(ctx context.Context, stream flight.DataStreamWriter, t *ticket) error {
	g := &groupRead{s: s, t: t, next: map[int32]kafka.Offset{}}
	defer g.close()
	err := s.writeBatches(stream, t, true, func(bw *batchWriter) error {
		return g.read(ctx, bw)
	})
	if err == nil {
		err = g.commit(ctx)
	}
	return err
}

// close leaves the group; auto-commit is off, so it commits nothing.
func (g *groupRead) close() {
	if g.kc != nil {
		_ = g.kc.Close()
	}
}

// rebalance applies assignments; partitions taken away are forgotten, so
// their delivered messages are not committed and go to the new owner.
func (g *groupRead) rebalance(kc *kafka.Consumer, ev kafka.Event) error {
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		g.assignedAt = time.Now()
		if kc.GetRebalanceProtocol() == "COOPERATIVE" {
			return kc.IncrementalAssign(e.Partitions)
		}
		return kc.Assign(e.Partitions)
	case kafka.RevokedPartitions:
		for _, tp := range e.Partitions {
			delete(g.next, tp.Partition)
		}
		if kc.GetRebalanceProtocol() == "COOPERATIVE" {
			return kc.IncrementalUnassign(e.Partitions)
		}
		return kc.Unassign()
	}
	return nil
}

// read joins the ticket's group and sends to bw what the group's members
// are assigned, until max_records rows were sent or nothing arrived for
// idle_ms.
func (g *groupRead) read(ctx context.Context, bw *batchWriter) error {
	t := g.t
	kc, err := g.s.cluster.newGroupReader(t.Group)
	if err != nil {
		return err
	}
	g.kc = kc
	if err := kc.SubscribeTopics([]string{t.Topic}, g.rebalance); err != nil {
		return status.Errorf(codes.Internal, "subscribe group %s to %s: %v", t.Group, t.Topic, err)
	}
	idle := time.Duration(t.IdleMs) * time.Millisecond
	if idle == 0 {
		idle = defaultIdle * time.Millisecond
	}
	started := time.Now()
	var lastMessage time.Time
	for {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if t.MaxRecords > 0 && bw.rows() >= t.MaxRecords {
			return bw.flush()
		}
		switch e := kc.Poll(pollMs).(type) {
		case nil:
			if g.assignedAt.IsZero() {
				if time.Since(started) > joinTimeout {
					return status.Errorf(codes.DeadlineExceeded, "group %s was not assigned any partition within %v", t.Group, joinTimeout)
				}
				continue
			}
			if since := lastMessage; time.Since(maxTime(since, g.assignedAt)) >= idle {
				return bw.flush()
			}
		case *kafka.Message:
			if err := bw.add(e); err != nil {
				return err
			}
			g.next[e.TopicPartition.Partition] = e.TopicPartition.Offset + 1
			lastMessage = time.Now()
		case kafka.Error:
			if isFatal(e) {
				return status.Errorf(codes.Unavailable, "group read %s: %v", t.Group, e)
			}
			g.s.log.Info().Err(e).Str("group", t.Group).Msg("flight group read: consumer error (reading goes on)")
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// commit commits the delivered offsets once the whole stream was sent and
// the client did not cancel: an interrupted stream commits nothing.
func (g *groupRead) commit(ctx context.Context) error {
	if len(g.next) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	offsets := make([]kafka.TopicPartition, 0, len(g.next))
	for p, o := range g.next {
		offsets = append(offsets, kafka.TopicPartition{Topic: &g.t.Topic, Partition: p, Offset: o})
	}
	if _, err := g.kc.CommitOffsets(offsets); err != nil {
		return status.Errorf(codes.Unavailable, "commit group offsets: %v", err)
	}
	return nil
}
