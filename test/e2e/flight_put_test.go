package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"rafka/arrowenc"
	"rafka/arrowflight"
)

// putBatch builds a DoPut batch with key, value, headers and timestamp.
func putBatch(mem memory.Allocator, n int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "headers", Type: arrow.ListOf(arrowenc.HeaderType)},
		{Name: "timestamp", Type: arrowenc.TimestampType, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	keys := b.Field(0).(*array.StringBuilder)
	values := b.Field(1).(*array.BinaryBuilder)
	headers := b.Field(2).(*array.ListBuilder)
	hs := headers.ValueBuilder().(*array.StructBuilder)
	ts := b.Field(3).(*array.TimestampBuilder)
	for i := 0; i < n; i++ {
		if i == 1 {
			keys.AppendNull()
		} else {
			keys.Append(fmt.Sprintf("key-%d", i))
		}
		values.Append([]byte(fmt.Sprintf("put-%d", i)))
		headers.Append(true)
		hs.Append(true)
		hs.FieldBuilder(0).(*array.StringBuilder).Append("h")
		hs.FieldBuilder(1).(*array.BinaryBuilder).Append([]byte(fmt.Sprint(i)))
		hs.Append(true)
		hs.FieldBuilder(0).(*array.StringBuilder).Append("h")
		hs.FieldBuilder(1).(*array.BinaryBuilder).AppendNull()
		ts.Append(arrow.Timestamp(1700000000000 + int64(i)))
	}
	return b.NewRecordBatch()
}

// doPut sends batches to topic and returns the PutResult's app_metadata.
func doPut(ctx context.Context, c flight.Client, topic string, mem memory.Allocator, batches ...arrow.RecordBatch) ([]byte, error) {
	stream, err := c.DoPut(ctx)
	if err != nil {
		return nil, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(batches[0].Schema()), ipc.WithAllocator(mem))
	w.SetFlightDescriptor(pathDesc(topic))
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			break // the server's status tells why
		}
	}
	_ = w.Close()
	_ = stream.CloseSend()
	var meta []byte
	for {
		res, err := stream.Recv()
		if err != nil {
			if status.Code(err) == codes.OK || strings.Contains(err.Error(), "EOF") {
				return meta, nil
			}
			return meta, err
		}
		meta = res.AppMetadata
	}
}

// TestFlightDoPut: every row is produced with its key, headers and
// timestamp; a bad schema is refused before anything is produced.
func TestFlightDoPut(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 1)
	c := tf.client(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b1, b2 := putBatch(mem, 3), putBatch(mem, 2)
	meta, err := doPut(context.Background(), c, topic, mem, b1, b2)
	b1.Release()
	b2.Release()
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Produced int }
	if json.Unmarshal(meta, &res); res.Produced != 5 {
		t.Fatalf("PutResult %s", meta)
	}
	msgs := readAll(t, topic, 5)
	for i, m := range msgs {
		j := i
		if i >= 3 {
			j = i - 3
		}
		wantKey := fmt.Sprintf("key-%d", j)
		if j == 1 {
			if m.Key != nil {
				t.Errorf("message %d: key %q, want null", i, m.Key)
			}
		} else if string(m.Key) != wantKey {
			t.Errorf("message %d: key %q, want %s", i, m.Key, wantKey)
		}
		if string(m.Value) != fmt.Sprintf("put-%d", j) || m.Timestamp.UnixMilli() != 1700000000000+int64(j) {
			t.Errorf("message %d: value %q timestamp %d", i, m.Value, m.Timestamp.UnixMilli())
		}
		if len(m.Headers) != 2 || m.Headers[0].Key != "h" || string(m.Headers[0].Value) != fmt.Sprint(j) || m.Headers[1].Value != nil {
			t.Errorf("message %d: headers %v", i, m.Headers)
		}
	}

	// A batch without a value column is refused and produces nothing.
	badSchema := arrow.NewSchema([]arrow.Field{{Name: "payload", Type: arrow.BinaryTypes.Binary}}, nil)
	bb := array.NewRecordBuilder(mem, badSchema)
	bb.Field(0).(*array.BinaryBuilder).Append([]byte("x"))
	bad := bb.NewRecordBatch()
	bb.Release()
	_, err = doPut(context.Background(), c, topic, mem, bad)
	bad.Release()
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad schema: %v", err)
	}
	if got := watermark(t, topic, 0); got != 5 {
		t.Fatalf("high watermark %d after a refused DoPut, want 5", got)
	}
}

func watermark(t *testing.T, topic string, partition int32) int64 {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": env.brokers, "group.id": "wm", "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, high, err := c.QueryWatermarkOffsets(topic, partition, 5000)
	if err != nil {
		t.Fatal(err)
	}
	return high
}

// TestFlightAuth: static bearer tokens and the Basic→Bearer handshake;
// wrong or missing credentials get Unauthenticated.
func TestFlightAuth(t *testing.T) {
	tf := startFlight(t, func(c *arrowflight.Config) {
		c.Tokens = []string{"s3cret-token"}
		c.Users = map[string]string{"ana": "pw"}
	})
	topic := newTopic(t, 1)
	c := tf.client(t)
	bearer := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	if _, err := c.GetFlightInfo(context.Background(), pathDesc(topic)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no credentials: %v", err)
	}
	if _, err := c.GetFlightInfo(bearer("wrong"), pathDesc(topic)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong token: %v", err)
	}
	info, err := c.GetFlightInfo(bearer("s3cret-token"), pathDesc(topic))
	if err != nil {
		t.Fatalf("static token: %v", err)
	}
	if _, _, _, err := doGet(context.Background(), t, c, info.Endpoint[0].Ticket); status.Code(err) != codes.Unauthenticated {
		t.Errorf("DoGet without credentials: %v", err)
	}
	if _, _, _, err := doGet(bearer("s3cret-token"), t, c, info.Endpoint[0].Ticket); err != nil {
		t.Errorf("DoGet with the token: %v", err)
	}
	if _, err := c.AuthenticateBasicToken(context.Background(), "ana", "nope"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong password: %v", err)
	}
	ctx, err := c.AuthenticateBasicToken(context.Background(), "ana", "pw")
	if err != nil {
		t.Fatalf("basic handshake: %v", err)
	}
	if _, err := c.GetFlightInfo(ctx, pathDesc(topic)); err != nil {
		t.Errorf("issued bearer token: %v", err)
	}
	stream, err := c.ListActions(context.Background(), &flight.Empty{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListActions without credentials: %v", err)
	}
}

// TestFlightMaxStreams: streams over the limit get ResourceExhausted.
func TestFlightMaxStreams(t *testing.T) {
	tf := startFlight(t, func(c *arrowflight.Config) { c.MaxStreams = 1 })
	topic := newTopic(t, 1)
	c := tf.client(t)
	info, err := c.GetFlightInfo(context.Background(), cmd(t, map[string]any{"topic": topic, "end": "follow"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := c.DoGet(ctx, info.Endpoint[0].Ticket); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first stream open", func() bool { return tf.stats.Get(statFlightStreams) == 1 })
	_, _, _, err = doGet(context.Background(), t, c, info.Endpoint[0].Ticket)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream: %v", err)
	}
}

// TestFlightTransactionalRange: a range over a transactional topic (commit
// markers, an aborted transaction) ends at its end instead of waiting for
// offsets that hold no message.
func TestFlightTransactionalRange(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 1)
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers": env.brokers, "transactional.id": uniqueName(t, "tx"), "enable.metrics.push": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go func() {
		for range p.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	txn := func(commit bool, values ...string) {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte(v)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			err = p.CommitTransaction(ctx)
		} else {
			err = p.AbortTransaction(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	txn(true, "a", "b", "c")
	txn(false, "aborted-1", "aborted-2")
	txn(true, "d")
	// A transaction still open while reading: the read stops before it.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte("open")}, nil); err != nil {
		t.Fatal(err)
	}
	if p.Flush(10000) != 0 {
		t.Fatal("open transaction's message not sent")
	}
	defer func() { _ = p.AbortTransaction(ctx) }()

	c := tf.client(t)
	info, err := c.GetFlightInfo(context.Background(), pathDesc(topic))
	if err != nil {
		t.Fatal(err)
	}
	readCtx, readCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer readCancel()
	_, rows, _, err := doGet(readCtx, t, c, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatalf("read did not end: %v", err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, string(r.value))
	}
	if strings.Join(got, ",") != "a,b,c,d" {
		t.Fatalf("read %v (range %d records)", got, info.TotalRecords)
	}
}
