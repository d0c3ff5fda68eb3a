package arrowflight

import (
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/arrowenc"
	"rafka/stats"
)

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
}

// writeBatches runs read over a batch writer for t, then ends the stream.
// With prime the schema is sent before read starts.
func (s *Service) writeBatches(stream flight.DataStreamWriter, t *ticket, prime bool, read func(*batchWriter) error) error {
	bw, err := s.newBatchWriter(stream, t)
	if err != nil {
		return err
	}
	if prime {
		err = bw.prime()
	}
	if err == nil {
		err = read(bw)
	}
	if cerr := bw.close(); err == nil && cerr != nil {
		err = status.Errorf(codes.Unavailable, "close stream: %v", cerr)
	}
	return err
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

// rows is the count of rows sent or waiting to be.
func (b *batchWriter) rows() int64 { return b.sent + int64(b.enc.Rows()) }

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
