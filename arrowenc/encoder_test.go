package arrowenc

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func testMessages() []*kafka.Message {
	topicA, topicB := "orders", "payments"
	ts := time.UnixMilli(1700000000123)
	return []*kafka.Message{
		{TopicPartition: kafka.TopicPartition{Topic: &topicA, Partition: 1, Offset: 10}, Key: []byte("k1"), Value: []byte("v1"),
			Timestamp: ts, TimestampType: kafka.TimestampCreateTime,
			Headers: []kafka.Header{{Key: "h", Value: []byte("1")}, {Key: "h", Value: []byte("2")}, {Key: "n", Value: nil}}},
		{TopicPartition: kafka.TopicPartition{Topic: &topicB, Partition: 0, Offset: 11}, Key: nil, Value: nil,
			TimestampType: kafka.TimestampNotAvailable},
		{TopicPartition: kafka.TopicPartition{Topic: &topicA, Partition: 2, Offset: 12}, Key: []byte{}, Value: []byte("v3"),
			Timestamp: ts.Add(time.Second), TimestampType: kafka.TimestampLogAppendTime},
	}
}

// roundTrip encodes msgs with the given columns, writes one IPC stream and
// reads it back.
func roundTrip(t *testing.T, mem memory.Allocator, columns []string, msgs []*kafka.Message) (arrow.RecordBatch, *ipc.Reader) {
	t.Helper()
	schema, err := Schema(columns, "test")
	if err != nil {
		t.Fatal(err)
	}
	enc := NewEncoder(mem, schema)
	defer enc.Release()
	for _, m := range msgs {
		enc.Append(m)
	}
	if enc.Rows() != len(msgs) || enc.Bytes() <= 0 {
		t.Fatalf("rows %d bytes %d", enc.Rows(), enc.Bytes())
	}
	rec := enc.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	if err := WriteStream(&buf, mem, schema, rec, CompressionNone); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&buf, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatalf("no batch: %v", r.Err())
	}
	got := r.RecordBatch()
	got.Retain()
	return got, r
}

func TestEncodeAllColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, r := roundTrip(t, mem, nil, testMessages())
	defer r.Release()
	defer rec.Release()

	if got := strings.Join(fieldNames(rec.Schema()), ","); got != "key,value,topic,partition,offset,timestamp,timestampType,headers" {
		t.Fatalf("columns %s", got)
	}
	if v, _ := rec.Schema().Metadata().GetValue("rafka.version"); v != "test" {
		t.Errorf("rafka.version = %q", v)
	}
	key := rec.Column(0).(*array.Binary)
	if string(key.Value(0)) != "k1" || !key.IsNull(1) || key.IsNull(2) || len(key.Value(2)) != 0 {
		t.Errorf("keys: %v", key)
	}
	value := rec.Column(1).(*array.Binary)
	if string(value.Value(0)) != "v1" || !value.IsNull(1) {
		t.Errorf("values: %v", value)
	}
	topic := rec.Column(2).(*array.Dictionary)
	dict := topic.Dictionary().(*array.String)
	if dict.Value(topic.GetValueIndex(0)) != "orders" || dict.Value(topic.GetValueIndex(1)) != "payments" || dict.Value(topic.GetValueIndex(2)) != "orders" {
		t.Errorf("topics: %v", topic)
	}
	if p := rec.Column(3).(*array.Int32); p.Value(0) != 1 || p.Value(2) != 2 {
		t.Errorf("partitions: %v", p)
	}
	if o := rec.Column(4).(*array.Int64); o.Value(0) != 10 || o.Value(2) != 12 {
		t.Errorf("offsets: %v", o)
	}
	ts := rec.Column(5).(*array.Timestamp)
	if ts.Value(0) != 1700000000123 || !ts.IsNull(1) || ts.Value(2) != 1700000001123 {
		t.Errorf("timestamps: %v", ts)
	}
	if tt := rec.Column(6).(*array.Int8); tt.Value(0) != 0 || tt.Value(1) != -1 || tt.Value(2) != 1 {
		t.Errorf("timestamp types: %v", tt)
	}
	headers := rec.Column(7).(*array.List)
	start, end := headers.ValueOffsets(0)
	hs := headers.ListValues().(*array.Struct)
	hk, hv := hs.Field(0).(*array.String), hs.Field(1).(*array.Binary)
	var got []string
	for i := int(start); i < int(end); i++ {
		v := "null"
		if !hv.IsNull(i) {
			v = string(hv.Value(i))
		}
		got = append(got, hk.Value(i)+"="+v)
	}
	if strings.Join(got, ",") != "h=1,h=2,n=null" {
		t.Errorf("headers of row 0: %v", got)
	}
	if s, e := headers.ValueOffsets(1); s != e {
		t.Errorf("row 1 has %d headers", e-s)
	}
}

func TestEncodeProjection(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, r := roundTrip(t, mem, []string{"offset", "value"}, testMessages())
	defer r.Release()
	defer rec.Release()
	if got := strings.Join(fieldNames(rec.Schema()), ","); got != "value,offset" {
		t.Fatalf("projected columns %s, want schema order value,offset", got)
	}
	if _, err := Schema([]string{"nope"}, "x"); err == nil || !strings.Contains(err.Error(), `unknown column "nope"`) {
		t.Errorf("unknown column: %v", err)
	}
}

// TestEncoderReuse: the builders serve several batches; the topic
// dictionary keeps growing across them and readers decode each batch.
func TestEncoderReuse(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema, _ := Schema(nil, "test")
	enc := NewEncoder(mem, schema)
	defer enc.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, IPCOptions(schema, mem, CompressionZstd)...)
	msgs := testMessages()
	for i, m := range msgs {
		enc.Append(m)
		rec := enc.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&buf, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var topics []string
	for r.Next() {
		col := r.RecordBatch().Column(2).(*array.Dictionary)
		topics = append(topics, col.Dictionary().(*array.String).Value(col.GetValueIndex(0)))
	}
	if r.Err() != nil || strings.Join(topics, ",") != "orders,payments,orders" {
		t.Fatalf("topics %v, err %v", topics, r.Err())
	}
}

func TestParseCompression(t *testing.T) {
	for in, ok := range map[string]bool{"": true, "none": true, "lz4": true, "zstd": true, "gzip": false} {
		if _, err := ParseCompression(in); (err == nil) != ok {
			t.Errorf("ParseCompression(%q): %v", in, err)
		}
	}
}

func fieldNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// BenchmarkEncode measures building batches of 1,000 messages with
// 100-byte values and writing them as one IPC stream each.
func BenchmarkEncode(b *testing.B) {
	topic := "bench"
	value := bytes.Repeat([]byte("x"), 100)
	msgs := make([]*kafka.Message, 1000)
	for i := range msgs {
		msgs[i] = &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: int32(i % 4), Offset: kafka.Offset(i)},
			Key:            []byte("key"), Value: value, Timestamp: time.Now(), TimestampType: kafka.TimestampCreateTime,
		}
	}
	mem := memory.NewGoAllocator()
	schema, _ := Schema(nil, "bench")
	enc := NewEncoder(mem, schema)
	defer enc.Release()
	var buf bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range msgs {
			enc.Append(m)
		}
		rec := enc.NewRecordBatch()
		buf.Reset()
		if err := WriteStream(&buf, mem, schema, rec, CompressionNone); err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "rows/s")
}
