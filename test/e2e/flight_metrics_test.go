package e2e

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"rafka/acl"
)

// TestFlightRPCMetrics: the binary's /metrics counts Flight calls by
// method and status code (an ACL denial, a missing topic, reads and a
// DoPut) and the rows, bytes and batches they moved.
func TestFlightRPCMetrics(t *testing.T) {
	topic, other := newTopic(t, 1), newTopic(t, 1)
	produceDirect(t, topic, 0, "r0", "r1", "r2")
	aclFile := writeUsers(t, `{"users": {"alice": {"password": "`+acl.HashPassword("wonderland")+`",
		"consume": ["`+topic+`"]}}}`)
	p := startBinary(t, "--acl-file", aclFile, "--flight-token", "admin-token")
	c := dialFlight(t, p.flight)
	base, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := metadata.AppendToOutgoingContext(base, "authorization", "Bearer admin-token")
	alice, err := c.AuthenticateBasicToken(base, "alice", "wonderland")
	if err != nil {
		t.Fatalf("alice's handshake: %v", err)
	}

	info, err := c.GetFlightInfo(alice, pathDesc(topic))
	if err != nil {
		t.Fatal(err)
	}
	if _, rows, _, err := doGet(alice, t, c, info.Endpoint[0].Ticket); err != nil || len(rows) != 3 {
		t.Fatalf("DoGet: %d rows, %v", len(rows), err)
	}
	if _, err := c.GetFlightInfo(alice, pathDesc(other)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("GetFlightInfo of a topic alice may not read: %v", err)
	}
	if _, err := c.GetFlightInfo(admin, pathDesc(topic+"-missing")); status.Code(err) != codes.NotFound {
		t.Fatalf("GetFlightInfo of a missing topic: %v", err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b1, b2 := putBatch(mem, 3), putBatch(mem, 2)
	_, err = doPut(admin, c, other, mem, b1, b2)
	b1.Release()
	b2.Release()
	if err != nil {
		t.Fatalf("DoPut: %v", err)
	}

	// Handlers report when they return, just after the client has its
	// answer: poll until every count is in.
	want := []string{
		`rafka_flight_rpc_duration_seconds_count{code="OK",method="Handshake"} 1`,
		`rafka_flight_rpc_duration_seconds_count{code="OK",method="GetFlightInfo"} 1`,
		`rafka_flight_rpc_duration_seconds_count{code="PermissionDenied",method="GetFlightInfo"} 1`,
		`rafka_flight_rpc_duration_seconds_count{code="NotFound",method="GetFlightInfo"} 1`,
		`rafka_flight_rpc_duration_seconds_count{code="OK",method="DoGet"} 1`,
		`rafka_flight_rpc_duration_seconds_count{code="OK",method="DoPut"} 1`,
	}
	p.waitMetrics(t, 10*time.Second, "rafka_flight_rpc_duration_seconds_count", "call counts", func(lines []string) bool {
		slices.Sort(lines)
		w := slices.Clone(want)
		slices.Sort(w)
		return slices.Equal(lines, w)
	})
	counters := map[string]string{
		"rafka_flight_calls_total":       "6",
		"rafka_flight_get_batches_total": "1",
		"rafka_flight_rows_total":        "8", // 3 sent + 5 produced
		"rafka_flight_put_rows_total":    "5",
		"rafka_flight_put_batches_total": "2",
		"rafka_flight_bytes_total":       "", // > 0
		"rafka_flight_put_bytes_total":   "", // > 0
		"rafka_flight_streams_current":   "0",
		"rafka_flight_rejected_total":    "0",
		`rafka_flight_rpc_duration_seconds_bucket{code="OK",method="DoGet",le="+Inf"}`: "1",
	}
	for name, wantValue := range counters {
		lines := p.metricLines(t, name+" ")
		if len(lines) != 1 {
			t.Errorf("/metrics: %q", lines)
			continue
		}
		value := strings.TrimPrefix(lines[0], name+" ")
		if n, err := strconv.ParseFloat(value, 64); wantValue == "" && (err != nil || n <= 0) {
			t.Errorf("%s = %s, want > 0", name, value)
		} else if wantValue != "" && value != wantValue {
			t.Errorf("%s = %s, want %s", name, value, wantValue)
		}
	}
}

// TestFlightRequirePass: with --requirepass the binary's Flight service
// needs authentication too; the default user's Basic credentials (the
// password) give full access, a wrong one is Unauthenticated.
func TestFlightRequirePass(t *testing.T) {
	topic := newTopic(t, 1)
	produceDirect(t, topic, 0, "r0")
	p := startBinary(t, "--requirepass", "pw-for-all")
	c := dialFlight(t, p.flight)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.GetFlightInfo(ctx, pathDesc(topic)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no credentials: %v, want Unauthenticated", err)
	}
	if _, err := c.AuthenticateBasicToken(ctx, "default", "wrong"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong password: %v, want Unauthenticated", err)
	}
	authed, err := c.AuthenticateBasicToken(ctx, "default", "pw-for-all")
	if err != nil {
		t.Fatalf("default user's handshake: %v", err)
	}
	info, err := c.GetFlightInfo(authed, pathDesc(topic))
	if err != nil || info.TotalRecords != 1 {
		t.Fatalf("GetFlightInfo as the default user: %v %v", info, err)
	}
	if _, rows, _, err := doGet(authed, t, c, info.Endpoint[0].Ticket); err != nil || len(rows) != 1 {
		t.Errorf("DoGet as the default user: %d rows, %v", len(rows), err)
	}
}
