package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/stats"
)

// TestFlightBoundedRead: per-partition endpoints read in parallel return
// exactly what was produced, every column included.
func TestFlightBoundedRead(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 2)
	ts := time.UnixMilli(1700000000000)
	var msgs []*kafka.Message
	for i := 0; i < 20; i++ {
		m := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: int32(i % 2)},
			Key:            []byte(fmt.Sprintf("k%d", i)),
			Value:          []byte(fmt.Sprintf("v%d", i)),
			Timestamp:      ts.Add(time.Duration(i) * time.Second),
			Headers:        []kafka.Header{{Key: "dup", Value: []byte("a")}, {Key: "dup", Value: []byte("b")}, {Key: "nil", Value: nil}},
		}
		switch i {
		case 3:
			m.Key = nil // null key
		case 4:
			m.Value = nil // tombstone
		}
		msgs = append(msgs, m)
	}
	produceMessages(t, msgs...)

	c := tf.client(t)
	ctx := context.Background()
	info, err := c.GetFlightInfo(ctx, pathDesc(topic))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Endpoint) != 2 || info.TotalRecords != 20 || info.TotalBytes != -1 || info.Ordered {
		t.Fatalf("info: %d endpoints, total_records %d, total_bytes %d", len(info.Endpoint), info.TotalRecords, info.TotalBytes)
	}
	var (
		mu   sync.Mutex
		all  []row
		wg   sync.WaitGroup
		errs []error
	)
	for _, ep := range info.Endpoint {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cols, rows, batches, err := doGet(ctx, t, c, ep.Ticket)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if strings.Join(cols, ",") != "key,value,topic,partition,offset,timestamp,timestampType,headers" {
				errs = append(errs, fmt.Errorf("columns %v", cols))
			}
			for _, b := range batches {
				if b.meta["partition"] != int64(rows[0].partition) || b.meta["last_offset"]-b.meta["first_offset"] != int64(b.rows-1) {
					errs = append(errs, fmt.Errorf("app_metadata %v for %d rows", b.meta, b.rows))
				}
			}
			all = append(all, rows...)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(all) != 20 {
		t.Fatalf("read %d rows, want 20", len(all))
	}
	for _, r := range all {
		var i int
		switch {
		case r.valNull:
			i = 4
		default:
			fmt.Sscanf(string(r.value), "v%d", &i)
		}
		m := msgs[i]
		if r.topic != topic || r.partition != m.TopicPartition.Partition || r.offset != int64(i/2) {
			t.Errorf("row %d: topic %s partition %d offset %d", i, r.topic, r.partition, r.offset)
		}
		if (m.Key == nil) != r.keyNull || !bytes.Equal(m.Key, r.key) || (m.Value == nil) != r.valNull {
			t.Errorf("row %d: key %q (null %v) value null %v", i, r.key, r.keyNull, r.valNull)
		}
		if r.tsNull || r.ts != m.Timestamp.UnixMilli() || r.tsType != 0 {
			t.Errorf("row %d: timestamp %d (null %v) type %d, want %d", i, r.ts, r.tsNull, r.tsType, m.Timestamp.UnixMilli())
		}
		if strings.Join(r.headers, ",") != "dup=a,dup=b,nil=null" {
			t.Errorf("row %d: headers %v", i, r.headers)
		}
	}
	if got := tf.stats.Get(stats.FlightRows); got != 20 {
		t.Errorf("flight.rows = %d, want 20", got)
	}
}

// TestFlightRanges covers start/end positions, projection, empty ranges and
// bad requests.
func TestFlightRanges(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 1)
	base := time.UnixMilli(1700000000000)
	var msgs []*kafka.Message
	for i := 0; i < 10; i++ {
		msgs = append(msgs, &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
			Value:          []byte(fmt.Sprintf("v%d", i)),
			Timestamp:      base.Add(time.Duration(i) * time.Minute),
		})
	}
	produceMessages(t, msgs...)
	c := tf.client(t)
	ctx := context.Background()
	read := func(req map[string]any) ([]string, []int64) {
		t.Helper()
		req["topic"] = topic
		info, err := c.GetFlightInfo(ctx, cmd(t, req))
		if err != nil {
			t.Fatalf("%v: %v", req, err)
		}
		cols, rows, _, err := doGet(ctx, t, c, info.Endpoint[0].Ticket)
		if err != nil {
			t.Fatalf("%v: %v", req, err)
		}
		if int64(len(rows)) != info.TotalRecords {
			t.Errorf("%v: %d rows, total_records %d", req, len(rows), info.TotalRecords)
		}
		var offs []int64
		for _, r := range rows {
			offs = append(offs, r.offset)
		}
		return cols, offs
	}
	cases := []struct {
		req  map[string]any
		want string
	}{
		{map[string]any{}, "[0 1 2 3 4 5 6 7 8 9]"},
		{map[string]any{"start": 7}, "[7 8 9]"},
		{map[string]any{"start": 2, "end": 5}, "[2 3 4]"},
		{map[string]any{"start": map[string]int64{"last": 3}}, "[7 8 9]"},
		{map[string]any{"start": map[string]int64{"timestamp": base.Add(4 * time.Minute).UnixMilli()}}, "[4 5 6 7 8 9]"},
		{map[string]any{"end": map[string]int64{"timestamp": base.Add(2*time.Minute + time.Second).UnixMilli()}}, "[0 1 2]"},
		{map[string]any{"start": "latest"}, "[]"},
		{map[string]any{"start": 5, "end": 5}, "[]"},
		{map[string]any{"max_batch_rows": 3, "partitions": []int{0}}, "[0 1 2 3 4 5 6 7 8 9]"},
	}
	for _, tc := range cases {
		if _, offs := read(tc.req); fmt.Sprint(offs) != tc.want && !(tc.want == "[]" && offs == nil) {
			t.Errorf("%v: offsets %v, want %s", tc.req, offs, tc.want)
		}
	}
	cols, _ := read(map[string]any{"columns": []string{"offset", "value"}})
	if strings.Join(cols, ",") != "value,offset" {
		t.Errorf("projection: %v", cols)
	}
	empty := newTopic(t, 1)
	info, err := c.GetFlightInfo(ctx, pathDesc(empty))
	if err != nil || info.TotalRecords != 0 {
		t.Fatalf("empty topic: %v %v", info, err)
	}
	cols, rows, _, err := doGet(ctx, t, c, info.Endpoint[0].Ticket)
	if err != nil || len(rows) != 0 || len(cols) != 8 {
		t.Fatalf("empty topic read: cols %v rows %d err %v", cols, len(rows), err)
	}

	bad := []struct {
		desc *flight.FlightDescriptor
		code codes.Code
	}{
		{cmd(t, map[string]any{"topic": topic, "bogus": 1}), codes.InvalidArgument},
		{cmd(t, map[string]any{"topic": topic, "start": "sideways"}), codes.InvalidArgument},
		{cmd(t, map[string]any{"topic": topic, "end": "earliest"}), codes.InvalidArgument},
		{cmd(t, map[string]any{"topic": topic, "columns": []string{"nope"}}), codes.InvalidArgument},
		{cmd(t, map[string]any{"topic": topic, "partitions": []int{7}}), codes.InvalidArgument},
		{cmd(t, map[string]any{"start": 1}), codes.InvalidArgument},
		{pathDesc(uniqueName(t, "nosuch")), codes.NotFound},
	}
	for _, b := range bad {
		if _, err := c.GetFlightInfo(ctx, b.desc); status.Code(err) != b.code {
			t.Errorf("%s: got %v, want %v", b.desc, err, b.code)
		}
	}
	if _, _, _, err := doGet(ctx, t, c, &flight.Ticket{Ticket: []byte(`{"v":99}`)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad ticket: %v", err)
	}
}

// TestFlightListSchemaActions covers ListFlights, GetSchema, ListActions and
// DoAction topic-info.
func TestFlightListSchemaActions(t *testing.T) {
	tf := startFlight(t)
	prefix := uniqueName(t, "lf")
	createTopic(t, prefix+"-a", 2)
	createTopic(t, prefix+"-b", 1)
	produceDirect(t, prefix+"-a", 1, "x", "y")
	c := tf.client(t)
	ctx := context.Background()
	stream, err := c.ListFlights(ctx, &flight.Criteria{Expression: []byte(prefix + "-*")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		info, err := stream.Recv()
		if err != nil {
			break
		}
		names = append(names, fmt.Sprintf("%s:%d:%d", info.FlightDescriptor.Path[0], len(info.Endpoint), info.TotalRecords))
	}
	sort.Strings(names)
	if strings.Join(names, " ") != fmt.Sprintf("%[1]s-a:2:2 %[1]s-b:1:0", prefix) {
		t.Errorf("ListFlights: %v", names)
	}
	sr, err := c.GetSchema(ctx, cmd(t, map[string]any{"topic": prefix + "-a", "columns": []string{"value"}}))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := flight.DeserializeSchema(sr.Schema, tf.mem)
	if err != nil || schema.NumFields() != 1 || schema.Field(0).Name != "value" {
		t.Errorf("GetSchema: %v %v", schema, err)
	}
	actions, err := c.ListActions(ctx, &flight.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := actions.Recv(); err != nil || a.Type != "topic-info" {
		t.Errorf("ListActions: %v %v", a, err)
	}
	res, err := c.DoAction(ctx, &flight.Action{Type: "topic-info", Body: []byte(`{"topic":"` + prefix + `-a"}`)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := res.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var ti struct {
		Partitions []struct{ Partition, Low, High int64 }
	}
	if err := json.Unmarshal(r.Body, &ti); err != nil || len(ti.Partitions) != 2 || ti.Partitions[1].High != 2 || ti.Partitions[0].High != 0 {
		t.Errorf("topic-info: %s %v", r.Body, err)
	}
}

// TestFlightFollow: a follow read receives messages produced after it
// started and ends when the client cancels.
func TestFlightFollow(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 1)
	produceDirect(t, topic, 0, "before")
	c := tf.client(t)
	info, err := c.GetFlightInfo(context.Background(), cmd(t, map[string]any{"topic": topic, "start": "latest", "end": "follow"}))
	if err != nil || info.TotalRecords != -1 {
		t.Fatalf("info %v err %v", info, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	produced := make(chan error, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		produced <- produceValues(topic, 0, "after-1", "after-2")
	}()
	var got []string
	for len(got) < 2 && rd.Next() {
		for _, r := range decodeRows(rd.RecordBatch()) {
			got = append(got, string(r.value))
		}
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "after-1,after-2" {
		t.Fatalf("follow read got %v", got)
	}
	cancel()
	for rd.Next() {
	}
	waitFor(t, 5*time.Second, "stream closed on the server", func() bool { return tf.stats.Get(statFlightStreams) == 0 })
}

// TestFlightShutdownEndsFollow: shutdown cancels open follow streams
// instead of waiting for them.
func TestFlightShutdownEndsFollow(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 1)
	c := tf.client(t)
	info, err := c.GetFlightInfo(context.Background(), cmd(t, map[string]any{"topic": topic, "end": "follow"}))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := c.DoGet(context.Background(), info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "stream open", func() bool { return tf.stats.Get(statFlightStreams) == 1 })
	start := time.Now()
	tf.shutdown(t)
	if time.Since(start) > 10*time.Second {
		t.Errorf("shutdown took %v", time.Since(start))
	}
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
}

// TestFlightGroupMode: a completed group stream commits what it delivered;
// a cancelled one commits nothing, so the next reader gets it again.
func TestFlightGroupMode(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 2)
	group := uniqueName(t, "fg")
	produceDirect(t, topic, 0, "a", "b", "c")
	produceDirect(t, topic, 1, "d", "e")
	c := tf.client(t)
	groupRead := func(ctx context.Context, maxRecords int) ([]row, error) {
		info, err := c.GetFlightInfo(context.Background(), cmd(t, map[string]any{"topic": topic, "group": group, "max_records": maxRecords, "idle_ms": 1500}))
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Endpoint) != 1 || info.TotalRecords != -1 {
			t.Fatalf("group info: %d endpoints, total %d", len(info.Endpoint), info.TotalRecords)
		}
		_, rows, _, err := doGet(ctx, t, c, info.Endpoint[0].Ticket)
		return rows, err
	}

	// A cancelled stream: nothing is committed.
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.DoGet(ctx, mustGroupTicket(t, c, topic, group))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	if !rd.Next() {
		t.Fatalf("no batch from the group read: %v", rd.Err())
	}
	cancel()
	rd.Release()
	waitFor(t, 15*time.Second, "cancelled group stream ended", func() bool { return tf.stats.Get(statFlightStreams) == 0 })
	if off := committed(t, group, topic, 2); len(off) != 0 {
		t.Fatalf("a cancelled stream committed %v", off)
	}

	// A complete stream gets everything and commits it.
	rows, err := groupRead(context.Background(), 0)
	if err != nil || len(rows) != 5 {
		t.Fatalf("complete group read: %d rows, %v", len(rows), err)
	}
	waitFor(t, 15*time.Second, "group offsets committed", func() bool {
		off := committed(t, group, topic, 2)
		return off[0] == 3 && off[1] == 2
	})
	// The next reader of the group finds nothing new, then new messages.
	if rows, err := groupRead(context.Background(), 0); err != nil || len(rows) != 0 {
		t.Fatalf("after commit: %d rows, %v", len(rows), err)
	}
	produceDirect(t, topic, 1, "f", "g")
	if rows, err := groupRead(context.Background(), 1); err != nil || len(rows) != 1 {
		t.Fatalf("max_records 1: %d rows, %v", len(rows), err)
	}
}

func mustGroupTicket(t *testing.T, c flight.Client, topic, group string) *flight.Ticket {
	t.Helper()
	info, err := c.GetFlightInfo(context.Background(), cmd(t, map[string]any{"topic": topic, "group": group, "idle_ms": 5000}))
	if err != nil {
		t.Fatal(err)
	}
	return info.Endpoint[0].Ticket
}

// TestFlightLargeValues: batches stay under the 4 MiB a default Go Flight
// client accepts, even with large values.
func TestFlightLargeValues(t *testing.T) {
	tf := startFlight(t)
	topic := newTopic(t, 1)
	big := strings.Repeat("z", 900_000)
	values := make([]string, 12)
	for i := range values {
		values[i] = fmt.Sprintf("%02d", i) + big
	}
	produceDirect(t, topic, 0, values...)
	c := tf.client(t)
	info, err := c.GetFlightInfo(context.Background(), pathDesc(topic))
	if err != nil {
		t.Fatal(err)
	}
	_, rows, batches, err := doGet(context.Background(), t, c, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatalf("read large values: %v", err)
	}
	if len(rows) != 12 || len(batches) < 3 {
		t.Fatalf("%d rows in %d batches", len(rows), len(batches))
	}
}
