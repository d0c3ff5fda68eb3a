package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"rafka/acl"
	"rafka/arrowflight"
	"rafka/config"
	"rafka/server"
)

// listFlightNames returns the topic names ListFlights sends for glob.
func listFlightNames(ctx context.Context, t *testing.T, c flight.Client, glob string) ([]string, error) {
	t.Helper()
	stream, err := c.ListFlights(ctx, &flight.Criteria{Expression: []byte(glob)})
	if err != nil {
		return nil, err
	}
	var names []string
	for {
		info, err := stream.Recv()
		if err != nil {
			if status.Code(err) == codes.OK || strings.Contains(err.Error(), "EOF") {
				break
			}
			return names, err
		}
		names = append(names, info.FlightDescriptor.Path[0])
	}
	sort.Strings(names)
	return names, nil
}

// wantDenied checks that err is PermissionDenied with exactly msg.
func wantDenied(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != msg {
		t.Errorf("%s: %v, want PermissionDenied %q", what, err, msg)
	}
}

// TestFlightACL: a user of the ACL file logs in to Flight with Basic
// credentials and may read, list, inspect and write only what the file
// allows; a static token keeps full access.
func TestFlightACL(t *testing.T) {
	prefix := uniqueName(t, "acl")
	allowed, denied := prefix+"-a", prefix+"-b"
	createTopic(t, allowed, 1)
	createTopic(t, denied, 1)
	produceDirect(t, allowed, 0, "a0", "a1")
	produceDirect(t, denied, 0, "b0")
	list, err := acl.Parse([]byte(`{"users": {"alice": {"password": "` + acl.HashPassword("wonderland") + `",
		"produce": ["` + allowed + `"], "consume": ["` + allowed + `"], "groups": ["billing-*"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tf := startFlight(t, func(c *arrowflight.Config) {
		c.ACL = list
		c.Tokens = []string{"admin-token"}
	})
	c := tf.client(t)
	base, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := metadata.AppendToOutgoingContext(base, "authorization", "Bearer admin-token")

	if _, err := c.AuthenticateBasicToken(base, "alice", "nope"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := c.GetFlightInfo(base, pathDesc(allowed)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no credentials: %v", err)
	}
	alice, err := c.AuthenticateBasicToken(base, "alice", "wonderland")
	if err != nil {
		t.Fatalf("alice's handshake: %v", err)
	}
	noConsume := fmt.Sprintf("User alice has no permissions to consume topic '%s'", denied)

	// Reads: the allowed topic end to end; the other refused at every call.
	info, err := c.GetFlightInfo(alice, pathDesc(allowed))
	if err != nil {
		t.Fatalf("GetFlightInfo of the allowed topic: %v", err)
	}
	if _, rows, _, err := doGet(alice, t, c, info.Endpoint[0].Ticket); err != nil || len(rows) != 2 || string(rows[1].value) != "a1" {
		t.Fatalf("DoGet of the allowed topic: %d rows, %v", len(rows), err)
	}
	_, err = c.GetFlightInfo(alice, pathDesc(denied))
	wantDenied(t, "GetFlightInfo of the denied topic", err, noConsume)
	_, err = c.GetSchema(alice, pathDesc(denied))
	wantDenied(t, "GetSchema of the denied topic", err, noConsume)
	_, err = c.GetFlightInfo(alice, pathDesc(prefix+"-missing"))
	wantDenied(t, "GetFlightInfo of a missing topic", err, fmt.Sprintf("User alice has no permissions to consume topic '%s-missing'", prefix))
	res, err := c.DoAction(alice, &flight.Action{Type: "topic-info", Body: []byte(denied)})
	if err == nil {
		_, err = res.Recv()
	}
	wantDenied(t, "topic-info of the denied topic", err, noConsume)
	// A ticket is checked when redeemed, whoever obtained it.
	adminInfo, err := c.GetFlightInfo(admin, pathDesc(denied))
	if err != nil {
		t.Fatalf("the static token reads the denied topic: %v", err)
	}
	_, _, _, err = doGet(alice, t, c, adminInfo.Endpoint[0].Ticket)
	wantDenied(t, "DoGet of the denied topic", err, noConsume)
	if _, rows, _, err := doGet(admin, t, c, adminInfo.Endpoint[0].Ticket); err != nil || len(rows) != 1 {
		t.Errorf("the static token's DoGet: %d rows, %v", len(rows), err)
	}

	// Group mode: the group must be allowed too.
	noJoin := "User alice has no permissions to join group 'etl'"
	_, err = c.GetFlightInfo(alice, cmd(t, map[string]any{"topic": allowed, "group": "etl"}))
	wantDenied(t, "group read in a denied group", err, noJoin)
	if _, err := c.GetFlightInfo(alice, cmd(t, map[string]any{"topic": allowed, "group": "billing-eu"})); err != nil {
		t.Errorf("group read in an allowed group: %v", err)
	}
	etl, err := c.GetFlightInfo(admin, cmd(t, map[string]any{"topic": allowed, "group": "etl"}))
	if err != nil {
		t.Fatalf("the static token's group read: %v", err)
	}
	_, _, _, err = doGet(alice, t, c, etl.Endpoint[0].Ticket)
	wantDenied(t, "DoGet in a denied group", err, noJoin)

	// ListFlights shows alice only what she may consume.
	if names, err := listFlightNames(alice, t, c, prefix+"-*"); err != nil || strings.Join(names, " ") != allowed {
		t.Errorf("alice's ListFlights: %v %v", names, err)
	}
	if names, err := listFlightNames(admin, t, c, prefix+"-*"); err != nil || strings.Join(names, " ") != allowed+" "+denied {
		t.Errorf("the static token's ListFlights: %v %v", names, err)
	}

	// DoPut needs produce permission; nothing reaches the denied topic.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := putBatch(mem, 3)
	defer batch.Release()
	_, err = doPut(alice, c, denied, mem, batch)
	wantDenied(t, "DoPut to the denied topic", err, fmt.Sprintf("User alice has no permissions to produce to topic '%s'", denied))
	if got := watermark(t, denied, 0); got != 1 {
		t.Errorf("high watermark of the denied topic %d after a refused DoPut, want 1", got)
	}
	meta, err := doPut(alice, c, allowed, mem, batch)
	var put struct{ Produced int }
	if err != nil || json.Unmarshal(meta, &put) != nil || put.Produced != 3 {
		t.Errorf("DoPut to the allowed topic: %s %v", meta, err)
	}
}

// TestFlightACLUserClash: a --flight-user that is also an ACL user is
// refused at start, rather than silently getting full access.
func TestFlightACLUserClash(t *testing.T) {
	list, err := acl.Parse([]byte(`{"users": {"alice": {"password": "` + acl.HashPassword("pw") + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = arrowflight.New(arrowflight.Config{ACL: list, Users: map[string]string{"alice": "other"},
		MaxStreams: 1, AuthLimiter: server.NewLoginLimiter(config.DefaultSettings())})
	if err == nil || !strings.Contains(err.Error(), `flight user "alice" is also a user of the ACL file`) {
		t.Fatalf("New: %v", err)
	}
}

// TestFlightRegexTopic: a topic name librdkafka would subscribe to as a
// regular expression is refused everywhere, so an ACL glob such as "*-a"
// (which "^.*|x-a" matches) cannot be stretched over other topics, not even
// with a hand-edited group-mode ticket.
func TestFlightRegexTopic(t *testing.T) {
	prefix := uniqueName(t, "re")
	allowed := prefix + "-a"
	createTopic(t, allowed, 1)
	produceDirect(t, allowed, 0, "a0")
	list, err := acl.Parse([]byte(`{"users": {"bob": {"password": "` + acl.HashPassword("pw") + `",
		"produce": ["*-a"], "consume": ["*-a"], "groups": ["*"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tf := startFlight(t, func(c *arrowflight.Config) { c.ACL = list })
	c := tf.client(t)
	base, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob, err := c.AuthenticateBasicToken(base, "bob", "pw")
	if err != nil {
		t.Fatalf("bob's handshake: %v", err)
	}
	const regex = "^.*|x-a"
	wantInvalid := func(what string, err error) {
		t.Helper()
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "illegal character '^'") {
			t.Errorf("%s: %v, want InvalidArgument naming the illegal '^'", what, err)
		}
	}
	_, err = c.GetFlightInfo(bob, pathDesc(regex))
	wantInvalid("GetFlightInfo of a regex", err)
	_, err = c.GetFlightInfo(bob, cmd(t, map[string]any{"topic": regex, "group": "g"}))
	wantInvalid("group GetFlightInfo of a regex", err)
	res, err := c.DoAction(bob, &flight.Action{Type: "topic-info", Body: []byte(regex)})
	if err == nil {
		_, err = res.Recv()
	}
	wantInvalid("topic-info of a regex", err)

	// A legitimate group-mode ticket, edited to name the regex.
	info, err := c.GetFlightInfo(bob, cmd(t, map[string]any{"topic": allowed, "group": prefix + "-g"}))
	if err != nil {
		t.Fatalf("group read of the allowed topic: %v", err)
	}
	var fields map[string]any
	if err := json.Unmarshal(info.Endpoint[0].Ticket.Ticket, &fields); err != nil {
		t.Fatalf("ticket is not JSON: %v", err)
	}
	fields["topic"] = regex
	edited, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = doGet(bob, t, c, &flight.Ticket{Ticket: edited})
	wantInvalid("DoGet of an edited ticket", err)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := putBatch(mem, 1)
	defer batch.Release()
	_, err = doPut(bob, c, regex, mem, batch)
	wantInvalid("DoPut to a regex", err)
}
