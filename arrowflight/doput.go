package arrowflight

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/acl"
	"rafka/arrowenc"
	"rafka/stats"
	"rafka/topicname"
)

// putColumns are the columns a DoPut batch may carry. value is required;
// topic, offset and timestampType (as read from rafka) are accepted and
// ignored, so a table read from rafka can be written back.
type putColumns struct {
	key, value, partition, timestamp, headers int
}

// checkPutSchema validates a DoPut schema before anything is produced.
func checkPutSchema(schema *arrow.Schema) (putColumns, error) {
	cols := putColumns{key: -1, value: -1, partition: -1, timestamp: -1, headers: -1}
	for i, f := range schema.Fields() {
		bad := func(want string) error {
			return fmt.Errorf("column %q must be %s, got %s", f.Name, want, f.Type)
		}
		switch f.Name {
		case arrowenc.ColValue, arrowenc.ColKey:
			if !arrow.TypeEqual(f.Type, arrow.BinaryTypes.Binary) && !arrow.TypeEqual(f.Type, arrow.BinaryTypes.String) {
				return cols, bad("binary or utf8")
			}
			if f.Name == arrowenc.ColValue {
				cols.value = i
			} else {
				cols.key = i
			}
		case arrowenc.ColPartition:
			if !arrow.TypeEqual(f.Type, arrow.PrimitiveTypes.Int32) {
				return cols, bad("int32")
			}
			cols.partition = i
		case arrowenc.ColTimestamp:
			ts, ok := f.Type.(*arrow.TimestampType)
			if !ok || ts.Unit != arrow.Millisecond {
				return cols, bad("timestamp[ms]")
			}
			cols.timestamp = i
		case arrowenc.ColHeaders:
			if !isHeaderList(f.Type) {
				return cols, bad("list<struct<key: utf8, value: binary>> (nullable or not)")
			}
			cols.headers = i
		case arrowenc.ColTopic, arrowenc.ColOffset, arrowenc.ColTimestampType:
		default:
			return cols, fmt.Errorf("unknown column %q", f.Name)
		}
	}
	if cols.value < 0 {
		return cols, errors.New(`a "value" column is required`)
	}
	return cols, nil
}

// isHeaderList reports whether t is a list of struct<key: utf8, value:
// binary>, whatever the nullability of the list item and the fields (pyarrow
// makes every field nullable by default).
func isHeaderList(t arrow.DataType) bool {
	l, ok := t.(*arrow.ListType)
	if !ok {
		return false
	}
	st, ok := l.Elem().(*arrow.StructType)
	if !ok || st.NumFields() != 2 {
		return false
	}
	k, v := st.Field(0), st.Field(1)
	return k.Name == "key" && arrow.TypeEqual(k.Type, arrow.BinaryTypes.String) &&
		v.Name == "value" && arrow.TypeEqual(v.Type, arrow.BinaryTypes.Binary)
}

// bytesAt returns row i of a binary or utf8 column, nil when null. The
// bytes alias Arrow memory; librdkafka copies them when producing.
func bytesAt(col arrow.Array, i int) []byte {
	if col.IsNull(i) {
		return nil
	}
	switch c := col.(type) {
	case *array.Binary:
		return c.Value(i)
	case *array.String:
		v := c.Value(i)
		return unsafe.Slice(unsafe.StringData(v), len(v))
	}
	return nil
}

// messages turns one batch into Kafka messages for topic.
func (pc putColumns) messages(topic *string, rec arrow.RecordBatch) []*kafka.Message {
	n := int(rec.NumRows())
	msgs := make([]*kafka.Message, n)
	for i := 0; i < n; i++ {
		m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: topic, Partition: kafka.PartitionAny}}
		m.Value = bytesAt(rec.Column(pc.value), i)
		if pc.key >= 0 {
			m.Key = bytesAt(rec.Column(pc.key), i)
		}
		if pc.partition >= 0 {
			if col := rec.Column(pc.partition).(*array.Int32); col.IsValid(i) {
				m.TopicPartition.Partition = col.Value(i)
			}
		}
		if pc.timestamp >= 0 {
			if col := rec.Column(pc.timestamp).(*array.Timestamp); col.IsValid(i) {
				m.Timestamp = col.Value(i).ToTime(arrow.Millisecond)
			}
		}
		if pc.headers >= 0 {
			m.Headers = headersAt(rec.Column(pc.headers).(*array.List), i)
		}
		msgs[i] = m
	}
	return msgs
}

func headersAt(col *array.List, i int) []kafka.Header {
	if col.IsNull(i) {
		return nil
	}
	start, end := col.ValueOffsets(i)
	if start == end {
		return nil
	}
	st := col.ListValues().(*array.Struct)
	keys, values := st.Field(0).(*array.String), st.Field(1).(*array.Binary)
	hs := make([]kafka.Header, 0, end-start)
	for j := int(start); j < int(end); j++ {
		if st.IsNull(j) {
			continue
		}
		h := kafka.Header{Key: keys.Value(j)} // a null key reads as ""
		if values.IsValid(j) {
			h.Value = values.Value(j)
		}
		hs = append(hs, h)
	}
	return hs
}

// recordBytes is the size of a batch's Arrow buffers, as received.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, col := range rec.Columns() {
		n += dataBytes(col.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	// Dictionary returns a typed nil when there is none.
	if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
		n += dataBytes(dict)
	}
	return n
}

// replayFirst is a DoPut stream whose first message was already received.
// It refuses a zstd batch before the IPC reader sees it (checkPutCodec).
type replayFirst struct {
	first *flight.FlightData
	flight.DataStreamReader
}

func (r *replayFirst) Recv() (*flight.FlightData, error) {
	m := r.first
	if m != nil {
		r.first = nil
	} else {
		var err error
		if m, err = r.DataStreamReader.Recv(); err != nil {
			return nil, err
		}
	}
	if err := checkPutCodec(m.DataHeader); err != nil {
		return nil, err
	}
	return m, nil
}

// putResult is DoPut's app_metadata.
type putResult struct {
	Produced int64 `json:"produced"`
}

// DoPut produces every row of the incoming batches to the topic of the PATH
// descriptor and returns only after every delivery report is in.
func (s *Service) DoPut(stream flight.FlightService_DoPutServer) error {
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	// The first message carries the descriptor: a Flight SQL update may
	// send no schema, so it is looked at before the IPC reader needs one.
	first, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "read DoPut stream: %v", err)
	}
	if d := first.GetFlightDescriptor(); d != nil && d.Type == flight.DescriptorCMD && isFlightSQL(d.Cmd) {
		return errFlightSQL
	}
	rd, err := flight.NewRecordReader(&replayFirst{first: first, DataStreamReader: stream}, ipc.WithAllocator(&putAllocator{mem: s.mem}))
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "read DoPut stream: %v", err)
	}
	defer rd.Release()
	d := rd.LatestFlightDescriptor()
	if d == nil || d.Type != flight.DescriptorPATH || len(d.Path) != 1 || d.Path[0] == "" {
		return status.Error(codes.InvalidArgument, "DoPut needs a PATH descriptor [<topic>]")
	}
	topic := d.Path[0]
	if err := topicname.Check(topic); err != nil {
		return status.Errorf(codes.InvalidArgument, "DoPut: %v", err)
	}
	if err := s.allow(ctx, acl.ProduceTopic, topic); err != nil {
		return err
	}
	cols, err := checkPutSchema(rd.Schema())
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "DoPut schema: %v", err)
	}
	if _, err := s.cluster.partitions(topic); err != nil {
		return err
	}
	acct := s.cfg.Producer.NewAccount()
	// A call cut short leaves its messages to the shared producer; the
	// ones still outstanding are counted as unflushed.
	defer acct.Close(ctx, 0)
	var produced int64
	for rd.Next() {
		rec := rd.RecordBatch()
		if rec.NumRows() > maxPutRows {
			return status.Errorf(codes.InvalidArgument, "a DoPut batch has at most %d rows here, this one %d: send smaller batches (%d messages delivered)", maxPutRows, rec.NumRows(), produced)
		}
		s.stats.Inc(stats.FlightPutBatches)
		s.stats.Add(stats.FlightPutRows, rec.NumRows())
		s.stats.Add(stats.FlightPutBytes, recordBytes(rec))
		msgs := cols.messages(&topic, rec)
		n, err := acct.SendAndWait(ctx, msgs)
		produced += int64(n)
		if err != nil {
			return status.Errorf(codes.Unavailable, "produce to %s failed after %d delivered messages: %v", topic, produced, err)
		}
		s.stats.Add(stats.FlightRows, int64(n))
	}
	if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		return status.Errorf(codes.InvalidArgument, "read DoPut stream after %d delivered messages: %v", produced, err)
	}
	meta, _ := json.Marshal(putResult{Produced: produced})
	return stream.Send(&flight.PutResult{AppMetadata: meta})
}
