package arrowflight

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pollMs is how long one poll of a read waits; a follow read sends what it
// has after one empty poll.
const pollMs = 100

// DoGet streams one ticket: a partition range (bounded or follow), or a
// group read.
func (s *Service) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	t, err := decodeTicket(tkt.GetTicket(), s.maxBatchBytes())
	if err != nil {
		return err
	}
	// Tickets carry no server-side state, so a ticket is checked as a
	// descriptor is: whoever obtained it.
	if err := s.allowRead(stream.Context(), t.Topic, t.Group); err != nil {
		return err
	}
	// A read of a partition that does not exist would wait forever for its
	// messages: the topic and partition must exist now.
	parts, err := s.cluster.partitions(t.Topic)
	if err != nil {
		return err
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	if t.Group != "" {
		return s.getGroup(ctx, stream, t)
	}
	if err := checkPartition(t.Topic, parts, t.Partition); err != nil {
		return err
	}
	return s.writeBatches(stream, t, t.End == followEnd, func(bw *batchWriter) error {
		return s.readRange(ctx, t, bw)
	})
}

// readRange reads [t.Start, t.End) of one partition, or follows it from
// t.Start until ctx ends. It stops at the end even across offset gaps
// (compaction, transaction markers): the end of the partition (EOF) at or
// past t.End ends the read.
func (s *Service) readRange(ctx context.Context, t *ticket, bw *batchWriter) error {
	follow := t.End == followEnd
	if !follow && t.Start >= t.End {
		return nil
	}
	kc, err := s.cluster.newReader()
	if err != nil {
		return err
	}
	defer func() { _ = kc.Close() }()
	topic := t.Topic
	if err := kc.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: t.Partition, Offset: kafka.Offset(t.Start)}}); err != nil {
		return status.Errorf(codes.Internal, "assign %s/%d: %v", topic, t.Partition, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		switch e := kc.Poll(pollMs).(type) {
		case nil:
			if follow {
				if err := bw.flush(); err != nil {
					return err
				}
			}
		case *kafka.Message:
			off := int64(e.TopicPartition.Offset)
			if !follow && off >= t.End {
				return bw.flush()
			}
			if err := bw.add(e); err != nil {
				return err
			}
			if !follow && off == t.End-1 {
				return bw.flush()
			}
		case kafka.PartitionEOF:
			if !follow && int64(e.Offset) >= t.End {
				return bw.flush()
			}
			if follow {
				if err := bw.flush(); err != nil {
					return err
				}
			}
		case kafka.Error:
			if isFatal(e) {
				return status.Errorf(codes.Unavailable, "read %s/%d: %v", topic, t.Partition, e)
			}
			s.log.Info().Err(e).Str("topic", topic).Int32("partition", t.Partition).Msg("flight read: consumer error (reading goes on)")
		}
	}
}

// streamContext ends when the client's stream does or the service shuts
// down.
func (s *Service) streamContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
