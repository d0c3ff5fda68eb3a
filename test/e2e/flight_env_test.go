package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"rafka/arrowflight"
	"rafka/config"
	"rafka/producer"
	"rafka/server"
	"rafka/stats"
)

// statFlightStreams is the flight.streams.current gauge.
const statFlightStreams = stats.FlightStreams

// testFlight is an in-process Flight service on a free port.
type testFlight struct {
	svc   *arrowflight.Service
	addr  string
	stats *stats.Stats
	mem   *memory.CheckedAllocator
	done  bool
}

// startFlight starts a Flight service with a checked allocator; when the test
// ends it is shut down and the allocator must be back to zero.
func startFlight(t *testing.T, edit ...func(*arrowflight.Config)) *testFlight {
	t.Helper()
	file := &config.File{General: config.Properties{}, Consumer: testConsumerProps.Clone(), Producer: config.Properties{}}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	st := stats.New()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	prod := producer.New(file.ProducerProperties(env.brokers), producer.LimitsOf(config.DefaultSettings()), st, log)
	cfg := arrowflight.Config{
		MaxStreams:  config.DefaultSettings().FlightMaxStreams,
		AuthLimiter: server.NewLoginLimiter(config.DefaultSettings()),
		Consumer:    file.ConsumerProperties(env.brokers),
		Producer:    prod,
		Version:     "test",
		Stats:       st,
		Log:         log,
		Allocator:   mem,
	}
	for _, e := range edit {
		e(&cfg)
	}
	svc, err := arrowflight.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = svc.Serve(ln) }()
	tf := &testFlight{svc: svc, addr: ln.Addr().String(), stats: cfg.Stats, mem: mem}
	t.Cleanup(func() {
		tf.shutdown(t)
		prod.Close(5 * time.Second)
		mem.AssertSize(t, 0)
	})
	return tf
}

func (tf *testFlight) shutdown(t *testing.T) {
	t.Helper()
	if tf.done {
		return
	}
	tf.done = true
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tf.svc.Shutdown(ctx); err != nil {
		t.Errorf("flight shutdown: %v", err)
	}
}

// client returns a Go Flight client with default limits (4 MiB messages).
func (tf *testFlight) client(t *testing.T) flight.Client { return dialFlight(t, tf.addr) }

// dialFlight returns a plaintext Go Flight client of addr (default limits,
// 4 MiB messages, unless opts say otherwise), closed when the test ends.
func dialFlight(t *testing.T, addr string, opts ...grpc.DialOption) flight.Client {
	t.Helper()
	c, err := flight.NewClientWithMiddleware(addr, nil, nil, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// cmd is a CMD descriptor from a Go value.
func cmd(t *testing.T, v any) *flight.FlightDescriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b}
}

func pathDesc(topic string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{topic}}
}

// row is one decoded Flight row.
type row struct {
	key, value       []byte
	keyNull, valNull bool
	topic            string
	partition        int32
	offset           int64
	ts               int64
	tsNull           bool
	tsType           int8
	headers          []string // key=value, value "null" when null
}

// batchInfo is one received batch's size and app_metadata.
type batchInfo struct {
	rows int
	meta map[string]int64
}

// doGet redeems a ticket and decodes every row; cols are the schema's
// columns.
func doGet(ctx context.Context, t *testing.T, c flight.Client, tkt *flight.Ticket) (cols []string, rows []row, batches []batchInfo, err error) {
	t.Helper()
	stream, err := c.DoGet(ctx, tkt)
	if err != nil {
		return nil, nil, nil, err
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rd, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		return nil, nil, nil, err
	}
	defer rd.Release()
	for _, f := range rd.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	for rd.Next() {
		rec := rd.RecordBatch()
		var meta map[string]int64
		_ = json.Unmarshal(rd.LatestAppMetadata(), &meta)
		batches = append(batches, batchInfo{rows: int(rec.NumRows()), meta: meta})
		rows = append(rows, decodeRows(rec)...)
	}
	if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		return cols, rows, batches, err
	}
	return cols, rows, batches, nil
}

func decodeRows(rec arrow.RecordBatch) []row {
	out := make([]row, rec.NumRows())
	for ci, f := range rec.Schema().Fields() {
		col := rec.Column(ci)
		for i := range out {
			r := &out[i]
			switch f.Name {
			case "key":
				c := col.(*array.Binary)
				r.keyNull = c.IsNull(i)
				r.key = append([]byte(nil), c.Value(i)...)
			case "value":
				c := col.(*array.Binary)
				r.valNull = c.IsNull(i)
				r.value = append([]byte(nil), c.Value(i)...)
			case "topic":
				c := col.(*array.Dictionary)
				r.topic = c.Dictionary().(*array.String).Value(c.GetValueIndex(i))
			case "partition":
				r.partition = col.(*array.Int32).Value(i)
			case "offset":
				r.offset = col.(*array.Int64).Value(i)
			case "timestamp":
				c := col.(*array.Timestamp)
				r.tsNull = c.IsNull(i)
				r.ts = int64(c.Value(i))
			case "timestampType":
				r.tsType = col.(*array.Int8).Value(i)
			case "headers":
				c := col.(*array.List)
				start, end := c.ValueOffsets(i)
				st := c.ListValues().(*array.Struct)
				k, v := st.Field(0).(*array.String), st.Field(1).(*array.Binary)
				for j := int(start); j < int(end); j++ {
					val := "null"
					if v.IsValid(j) {
						val = string(v.Value(j))
					}
					r.headers = append(r.headers, k.Value(j)+"="+val)
				}
			}
		}
	}
	return out
}

// produceMessages writes messages with a plain librdkafka producer and
// waits for every delivery.
func produceMessages(t *testing.T, msgs ...*kafka.Message) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": env.brokers, "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	reports := make(chan kafka.Event, len(msgs))
	for _, m := range msgs {
		if err := p.Produce(m, reports); err != nil {
			t.Fatal(err)
		}
	}
	for range msgs {
		select {
		case ev := <-reports:
			if m := ev.(*kafka.Message); m.TopicPartition.Error != nil {
				t.Fatalf("delivery: %v", m.TopicPartition.Error)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("delivery timed out")
		}
	}
}
