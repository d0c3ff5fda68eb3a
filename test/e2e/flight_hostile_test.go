package e2e

import (
	"bytes"
	"context"
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"rafka/acl"
	"rafka/arrowflight"
)

// editTicket returns tkt with fields replaced, as a client holding the
// ticket's JSON could do.
func editTicket(t *testing.T, tkt *flight.Ticket, fields map[string]any) *flight.Ticket {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(tkt.Ticket, &m); err != nil {
		t.Fatalf("ticket is not JSON: %v", err)
	}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return &flight.Ticket{Ticket: b}
}

// wantCode checks that err has code, and that the call did not outlast
// limit (a refusal is at once, not after a wait).
func wantCode(t *testing.T, what string, err error, code codes.Code, took, limit time.Duration) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: %v, want %v", what, err, code)
	}
	if took > limit {
		t.Errorf("%s took %v, want under %v", what, took, limit)
	}
}

// TestFlightHostileTicketLimits: a ticket edited to ask for huge batches is
// refused at DoGet with InvalidArgument, as the same descriptor would be:
// tickets are client-held and get the descriptor's ceilings.
func TestFlightHostileTicketLimits(t *testing.T) {
	topic := newTopic(t, 1)
	produceDirect(t, topic, 0, "h0", "h1")
	tf := startFlight(t)
	c := tf.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info, err := c.GetFlightInfo(ctx, pathDesc(topic))
	if err != nil {
		t.Fatal(err)
	}
	tkt := info.Endpoint[0].Ticket
	if _, rows, _, err := doGet(ctx, t, c, tkt); err != nil || len(rows) != 2 {
		t.Fatalf("DoGet of the ticket as issued: %d rows, %v", len(rows), err)
	}
	for name, fields := range map[string]map[string]any{
		"huge batches":          {"max_batch_rows": int64(1e12), "max_batch_bytes": int64(1e15)},
		"batches over 16 MiB":   {"max_batch_bytes": 16<<20 + 1},
		"unknown compression":   {"compression": "brotli"},
		"unknown column":        {"columns": []string{"nope"}},
		"idle_ms of a day":      {"group": "g", "idle_ms": 86400000, "end": 0},
		"negative max_records":  {"group": "g", "max_records": -1, "end": 0},
		"max_records, no group": {"max_records": 1},
	} {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		_, _, _, err := doGet(callCtx, t, c, editTicket(t, tkt, fields))
		cancel()
		wantCode(t, "DoGet of a ticket with "+name, err, codes.InvalidArgument, time.Since(start), 5*time.Second)
	}
}

// TestFlightHostilePartition: a ticket naming a partition the topic does not
// have, or a missing topic, is answered at once (it used to wait forever for
// messages that cannot come); so is a descriptor listing a partition twice.
func TestFlightHostilePartition(t *testing.T) {
	topic := newTopic(t, 2)
	produceDirect(t, topic, 1, "p0")
	tf := startFlight(t)
	c := tf.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info, err := c.GetFlightInfo(ctx, pathDesc(topic))
	if err != nil {
		t.Fatal(err)
	}
	for _, parts := range [][]int{{0, 0}, {1, 0, 1}, {-1}, {2}} {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.GetFlightInfo(callCtx, cmd(t, map[string]any{"topic": topic, "partitions": parts}))
		cancel()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("GetFlightInfo of partitions %v: %v, want InvalidArgument", parts, err)
		}
	}

	tkt := info.Endpoint[1].Ticket // partition 1, offsets 0..1
	group, err := c.GetFlightInfo(ctx, cmd(t, map[string]any{"topic": topic, "group": uniqueName(t, "g")}))
	if err != nil {
		t.Fatal(err)
	}
	missing := topic + "-missing"
	for _, tc := range []struct {
		name string
		tkt  *flight.Ticket
		code codes.Code
	}{
		{"partition -1", editTicket(t, tkt, map[string]any{"partition": -1}), codes.InvalidArgument},
		{"partition 2 of 2", editTicket(t, tkt, map[string]any{"partition": 2}), codes.InvalidArgument},
		{"partition 2147483647", editTicket(t, tkt, map[string]any{"partition": 2147483647}), codes.InvalidArgument},
		{"a follow read of partition 9", editTicket(t, tkt, map[string]any{"partition": 9, "end": -1}), codes.InvalidArgument},
		{"a missing topic", editTicket(t, tkt, map[string]any{"topic": missing}), codes.NotFound},
		{"a group read of a missing topic", editTicket(t, group.Endpoint[0].Ticket, map[string]any{"topic": missing}), codes.NotFound},
	} {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		_, _, _, err := doGet(callCtx, t, c, tc.tkt)
		cancel()
		wantCode(t, "DoGet of a ticket with "+tc.name, err, tc.code, time.Since(start), 5*time.Second)
	}
}

// TestFlightHostileGroup: a group name with a NUL, a space or another
// control character is refused with InvalidArgument, in a descriptor and in
// a hand-edited ticket. librdkafka cuts a name at its NUL, so "bob-g\x00-carol"
// matched the ACL pattern "*-carol" and joined group "bob-g".
func TestFlightHostileGroup(t *testing.T) {
	topic := newTopic(t, 1)
	produceDirect(t, topic, 0, "g0")
	aclFile := writeUsers(t, `{"users": {"carol": {"password": "`+acl.HashPassword("pw")+`",
		"consume": ["`+topic+`"], "groups": ["*-carol"]}}}`)
	p := startBinary(t, "--acl-file", aclFile, "--flight-token", "admin-token")
	c := dialFlight(t, p.flight)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	carol, err := c.AuthenticateBasicToken(ctx, "carol", "pw")
	if err != nil {
		t.Fatalf("carol's handshake: %v", err)
	}
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer admin-token")
	groupCmd := func(group string) *flight.FlightDescriptor {
		return cmd(t, map[string]any{"topic": topic, "group": group, "idle_ms": 500})
	}
	if _, err := c.GetFlightInfo(carol, groupCmd("ok-carol")); err != nil {
		t.Fatalf("GetFlightInfo in an allowed group: %v", err)
	}
	info, err := c.GetFlightInfo(admin, groupCmd("x-carol"))
	if err != nil {
		t.Fatalf("the static token's group read: %v", err)
	}
	for _, group := range []string{"bob-g\x00-carol", "bob-g -carol", "bob-g\n-carol", "bob-g\t-carol", "bob-g\x7f-carol", "b:m-carol"} {
		callCtx, cancel := context.WithTimeout(carol, 10*time.Second)
		start := time.Now()
		_, err := c.GetFlightInfo(callCtx, groupCmd(group))
		wantCode(t, "GetFlightInfo in group "+strconv.Quote(group), err, codes.InvalidArgument, time.Since(start), 5*time.Second)
		start = time.Now()
		_, rows, _, err := doGet(callCtx, t, c, editTicket(t, info.Endpoint[0].Ticket, map[string]any{"group": group}))
		cancel()
		wantCode(t, "DoGet of a ticket edited to group "+strconv.Quote(group), err, codes.InvalidArgument, time.Since(start), 5*time.Second)
		if len(rows) != 0 {
			t.Errorf("DoGet of a ticket edited to group %q sent %d rows", group, len(rows))
		}
	}
}

// TestFlightHostileShutdown: on SIGTERM rafka cancels its Flight streams at
// once and exits 0, well before --shutdown-timeout, even when a follow
// DoGet's client reads nothing (the handler is blocked sending a batch) and
// a DoPut's client sends nothing. startBinary keeps the process to itself,
// so this test runs the binary directly, to signal it and see its exit
// status.
func TestFlightHostileShutdown(t *testing.T) {
	topic := newTopic(t, 1)
	values := make([]string, 200) // 12.5 MiB, far more than the client's 64 KiB window
	for i := range values {
		values[i] = strings.Repeat("x", 64<<10)
	}
	produceDirect(t, topic, 0, values...)

	p := startBinary(t)
	// A static window of 64 KiB (no BDP growth): the server's Send blocks
	// as soon as the client has 64 KiB it did not read.
	c := dialFlight(t, p.flight, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info, err := c.GetFlightInfo(ctx, cmd(t, map[string]any{"topic": topic, "end": "follow"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DoGet(ctx, info.Endpoint[0].Ticket); err != nil { // never read
		t.Fatal(err)
	}
	if _, err := c.DoPut(ctx); err != nil { // never sent to
		t.Fatal(err)
	}
	p.waitMetrics(t, 10*time.Second, "rafka_flight_streams_current ", "both streams open", func(lines []string) bool {
		return len(lines) == 1 && lines[0] == "rafka_flight_streams_current 2"
	})
	time.Sleep(time.Second) // the DoGet reads its 12.5 MiB in far less, then blocks sending

	took, err := p.terminate(t, 10*time.Second) // --shutdown-timeout is 20 s
	if err != nil {
		t.Errorf("rafka exited after SIGTERM with %v, want status 0", err)
	}
	if took > 5*time.Second {
		t.Errorf("rafka took %v to exit after SIGTERM, want under 5 s (--shutdown-timeout is 20 s)", took)
	}
	t.Logf("rafka exited %v after SIGTERM", took)
}

// TestFlightHostileAuthThrottle: failed Basic handshakes and bearer tokens
// from one host are slowed (authlimit's defaults: 10 at once, then 10 a
// second), so 50 wrong passwords take seconds instead of milliseconds; the
// right password is still answered at once.
func TestFlightHostileAuthThrottle(t *testing.T) {
	tf := startFlight(t, func(c *arrowflight.Config) {
		c.Users = map[string]string{"alice": "right"}
		c.Tokens = []string{"static-token"}
	})
	c := tf.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// 50 guesses as fast as they go: 10 are checked (Unauthenticated), then
	// the host has spent its allowance and the rest are refused unchecked
	// (ResourceExhausted) until it has allowance again, 10 a second.
	start := time.Now()
	checked := 0
	for i := range 50 {
		_, err := c.AuthenticateBasicToken(ctx, "alice", fmt.Sprintf("guess-%d", i))
		switch status.Code(err) {
		case codes.Unauthenticated:
			checked++
		case codes.ResourceExhausted:
			if !strings.Contains(err.Error(), "too many failed logins from this address") {
				t.Fatalf("wrong password %d: %v", i, err)
			}
		default:
			t.Fatalf("wrong password %d: %v, want Unauthenticated or ResourceExhausted", i, err)
		}
	}
	if allowed := 10 + int(time.Since(start).Seconds()*10) + 1; checked < 10 || checked > allowed {
		t.Errorf("%d of 50 wrong passwords were checked in %v, want 10 to %d", checked, time.Since(start), allowed)
	}
	// The right password is not checked sooner: refused while the
	// allowance is spent, accepted once it is back.
	if _, err := c.AuthenticateBasicToken(ctx, "alice", "right"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("the right password at once after the guesses: %v, want ResourceExhausted", err)
	}
	var alice context.Context
	waitFor(t, 5*time.Second, "the right password accepted", func() bool {
		var err error
		alice, err = c.AuthenticateBasicToken(ctx, "alice", "right")
		return err == nil
	})
	if _, err := c.GetFlightInfo(alice, pathDesc(newTopic(t, 1))); err != nil {
		t.Errorf("GetFlightInfo with alice's token: %v", err)
	}
	// Wrong bearer tokens are logins too; an issued token is not held up.
	refused := 0
	for i := range 20 {
		wrong := metadata.AppendToOutgoingContext(ctx, "authorization", fmt.Sprintf("Bearer guess-%d", i))
		if _, err := c.GetFlightInfo(wrong, pathDesc("t")); status.Code(err) == codes.ResourceExhausted {
			refused++
		} else if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("wrong token %d: %v", i, err)
		}
	}
	if refused == 0 {
		t.Error("20 wrong bearer tokens in a row were all checked")
	}
	if _, err := c.GetFlightInfo(alice, pathDesc(newTopic(t, 1))); err != nil {
		t.Errorf("an issued token while the host is limited: %v", err)
	}
}

// TestFlightHostileHeaders: a call's headers are bounded (64 KiB) before
// authentication, where grpc-go allowed 16 MiB on every stream; a call
// with ordinary headers still authenticates.
func TestFlightHostileHeaders(t *testing.T) {
	tf := startFlight(t, func(c *arrowflight.Config) { c.Tokens = []string{"static-token"} })
	c := tf.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	big := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer static-token", "x-pad", strings.Repeat("p", 100<<10))
	topic := newTopic(t, 1)
	if _, err := c.GetFlightInfo(big, pathDesc(topic)); status.Code(err) == codes.OK {
		t.Fatal("a call with 100 KiB of headers was served")
	}
	small := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer static-token", "x-pad", strings.Repeat("p", 1<<10))
	if _, err := c.GetFlightInfo(small, pathDesc(topic)); err != nil {
		t.Fatalf("a call with 1 KiB of headers: %v", err)
	}
}

// lengthPatcher rewrites, in the bodies a DoPut sends, the first 8-byte
// little-endian from into to: the decompressed length a compressed
// buffer declares.
type lengthPatcher struct {
	flight.DataStreamWriter
	from, to uint64
}

func (p *lengthPatcher) Send(fd *flight.FlightData) error {
	var from, to [8]byte
	binenc.LittleEndian.PutUint64(from[:], p.from)
	binenc.LittleEndian.PutUint64(to[:], p.to)
	if i := bytes.Index(fd.DataBody, from[:]); i >= 0 {
		copy(fd.DataBody[i:], to[:])
	}
	return p.DataStreamWriter.Send(fd)
}

// TestFlightHostileCompressedPut: what a compressed DoPut batch decodes to
// is bounded (64 MiB, 262144 rows) and refused with InvalidArgument, and
// zstd is refused, the server unharmed. Before (found by attackers'
// reviews), 184 bytes whose compressed buffer declared 100 GiB ended the
// process (the Go runtime's fatal out of memory), four honest 1 GiB zstd
// columns of 115 KB each took RSS to 4.78 GB, and zstd frames declaring a
// 512 MiB window (which arrow-go's decoder allocates outside the
// allocator it is given) took it to 7.2 GB.
func TestFlightHostileCompressedPut(t *testing.T) {
	p := startBinary(t)
	c := dialFlight(t, p.flight)
	topic := newTopic(t, 1)
	mem := memory.NewGoAllocator()
	base := rssKiB(t, p.pid)

	const width = 1 << 20
	wide := arrow.NewSchema([]arrow.Field{
		{Name: "value", Type: arrow.BinaryTypes.Binary},
		{Name: "topic", Type: &arrow.FixedSizeBinaryType{ByteWidth: width}}, // a column DoPut ignores
	}, nil)
	values := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	fixed := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: width})
	many := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	for range 300_000 {
		many.Append(nil)
	}
	values.Append([]byte("v"))
	fixed.Append(make([]byte, width))
	oneWide := array.NewRecordBatch(wide, []arrow.Array{values.NewArray(), fixed.NewArray()}, 1)
	valueOnly := arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.Binary}}, nil)
	manyRows := array.NewRecordBatch(valueOnly, []arrow.Array{many.NewArray()}, 300_000)

	for _, tc := range []struct {
		name    string
		rec     arrow.RecordBatch
		declare uint64 // the decompressed length the column's buffer declares instead (0: its own)
		zstd    bool   // zstd, not LZ4
		want    string
	}{
		{"a buffer declaring 100 GiB", oneWide, 100 << 30, false, "64 MiB"},
		{"an honest 1 MiB column", oneWide, 0, false, ""},
		{"300000 rows", manyRows, 0, false, "at most 262144 rows"},
		{"zstd", oneWide, 0, true, "not zstd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			stream, err := c.DoPut(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ds flight.DataStreamWriter = stream
			if tc.declare != 0 {
				ds = &lengthPatcher{DataStreamWriter: stream, from: width, to: tc.declare}
			}
			codec := ipc.WithLZ4()
			if tc.zstd {
				codec = ipc.WithZstd()
			}
			w := flight.NewRecordWriter(ds, ipc.WithSchema(tc.rec.Schema()), codec, ipc.WithAllocator(mem))
			w.SetFlightDescriptor(pathDesc(topic))
			_ = w.Write(tc.rec)
			_ = w.Close()
			_ = stream.CloseSend()
			var err2 error
			for err2 == nil {
				_, err2 = stream.Recv()
			}
			if tc.want == "" {
				if !strings.Contains(err2.Error(), "EOF") {
					t.Fatalf("DoPut: %v", err2)
				}
				return
			}
			if status.Code(err2) != codes.InvalidArgument || !strings.Contains(err2.Error(), tc.want) {
				t.Fatalf("DoPut: %v, want InvalidArgument with %q", err2, tc.want)
			}
		})
	}
	// Still serving, without the memory.
	if _, err := c.GetFlightInfo(context.Background(), pathDesc(topic)); err != nil {
		t.Fatalf("GetFlightInfo after the DoPuts: %v", err)
	}
	if grown := rssKiB(t, p.pid) - base; grown > 200<<10 {
		t.Errorf("RSS grew by %d KiB", grown)
	}
}
