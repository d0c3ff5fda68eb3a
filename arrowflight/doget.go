package arrowflight

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/arrowenc"
	"rafka/stats"
)

// pollMs is how long one poll of a read waits; a follow read sends what it
// has after one empty poll.
const pollMs = 100

// batchMeta is the app_metadata of every batch, so a client can resume
// exactly after the last offset it received.
type batchMeta struct {
	Partition   int32 `json:"partition"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
}

// batchWriter cuts encoded rows into batches, sends them with their
// app_metadata and counts them.
type batchWriter struct {
	s       *Service
	w       *flight.Writer
	enc     *arrowenc.Encoder
	t       *ticket
	first   int64 // offset of the first row waiting, -1 when none
	last    int64
	sent    int64 // rows sent
	partTag int32
	group   *groupRead // group mode only
}

func (s *Service) newBatchWriter(stream flight.DataStreamWriter, t *ticket) (*batchWriter, error) {
	schema, err := s.schema(t.Columns)
	if err != nil {
		return nil, err
	}
	comp, err := arrowenc.ParseCompression(t.Compression)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return &batchWriter{
		s:     s,
		w:     flight.NewRecordWriter(stream, arrowenc.IPCOptions(schema, s.mem, comp)...),
		enc:   arrowenc.NewEncoder(s.mem, schema),
		t:     t,
		first: -1,
	}, nil
}

// add encodes m, sending a batch when the caps are reached.
func (b *batchWriter) add(m *kafka.Message) error {
	off := int64(m.TopicPartition.Offset)
	if b.enc.Rows() > 0 && (b.enc.Bytes()+arrowenc.RowBytes(m) > b.t.MaxBatchBytes) {
		if err := b.flush(); err != nil {
			return err
		}
	}
	if b.first < 0 {
		b.first = off
		b.partTag = m.TopicPartition.Partition
	} else if m.TopicPartition.Partition != b.partTag {
		b.partTag = -1 // a group batch may mix partitions
	}
	b.last = off
	b.enc.Append(m)
	if b.enc.Rows() >= b.t.MaxBatchRows || b.enc.Bytes() >= b.t.MaxBatchBytes {
		return b.flush()
	}
	return nil
}

// flush sends the waiting rows, if any, as one batch.
func (b *batchWriter) flush() error {
	if b.enc.Rows() == 0 {
		return nil
	}
	rows, size := b.enc.Rows(), b.enc.Bytes()
	rec := b.enc.NewRecordBatch()
	defer rec.Release()
	meta, _ := json.Marshal(batchMeta{Partition: b.partTag, FirstOffset: b.first, LastOffset: b.last})
	b.first = -1
	if err := b.w.WriteWithAppMetadata(rec, meta); err != nil {
		return fmt.Errorf("send batch: %w", err)
	}
	b.sent += int64(rows)
	b.s.stats.Add(stats.FlightRows, int64(rows))
	b.s.stats.Add(stats.FlightBytes, int64(size))
	b.s.stats.Inc(stats.FlightGetBatches)
	return nil
}

// prime sends the schema at once, with an empty batch: a follow or group
// read may wait long for its first message, and clients read the schema
// before anything else.
func (b *batchWriter) prime() error {
	rec := b.enc.NewRecordBatch()
	defer rec.Release()
	if err := b.w.Write(rec); err != nil {
		return fmt.Errorf("send schema: %w", err)
	}
	return nil
}

// close ends the stream (a schema is sent even when no batch was) and frees
// the encoder.
func (b *batchWriter) close() error {
	err := b.w.Close()
	b.enc.Release()
	return err
}

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
	if t.Group == "" {
		if err := checkPartition(t.Topic, parts, t.Partition); err != nil {
			return err
		}
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	bw, err := s.newBatchWriter(stream, t)
	if err != nil {
		return err
	}
	if t.Group != "" || t.End == followEnd {
		err = bw.prime()
	}
	if err == nil && t.Group != "" {
		err = s.readGroup(ctx, t, bw)
	} else if err == nil {
		err = s.readRange(ctx, t, bw)
	}
	if cerr := bw.close(); err == nil && cerr != nil {
		err = status.Errorf(codes.Unavailable, "close stream: %v", cerr)
	}
	if err == nil && t.Group != "" {
		err = bw.commit(ctx)
	}
	if bw.group != nil {
		bw.group.close()
	}
	return err
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
