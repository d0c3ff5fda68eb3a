package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/acl"
	"rafka/config"
	"rafka/server"
	"rafka/stats"
	"rafka/streams"
	"rafka/test/rafkatest"
)

// TestXAddXLen: XADD produces an entry durably and replies with its ID,
// (offset+1)-partition; its payload field is the record's value and the
// other pairs its headers; NOMKSTREAM, the only ID * and trimming are as
// README says; XLEN counts the records.
func TestXAddXLen(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	r := c.do("XADD", topic, "*", "a", "1", "payload", "hello", "a", "2")
	if r.Kind != '$' || r.Str != "1-0" {
		t.Fatalf("XADD: %s, want the ID 1-0 (offset 0 of partition 0)", r)
	}
	c.expect(`"2-0"`, "XADD", topic, "MAXLEN", "~", "1000", "*", "f", "v")
	c.expect(`"3-0"`, "XADD", topic, "MINID", "~", "1", "LIMIT", "10", "*", "data", "d")
	msgs := readAll(t, topic, 3)
	m := msgs[0]
	var headers []string
	for _, h := range m.Headers {
		headers = append(headers, h.Key+"="+string(h.Value))
	}
	if string(m.Value) != "hello" || strings.Join(headers, ",") != "rafka.stream=1:payload,a=1,a=2" {
		t.Errorf("record of the first entry: value %q, headers %v", m.Value, headers)
	}
	if string(msgs[1].Value) != "" || string(msgs[2].Value) != "d" {
		t.Errorf("records: %q %q", msgs[1].Value, msgs[2].Value)
	}
	c.expect("(integer) 3", "XLEN", topic)
	c.expect("stream", "TYPE", topic)

	c.expect("(error) ERR XADD takes only * as the ID here: Kafka assigns the offset the ID is made of", "XADD", topic, "5-0", "f", "v")
	if r := c.do("XADD", topic, "MAXLEN", "10", "*", "f", "v"); !r.IsErr("ERR exact trimming is not supported") {
		t.Errorf("XADD MAXLEN 10: %s", r)
	}
	if r := c.do("XADD", topic, "MAXLEN", "=", "10", "*", "f", "v"); !r.IsErr("ERR exact trimming is not supported") {
		t.Errorf("XADD MAXLEN = 10: %s", r)
	}
	c.expect("(error) ERR wrong number of arguments for 'xadd' command", "XADD", topic, "*", "f")
	c.expect("(error) ERR wrong number of arguments for 'xadd' command", "XADD", topic, "NOMKSTREAM", "*")
	if r := c.do("XADD", "no such^topic", "*", "f", "v"); !r.IsErr("ERR stream key 'no such^topic' is not a Kafka topic name") {
		t.Errorf("XADD to a bad name: %s", r)
	}

	// A missing stream: NOMKSTREAM gets null, without it the topic is made.
	missing := uniqueName(t, "mk")
	c.expect("(nil)", "XADD", missing, "NOMKSTREAM", "*", "f", "v")
	c.expect("(integer) 0", "XLEN", missing)
	r = c.do("XADD", missing, "*", "payload", "first")
	if r.Kind != '$' || !strings.HasSuffix(r.Str, "") || !strings.HasPrefix(r.Str, "1-") {
		t.Fatalf("XADD creating %s: %s", missing, r)
	}
	if got := readAll(t, missing, 1); string(got[0].Value) != "first" {
		t.Errorf("the new stream holds %q", got[0].Value)
	}
	if got := fmt.Sprint(c.do("EXISTS", missing).Num); got != "1" {
		t.Errorf("EXISTS %s = %s", missing, got)
	}
}

// TestXRange: XRANGE and XREVRANGE read entries by ID across partitions,
// with -, +, full and partial IDs, exclusive ( bounds and COUNT; a plain
// Kafka record reads as value, key, headers.
func TestXRange(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	// Two entries in partition 0 (1-0, 2-0), one in partition 1 (1-1).
	produceMessages(t,
		&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte("p0-a"), Key: []byte("k"),
			Headers: []kafka.Header{{Key: "h", Value: []byte("1")}}},
		&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte("p0-b")},
		&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 1}, Value: []byte("p1-a")})
	c := ts.dial(t)
	all := `[["1-0", ["value", "p0-a", "key", "k", "h", "1"]], ["1-1", ["value", "p1-a"]], ["2-0", ["value", "p0-b"]]]`
	c.expect(all, "XRANGE", topic, "-", "+")
	c.expect(`[["2-0", ["value", "p0-b"]], ["1-1", ["value", "p1-a"]], ["1-0", ["value", "p0-a", "key", "k", "h", "1"]]]`, "XREVRANGE", topic, "+", "-")
	c.expect(`[["1-0", ["value", "p0-a", "key", "k", "h", "1"]], ["1-1", ["value", "p1-a"]]]`, "XRANGE", topic, "-", "+", "COUNT", "2")
	c.expect(`[["2-0", ["value", "p0-b"]]]`, "XREVRANGE", topic, "+", "-", "COUNT", "1")
	c.expect(`[["1-0", ["value", "p0-a", "key", "k", "h", "1"]], ["1-1", ["value", "p1-a"]]]`, "XRANGE", topic, "1", "1")
	c.expect(`[["1-1", ["value", "p1-a"]], ["2-0", ["value", "p0-b"]]]`, "XRANGE", topic, "(1-0", "+")
	c.expect(`[["1-0", ["value", "p0-a", "key", "k", "h", "1"]]]`, "XRANGE", topic, "-", "(1-1")
	c.expect("[]", "XRANGE", topic, "3", "+")
	c.expect("[]", "XRANGE", topic, "+", "-")
	c.expect("[]", "XRANGE", uniqueName(t, "none"), "-", "+")
	c.expect("(error) ERR Invalid stream ID specified as stream command argument", "XRANGE", topic, "x", "+")
	c.expect("(error) ERR syntax error", "XRANGE", topic, "-", "+", "LIMIT", "1")

	// An entry XADD wrote reads back as it was written.
	id := c.do("XADD", topic, "*", "a", "1", "payload", "P", "a", "2").Str
	c.expect(`[["`+id+`", ["a", "1", "payload", "P", "a", "2"]]]`, "XRANGE", topic, id, id)
}

// TestXRead: XREAD reads after an ID across partitions; a connection that
// passes back the last ID it got resumes where it stopped, so a record of a
// lagging partition (a smaller ID) is not skipped; $ with BLOCK waits for
// new entries; RESP3 replies with a map.
func TestXRead(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	produceDirect(t, topic, 0, "a0", "a1", "a2", "a3", "a4")
	produceDirect(t, topic, 1, "b0")
	c := ts.dial(t)
	r := c.do("XREAD", "COUNT", "100", "STREAMS", topic, "0")
	if len(r.Elems) != 1 || len(r.Elems[0].Elems) != 2 || len(r.Elems[0].Elems[1].Elems) != 6 {
		t.Fatalf("XREAD from 0: %s", r)
	}
	entries := r.Elems[0].Elems[1].Elems
	last := entries[len(entries)-1].Elems[0].Str
	if last != "5-0" {
		t.Fatalf("the last entry is %s, want 5-0", last)
	}
	c.expect("(nil)", "XREAD", "STREAMS", topic, last)
	// Partition 1 lags: its next record's ID (2-1) is below 5-0.
	produceDirect(t, topic, 1, "b1")
	c.expect(fmt.Sprintf(`[["%s", [["2-1", ["value", "b1"]]]]]`, topic), "XREAD", "STREAMS", topic, last)
	// Another connection has no position: from 5-0 it sees nothing older.
	ts.dial(t).expect("(nil)", "XREAD", "STREAMS", topic, "5-0")

	// $ with BLOCK waits for the next entry.
	c.send("XREAD", "BLOCK", "10000", "STREAMS", topic, "$")
	time.Sleep(300 * time.Millisecond) // the XREAD is waiting (it reads the ends first)
	produceDirect(t, topic, 0, "late")
	if r := c.read(15 * time.Second); !strings.Contains(r.String(), `"value", "late"`) {
		t.Fatalf("XREAD BLOCK $: %s", r)
	}
	c.expect("(nil)", "XREAD", "BLOCK", "200", "STREAMS", topic, "$")
	c.expect("(error) ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.", "XREAD", "STREAMS", topic, topic, "0")

	c3 := ts.dial(t)
	c3.do("HELLO", "3")
	if r := c3.do("XREAD", "COUNT", "1", "STREAMS", topic, "0"); r.Kind != '%' || len(r.Elems) != 2 || r.Elems[0].Str != topic {
		t.Errorf("RESP3 XREAD: %s", r)
	}
}

// TestXReadTailing: a client looping XREAD BLOCK ... STREAMS s <last id>
// over a 4-partition topic fed by several producers sees every record once.
func TestXReadTailing(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 4)
	const producers, each = 3, 100
	c := ts.dial(t)
	last := "0"
	c.expect("(nil)", "XREAD", "STREAMS", topic, last)
	errs := make(chan error, producers)
	for i := range producers {
		go func() {
			p := ts.dial(t)
			for j := range each {
				r := p.do("XADD", topic, "*", "payload", fmt.Sprintf("p%d-%d", i, j))
				if r.Kind != '$' {
					errs <- fmt.Errorf("XADD: %s", r)
					return
				}
			}
			errs <- nil
		}()
	}
	seen := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for len(seen) < producers*each && time.Now().Before(deadline) {
		r := c.do("XREAD", "COUNT", "7", "BLOCK", "1000", "STREAMS", topic, last)
		if r.Null {
			continue
		}
		for _, e := range r.Elems[0].Elems[1].Elems {
			seen[e.Elems[1].Elems[1].Str]++
			last = e.Elems[0].Str
		}
	}
	for range producers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	if len(seen) != producers*each || dups > 0 {
		t.Fatalf("saw %d of %d records, %d more than once", len(seen), producers*each, dups)
	}
}

// TestStreamGroups: XGROUP CREATE sets a group's start; XREADGROUP >
// hands entries to whichever consumer asks first and records them pending;
// XACK removes them; a history read returns the consumer's pending
// entries; XPENDING reports them; the committed offset advances only over
// a contiguous acked prefix.
func TestStreamGroups(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	group := uniqueName(t, "sg")
	c := ts.dial(t)
	c.expect("(error) NOGROUP No such key '"+topic+"' or consumer group '"+group+"' in XREADGROUP with GROUP option",
		"XREADGROUP", "GROUP", group, "c1", "STREAMS", topic, ">")
	c.expect("OK", "XGROUP", "CREATE", topic, group, "$")
	c.expect("(error) BUSYGROUP Consumer Group name already exists", "XGROUP", "CREATE", topic, group, "$")
	var ids []string
	for i := range 3 {
		ids = append(ids, c.do("XADD", topic, "*", "payload", fmt.Sprint("m", i)).Str)
	}
	got := readGroup(t, c, topic, group, "c1", 2)
	if want := []string{fmt.Sprintf(`["%s", ["payload", "m0"]]`, ids[0]), fmt.Sprintf(`["%s", ["payload", "m1"]]`, ids[1])}; !slices.Equal(got, want) {
		t.Fatalf("c1's entries: %q, want %q", got, want)
	}
	c2 := ts.dial(t)
	c2.expect(fmt.Sprintf(`[["%s", [["%s", ["payload", "m2"]]]]]`, topic, ids[2]), "XREADGROUP", "GROUP", group, "c2", "BLOCK", "5000", "STREAMS", topic, ">")
	c2.expect("(nil)", "XREADGROUP", "GROUP", group, "c2", "BLOCK", "200", "STREAMS", topic, ">")
	c.expect(fmt.Sprintf(`[(integer) 3, "%s", "%s", [["c1", "2"], ["c2", "1"]]]`, ids[0], ids[2]), "XPENDING", topic, group)
	if r := c.do("XPENDING", topic, group, "-", "+", "10", "c1"); len(r.Elems) != 2 || r.Elems[0].Elems[1].Str != "c1" || r.Elems[0].Elems[3].Num != 1 {
		t.Errorf("XPENDING extended: %s", r)
	}
	// History: c1's pending entries.
	c.expect(fmt.Sprintf(`[["%s", [["%s", ["payload", "m0"]], ["%s", ["payload", "m1"]]]]]`, topic, ids[0], ids[1]), "XREADGROUP", "GROUP", group, "c1", "STREAMS", topic, "0")

	// Contiguous prefix: acking the third entry commits nothing while the
	// first two are pending.
	c.expect("(integer) 1", "XACK", topic, group, ids[2])
	c.expect("(integer) 0", "XACK", topic, group, ids[2])
	time.Sleep(6 * time.Second) // past an auto-commit (auto.commit.interval.ms 5 s)
	if off := committed(t, group, topic, 1); off[0] != 0 {
		t.Fatalf("committed %d with entries 0 and 1 unacked", off[0])
	}
	c.expect("(integer) 2", "XACK", topic, group, ids[0], ids[1])
	waitFor(t, 20*time.Second, "the group's commit of all three", func() bool { return committed(t, group, topic, 1)[0] == 3 })
	c.expect("[(integer) 0, (nil), (nil), (nil)]", "XPENDING", topic, group)
	c.expect("(integer) 1", "XGROUP", "DESTROY", topic, group)
}

// TestStreamClaims: XCLAIM and XAUTOCLAIM move idle pending entries to
// another consumer (with their data read again), XINFO reports the group
// and its consumers.
func TestStreamClaims(t *testing.T) {
	topic, group, c := streamGroup(t, "cl")
	ids := []string{c.do("XADD", topic, "*", "payload", "a").Str, c.do("XADD", topic, "*", "payload", "b").Str}
	readGroup(t, c, topic, group, "dead", 2)
	c.expect("[]", "XCLAIM", topic, group, "alive", "60000", ids[0]) // not idle long enough
	time.Sleep(50 * time.Millisecond)
	c.expect(fmt.Sprintf(`[["%s", ["payload", "a"]]]`, ids[0]), "XCLAIM", topic, group, "alive", "10", ids[0])
	c.expect(fmt.Sprintf(`["%s"]`, ids[0]), "XCLAIM", topic, group, "alive", "0", ids[0], "JUSTID")
	// An ID given again is claimed once (before, once per copy).
	c.expect(fmt.Sprintf(`["%s"]`, ids[0]), "XCLAIM", topic, group, "alive", "0", ids[0], ids[0], ids[0], "JUSTID")
	if r := c.do("XPENDING", topic, group, "-", "+", "10"); r.String() != fmt.Sprintf("[[%q, \"alive\", %s, (integer) 2], [%q, \"dead\", %s, (integer) 1]]",
		ids[0], r.Elems[0].Elems[2], ids[1], r.Elems[1].Elems[2]) {
		t.Errorf("XPENDING after the claims: %s", r)
	}
	time.Sleep(50 * time.Millisecond)
	r := c.do("XAUTOCLAIM", topic, group, "alive", "10", "0-0", "COUNT", "10")
	if len(r.Elems) != 3 || r.Elems[0].Str != "0-0" || len(r.Elems[1].Elems) != 2 || len(r.Elems[2].Elems) != 0 {
		t.Errorf("XAUTOCLAIM: %s", r)
	}
	c.expect(fmt.Sprintf(`[(integer) 2, "%s", "%s", [["alive", "2"]]]`, ids[0], ids[1]), "XPENDING", topic, group)

	g := c.do("XINFO", "GROUPS", topic)
	if len(g.Elems) != 1 || g.Elems[0].Pairs()["name"] != group || g.Elems[0].Pairs()["pending"] != "2" || g.Elems[0].Pairs()["last-delivered-id"] != ids[1] {
		t.Errorf("XINFO GROUPS: %s", g)
	}
	cs := c.do("XINFO", "CONSUMERS", topic, group)
	if len(cs.Elems) != 2 || cs.Elems[0].Pairs()["name"] != "alive" || cs.Elems[0].Pairs()["pending"] != "2" {
		t.Errorf("XINFO CONSUMERS: %s", cs)
	}
	st := c.do("XINFO", "STREAM", topic).Pairs()
	if st["length"] != "2" || st["last-generated-id"] != ids[1] || st["groups"] != "1" {
		t.Errorf("XINFO STREAM: %v", st)
	}
	c.expect("(integer) 2", "XACK", topic, group, ids[0], ids[1])
}

// TestXTrimXDel: XTRIM MINID deletes the records below the ID in each
// partition (DeleteRecords); approximate trims do nothing; exact MAXLEN is
// refused; XDEL deletes nothing and says so.
func TestXTrimXDel(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	var ids []string
	for i := range 4 {
		ids = append(ids, c.do("XADD", topic, "*", "payload", fmt.Sprint(i)).Str)
	}
	c.expect("(integer) 0", "XDEL", topic, ids[0])
	c.expect("(integer) 0", "XTRIM", topic, "MAXLEN", "~", "1")
	c.expect("(integer) 0", "XTRIM", topic, "MINID", "~", ids[2])
	if r := c.do("XTRIM", topic, "MAXLEN", "1"); !r.IsErr("ERR exact trimming is not supported") {
		t.Errorf("XTRIM MAXLEN 1: %s", r)
	}
	c.expect("(integer) 2", "XTRIM", topic, "MINID", ids[2])
	c.expect("(integer) 2", "XLEN", topic)
	c.expect(fmt.Sprintf(`[["%s", ["payload", "2"]], ["%s", ["payload", "3"]]]`, ids[2], ids[3]), "XRANGE", topic, "-", "+")
	c.expect("(integer) 0", "XTRIM", topic, "MINID", ids[2])
}

// TestXAddPipelined: pipelined XADDs are produced together and each gets
// its own reply, in order, errors and other commands of the pipeline
// included; each ID names the record of its own entry (value and headers)
// in Kafka.
func TestXAddPipelined(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	conn := ts.dial(t)
	const n = 500
	var b strings.Builder
	cmd := func(args ...string) { b.WriteString(bulkCommand(args...)) }
	for i := range n {
		switch i {
		case 100:
			cmd("XADD", topic, "5-0", "f", "v") // an error in the batch
		case 200:
			cmd("PING") // another command between XADDs
		}
		if i%7 == 0 { // a field before the payload: a header
			cmd("XADD", topic, "*", "n", fmt.Sprint(i), "payload", fmt.Sprint("e", i))
		} else {
			cmd("XADD", topic, "*", "payload", fmt.Sprint("e", i))
		}
	}
	start := time.Now()
	conn.sendRaw(b.String())
	var ids []string // the ID of entry i
	for i := 0; i < n+2; i++ {
		r := conn.read(30 * time.Second)
		switch {
		case i == 100:
			if !r.IsErr("ERR XADD takes only * as the ID") {
				t.Fatalf("reply %d: %s, want the explicit ID's error", i, r)
			}
		case i == 201:
			if r.String() != "PONG" {
				t.Fatalf("reply %d: %s, want PONG", i, r)
			}
		default:
			if r.Kind != '$' || !strings.Contains(r.Str, "-") {
				t.Fatalf("reply %d: %s, want an ID", i, r)
			}
			ids = append(ids, r.Str)
		}
	}
	t.Logf("%d pipelined XADDs in %v", n, time.Since(start))
	if len(ids) != n {
		t.Fatalf("%d IDs, want %d", len(ids), n)
	}
	stored := make(map[string]*kafka.Message)
	for _, m := range readAll(t, topic, n) {
		stored[fmt.Sprintf("%d-%d", m.TopicPartition.Offset+1, m.TopicPartition.Partition)] = m
	}
	if len(stored) != n {
		t.Fatalf("Kafka holds %d entries", len(stored))
	}
	for i, id := range ids {
		m := stored[id]
		if m == nil {
			t.Fatalf("entry %d: no record at its ID %s", i, id)
		}
		if want := fmt.Sprint("e", i); string(m.Value) != want {
			t.Fatalf("entry %d: the record at its ID %s holds %q, want %q", i, id, m.Value, want)
		}
		wantHeaders := 1 // the marker
		if i%7 == 0 {
			wantHeaders = 2
			if len(m.Headers) != 2 || m.Headers[1].Key != "n" || string(m.Headers[1].Value) != fmt.Sprint(i) {
				t.Fatalf("entry %d: headers %v, want the marker and n=%d", i, m.Headers, i)
			}
		}
		if len(m.Headers) != wantHeaders {
			t.Fatalf("entry %d: headers %v", i, m.Headers)
		}
	}
}

// TestXAddRepliesWhileTheClientWaits: a batch's replies may wait while
// more of the pipeline is in the socket, but never for bytes the client
// has not sent: an XADD followed by half of the next one gets its reply,
// and the next one its own once complete.
func TestXAddRepliesWhileTheClientWaits(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	conn := ts.dial(t)
	// The first XADD fills more than one socket read (4 KiB), and the half
	// command after it more than the rest of the next one: when the first
	// is produced, more of the client's bytes are in the socket.
	first := bulkCommand("XADD", topic, "*", "payload", strings.Repeat("a", 6000))
	second := bulkCommand("XADD", topic, "*", "payload", strings.Repeat("b", 10000))
	for round := range 5 {
		conn.sendRaw(first + second[:len(second)/2])
		r, err := conn.tryRead(10 * time.Second)
		if err != nil || r.Kind != '$' {
			t.Fatalf("round %d: the XADD before a half command: %v, %v (its reply waited for the client)", round, r, err)
		}
		conn.sendRaw(second[len(second)/2:])
		if r := conn.read(10 * time.Second); r.Kind != '$' {
			t.Fatalf("round %d: the completed XADD: %s", round, r)
		}
	}
}

// TestXGroupSetID: SETID moves a group's position; the next XREADGROUP >
// reads from there.
func TestXGroupSetID(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	group := uniqueName(t, "sid")
	c := ts.dial(t)
	ids := []string{c.do("XADD", topic, "*", "payload", "a").Str, c.do("XADD", topic, "*", "payload", "b").Str}
	c.expect("OK", "XGROUP", "CREATE", topic, group, "$")
	c.expect("(nil)", "XREADGROUP", "GROUP", group, "c", "BLOCK", "300", "STREAMS", topic, ">")
	c.expect("OK", "XGROUP", "SETID", topic, group, ids[0])
	c.expect(fmt.Sprintf(`[["%s", [["%s", ["payload", "b"]]]]]`, topic, ids[1]), "XREADGROUP", "GROUP", group, "c", "BLOCK", "10000", "STREAMS", topic, ">")
	c.expect("(error) ERR unknown subcommand 'NOPE'", "XGROUP", "NOPE", topic, group)
}

// TestStreamGroupOneMember: many Redis consumers of one group on one
// rafka share one Kafka member (one librdkafka consumer).
func TestStreamGroupOneMember(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	group := uniqueName(t, "one")
	ts.dial(t).expect("OK", "XGROUP", "CREATE", topic, group, "$")
	before := ts.stats.Get(stats.ConsumersCreated)
	for i := range 50 {
		c := ts.dial(t)
		c.expect("(nil)", "XREADGROUP", "GROUP", group, fmt.Sprint("c", i), "BLOCK", "10", "STREAMS", topic, ">")
	}
	if made := ts.stats.Get(stats.ConsumersCreated) - before; made != 1 {
		t.Errorf("50 Redis consumers of one group made %d librdkafka consumers, want 1", made)
	}
	if n := len(ts.dial(t).do("XINFO", "CONSUMERS", topic, group).Elems); n != 50 {
		t.Errorf("XINFO CONSUMERS lists %d consumers, want 50", n)
	}
}

// TestStreamGroupPlainRecord: a record a plain Kafka producer wrote reads
// through XREADGROUP per the mapping: value, key, headers.
func TestStreamGroupPlainRecord(t *testing.T) {
	topic, group, c := streamGroup(t, "plain")
	produceMessages(t, &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
		Value: []byte("plain"), Key: []byte("k1"), Headers: []kafka.Header{{Key: "trace", Value: []byte("t-1")}}})
	c.expect(fmt.Sprintf(`[["%s", [["1-0", ["value", "plain", "key", "k1", "trace", "t-1"]]]]]`, topic),
		"XREADGROUP", "GROUP", group, "c", "BLOCK", "10000", "STREAMS", topic, ">")
	c.expect("(integer) 1", "XACK", topic, group, "1-0")
}

// TestStreamGroupRebalance: when Kafka moves a partition from one rafka's
// member to another's, the entries the first delivered and did not ack
// leave its pending list (an XACK of them there returns 0) and the new
// owner delivers them again: nothing unacked is lost.
func TestStreamGroupRebalance(t *testing.T) {
	a, b := startServer(t), startServer(t)
	topic := newTopic(t, 4)
	group := uniqueName(t, "rb")
	ca, cb := a.dial(t), b.dial(t)
	ca.expect("OK", "XGROUP", "CREATE", topic, group, "0")
	for p := range 4 {
		produceDirect(t, topic, int32(p), fmt.Sprint("p", p))
	}
	// rafka A's member owns all four partitions and delivers every entry.
	delivered := map[string]string{}
	waitFor(t, 30*time.Second, "A delivering all four entries", func() bool {
		r := ca.do("XREADGROUP", "GROUP", group, "ca", "COUNT", "10", "BLOCK", "500", "STREAMS", topic, ">")
		if !r.Null {
			for _, e := range r.Elems[0].Elems[1].Elems {
				delivered[e.Elems[0].Str] = e.Elems[1].Elems[1].Str
			}
		}
		return len(delivered) == 4
	})
	// rafka B's member joins: Kafka gives it some partitions; their entries
	// come again through B, and none of them stays pending on A.
	pendingOn := func(c *respConn) map[string]bool {
		out := map[string]bool{}
		for _, e := range c.do("XPENDING", topic, group, "-", "+", "10").Elems {
			out[e.Elems[0].Str] = true
		}
		return out
	}
	read := func(c *respConn, consumer string, into map[string]string) {
		r := c.do("XREADGROUP", "GROUP", group, consumer, "COUNT", "10", "BLOCK", "300", "STREAMS", topic, ">")
		if !r.Null {
			for _, e := range r.Elems[0].Elems[1].Elems {
				into[e.Elems[0].Str] = e.Elems[1].Elems[1].Str
			}
		}
	}
	onB := map[string]string{}
	waitFor(t, 60*time.Second, "B holding some of the entries and A the rest, each once", func() bool {
		read(cb, "cb", onB)
		onA := map[string]string{}
		read(ca, "ca", onA) // A's kept partitions, redelivered after the rebalance
		pa, pb := pendingOn(ca), pendingOn(cb)
		for id := range pb {
			if pa[id] {
				return false // pending on both: the rebalance is not over
			}
		}
		return len(pb) > 0 && len(pa)+len(pb) == 4
	})
	for id, v := range onB {
		if delivered[id] != v {
			t.Errorf("B delivered %s=%s, which A never delivered", id, v)
		}
		ca.expect("(integer) 0", "XACK", topic, group, id) // no longer pending on A
	}
	pa, pb := pendingOn(ca), pendingOn(cb)
	ackAll := func(c *respConn, ids map[string]bool) int64 {
		args := []string{"XACK", topic, group}
		for id := range ids {
			args = append(args, id)
		}
		return c.do(args...).Num
	}
	if n := ackAll(ca, pa) + ackAll(cb, pb); n != 4 {
		t.Errorf("acked %d of the 4 entries across A and B", n)
	}
}

// TestStreamNoGroupTexts: the NOGROUP errors are Redis 7's, per command.
func TestStreamNoGroupTexts(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	g := uniqueName(t, "none")
	c.expect(fmt.Sprintf("(error) NOGROUP No such key '%s' or consumer group '%s'", topic, g), "XPENDING", topic, g)
	c.expect(fmt.Sprintf("(error) NOGROUP No such key '%s' or consumer group '%s'", topic, g), "XCLAIM", topic, g, "c", "0", "1-0")
	c.expect(fmt.Sprintf("(error) NOGROUP No such key '%s' or consumer group '%s'", topic, g), "XAUTOCLAIM", topic, g, "c", "0", "0-0")
	c.expect(fmt.Sprintf("(error) NOGROUP No such consumer group '%s' for key name '%s'", g, topic), "XGROUP", "CREATECONSUMER", topic, g, "c")
	c.expect(fmt.Sprintf("(error) NOGROUP No such consumer group '%s' for key name '%s'", g, topic), "XGROUP", "SETID", topic, g, "$")
	c.expect(fmt.Sprintf("(error) NOGROUP No such consumer group '%s' for key name '%s'", g, topic), "XINFO", "CONSUMERS", topic, g)
	// A group created on another topic is not a group of this one.
	other := newTopic(t, 1)
	c.expect("OK", "XGROUP", "CREATE", other, g, "$")
	c.expect("OK", "XGROUP", "CREATE", topic, g, "$")
}

// TestStreamMemberIdle: a stream group's Kafka member no command used for
// --stream-member-idle, with nothing pending, is closed (its partitions
// free for other rafkas), and the next XREADGROUP makes it again.
func TestStreamMemberIdle(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.Settings.StreamMemberIdle = config.Duration(time.Second) })
	topic := newTopic(t, 1)
	group := uniqueName(t, "idle")
	c := ts.dial(t)
	c.expect("OK", "XGROUP", "CREATE", topic, group, "$")
	before := ts.stats.Get(stats.ConsumersCurrent)
	c.expect("(nil)", "XREADGROUP", "GROUP", group, "c", "BLOCK", "10", "STREAMS", topic, ">")
	if ts.stats.Get(stats.ConsumersCurrent) != before+1 {
		t.Fatal("XREADGROUP made no member")
	}
	waitFor(t, 10*time.Second, "the idle member closed", func() bool { return ts.stats.Get(stats.ConsumersCurrent) == before })
	id := c.do("XADD", topic, "*", "payload", "after").Str
	c.expect(fmt.Sprintf(`[["%s", [["%s", ["payload", "after"]]]]]`, topic, id), "XREADGROUP", "GROUP", group, "c", "BLOCK", "10000", "STREAMS", topic, ">")
	// A member with a pending entry stays.
	time.Sleep(2500 * time.Millisecond)
	c.expect("(integer) 1", "XACK", topic, group, id)
}

// TestStreamHostileInput: consumer names, stream counts and counts a client
// sends are bounded.
func TestStreamHostileInput(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	group := uniqueName(t, "hostile")
	c := ts.dial(t)
	c.expect("OK", "XGROUP", "CREATE", topic, group, "$")
	for _, name := range []string{strings.Repeat("n", 256), "has space", "nul\x00", ""} {
		if r := c.do("XREADGROUP", "GROUP", group, name, "STREAMS", topic, ">"); !r.IsErr("ERR invalid consumer name") {
			t.Errorf("consumer name %q: %s", clipName(name), r)
		}
		if r := c.do("XCLAIM", topic, group, name, "0", "1-0"); !r.IsErr("ERR invalid consumer name") {
			t.Errorf("XCLAIM consumer name %q: %s", clipName(name), r)
		}
	}
	// streams17 is a command's head with 17 streams, each with id.
	streams17 := func(id string, head ...string) []string {
		return append(append(head, slices.Repeat([]string{topic}, 17)...), slices.Repeat([]string{id}, 17)...)
	}
	if r := c.do(streams17(">", "XREADGROUP", "GROUP", group, "c", "STREAMS")...); !r.IsErr("ERR XREADGROUP reads at most 16 streams") {
		t.Errorf("17 streams: %s", r)
	}
	if r := c.do(streams17("0", "XREAD", "STREAMS")...); !r.IsErr("ERR XREAD reads at most 16 streams") {
		t.Errorf("XREAD of 17 streams: %s", r)
	}
	for _, name := range []string{strings.Repeat("n", 256), "has space", "nul\x00"} {
		if r := c.do("XGROUP", "CREATECONSUMER", topic, group, name); !r.IsErr("ERR invalid consumer name") {
			t.Errorf("CREATECONSUMER of %q: %s", clipName(name), r)
		}
	}
	// A field name becomes a Kafka header key, a C string to librdkafka:
	// a NUL would cut it (and 'rafka.stream\x00' would read as the marker).
	for _, fields := range [][]string{{"a\x00b", "v"}, {"value", "hello", "rafka.stream\x00", "0:x"}} {
		if r := c.do(append([]string{"XADD", topic, "*"}, fields...)...); !r.IsErr("ERR XADD field names cannot hold a NUL byte") {
			t.Errorf("XADD with the fields %q: %s", fields, r)
		}
	}
	// A group name is checked by every command naming one: librdkafka
	// would cut it at a NUL byte, and ask Kafka about another group than
	// the one the ACL patterns allowed.
	for _, cmd := range [][]string{
		{"XACK", topic, "g\x00x", "1-0"},
		{"XPENDING", topic, "g\x00x"},
		{"XCLAIM", topic, "g\x00x", "c", "0", "1-0"},
		{"XAUTOCLAIM", topic, "g\x00x", "c", "0", "0-0"},
		{"XINFO", "CONSUMERS", topic, "g\x00x"},
	} {
		if r := c.do(cmd...); !r.IsErr("ERR invalid consumer group name") {
			t.Errorf("%s with a NUL in the group: %s", cmd[0], r)
		}
	}
	c.expect("[]", "XRANGE", topic, "-", "+", "COUNT", "9223372036854775807")
	c.expect("(error) ERR value is not an integer or out of range", "XRANGE", topic, "-", "+", "COUNT", "99999999999999999999")
	if r := c.do("XAUTOCLAIM", topic, group, "c", "0", "0-0", "COUNT", "100000"); !r.IsErr("ERR COUNT must be > 0") {
		t.Errorf("XAUTOCLAIM COUNT over the cap: %s", r)
	}
	// Idle times past what a duration holds are refused: they must not
	// turn an entry's delivery time into the future, where no claim finds
	// it again, or make every entry idle enough. (A TIME in the future is
	// now, as in Redis.)
	id := c.do("XADD", topic, "*", "payload", "p").Str
	if r := c.do("XREADGROUP", "GROUP", group, "c", "COUNT", "1", "BLOCK", "10000", "STREAMS", topic, ">"); len(r.Elems) != 1 {
		t.Fatalf("XREADGROUP: %s", r)
	}
	if r := c.do("XCLAIM", topic, group, "d", "0", id, "IDLE", "9300000000000000"); !r.IsErr("ERR Invalid IDLE option argument for XCLAIM") {
		t.Errorf("XCLAIM IDLE 9300000000000000: %s", r)
	}
	if r := c.do("XCLAIM", topic, group, "d", "9300000000000000", id); !r.IsErr("ERR Invalid min-idle-time argument for XCLAIM") {
		t.Errorf("XCLAIM min-idle-time 9300000000000000: %s", r)
	}
	c.expect(fmt.Sprintf(`["0-0", ["%s"], []]`, id), "XAUTOCLAIM", topic, group, "d", "0", "0-0", "JUSTID")
	// Nothing comes after the largest ID (it must not wrap to 0-0 and read
	// the stream from its start).
	const maxID = "18446744073709551615-18446744073709551615"
	c.expect("(nil)", "XREAD", "STREAMS", topic, maxID)
	c.expect(fmt.Sprintf(`[["%s", []]]`, topic), "XREADGROUP", "GROUP", group, "d", "STREAMS", topic, maxID)
	late := uniqueName(t, "late")
	c.expect("OK", "XGROUP", "CREATE", topic, late, maxID)
	c.expect("(nil)", "XREADGROUP", "GROUP", late, "c", "BLOCK", "200", "STREAMS", topic, ">")
}

func clipName(s string) string { return s[:min(len(s), 16)] }

// TestStreamBoundsOnMembersAndNames: past --stream-max-members a new
// group's XREADGROUP is refused (and XGROUP DESTROY frees its place); one
// member keeps at most 10000 consumer names and all of them 100000, each
// past the bound refused for XREADGROUP and XGROUP CREATECONSUMER, and
// XGROUP DELCONSUMER gives a name back.
func TestStreamBoundsOnMembersAndNames(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.Settings.StreamMaxMembers = 11
		c.Settings.StreamMemberIdle = 0 // no sweep: the names and members stay
	})
	topic := newTopic(t, 1)
	c := ts.dial(t)
	prefix := uniqueName(t, "bound")
	groups := make([]string, 12)
	for i := range groups {
		groups[i] = fmt.Sprint(prefix, "-", i)
		c.expect("OK", "XGROUP", "CREATE", topic, groups[i], "$")
	}
	// fill gives group the consumer names name-0 ... name-(n-1), pipelined.
	fill := func(group string, n int) {
		t.Helper()
		for i := range n {
			c.send("XREADGROUP", "GROUP", group, fmt.Sprint("name-", i), "COUNT", "1", "STREAMS", topic, ">")
		}
		c.flush()
		for i := range n {
			if r := c.read(30 * time.Second); r.Kind == '-' {
				t.Fatalf("XREADGROUP of %s by name-%d: %s", group, i, r)
			}
		}
	}
	fill(groups[0], 10000)
	tooMany := "ERR too many consumers in this group on this rafka (at most 10000 names)"
	if r := c.do("XREADGROUP", "GROUP", groups[0], "one-more", "STREAMS", topic, ">"); !r.IsErr(tooMany) {
		t.Errorf("name 10001 of a member: %s", r)
	}
	if r := c.do("XGROUP", "CREATECONSUMER", topic, groups[0], "one-more"); !r.IsErr(tooMany) {
		t.Errorf("CREATECONSUMER of name 10001: %s", r)
	}
	if r := c.do("XAUTOCLAIM", topic, groups[0], "one-more", "0", "0-0"); !r.IsErr(tooMany) {
		t.Errorf("XAUTOCLAIM by name 10001: %s", r)
	}
	if r := c.do("XCLAIM", topic, groups[0], "one-more", "0", "1-0"); !r.IsErr(tooMany) {
		t.Errorf("XCLAIM by name 10001: %s", r)
	}
	c.expect("(integer) 0", "XGROUP", "CREATECONSUMER", topic, groups[0], "name-7") // known: no room needed
	c.expect("(integer) 0", "XGROUP", "DELCONSUMER", topic, groups[0], "name-7")
	c.expect("(integer) 1", "XGROUP", "CREATECONSUMER", topic, groups[0], "one-more")

	for _, g := range groups[1:10] {
		fill(g, 10000)
	}
	allNames := "ERR too many stream consumers on this rafka (at most 100000 names in all groups): XGROUP DELCONSUMER some"
	if r := c.do("XREADGROUP", "GROUP", groups[10], "first", "STREAMS", topic, ">"); !r.IsErr(allNames) {
		t.Errorf("name 100001 of the rafka: %s", r)
	}
	c.expect("(integer) 0", "XGROUP", "DELCONSUMER", topic, groups[3], "name-0")
	if r := c.do("XREADGROUP", "GROUP", groups[10], "first", "STREAMS", topic, ">"); r.Kind == '-' {
		t.Errorf("a name after DELCONSUMER gave one back: %s", r)
	}

	// groups[0..10] have their 11 members: a twelfth is refused until
	// XGROUP DESTROY closes one (and gives back its 10000 names).
	if r := c.do("XREADGROUP", "GROUP", groups[11], "c", "STREAMS", topic, ">"); !r.IsErr("ERR too many stream group members on this rafka (at most 11 groups and topic sets)") {
		t.Errorf("a twelfth member: %s", r)
	}
	c.expect("(integer) 1", "XGROUP", "DESTROY", topic, groups[5])
	if r := c.do("XREADGROUP", "GROUP", groups[11], "c", "STREAMS", topic, ">"); r.Kind == '-' {
		t.Errorf("XREADGROUP after a member was destroyed: %s", r)
	}
}

// readGroup reads n new entries of topic as consumer of group and returns
// them as text. An entry reaches the group's member with Kafka's fetch
// latency, so one XREADGROUP may return fewer than COUNT of entries just
// written: it asks until it has n, as a worker loop does (each call BLOCK
// 5 s, COUNT what is missing).
func readGroup(t *testing.T, c *respConn, topic, group, consumer string, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		r := c.do("XREADGROUP", "GROUP", group, consumer, "COUNT", fmt.Sprint(n-len(got)), "BLOCK", "5000", "STREAMS", topic, ">")
		if len(r.Elems) != 1 || len(r.Elems[0].Elems) != 2 || r.Elems[0].Elems[0].Str != topic {
			t.Fatalf("XREADGROUP of %s by %s after %d entries: %s", group, consumer, len(got), r)
		}
		for _, e := range r.Elems[0].Elems[1].Elems {
			got = append(got, e.String())
		}
	}
	return got
}

// streamGroup starts a server, makes a one-partition topic and a group
// (named from prefix) that reads it from its start, and dials the server.
func streamGroup(t *testing.T, prefix string) (topic, group string, c *respConn) {
	t.Helper()
	ts := startServer(t)
	topic, group = newTopic(t, 1), uniqueName(t, prefix)
	c = ts.dial(t)
	c.expect("OK", "XGROUP", "CREATE", topic, group, "0")
	return topic, group, c
}

// TestXReadGroupAcrossReset: an XREADGROUP blocked while another client
// moves the group (XGROUP SETID closes this rafka's members of it) keeps
// waiting, as on Redis, and gets the entry added after the move; one
// blocked while the group is destroyed gets Redis's NOGROUP error.
func TestXReadGroupAcrossReset(t *testing.T) {
	ts := startServer(t)
	topic, group := newTopic(t, 1), uniqueName(t, "reset")
	admin := ts.dial(t)
	admin.expect("OK", "XGROUP", "CREATE", topic, group, "$")
	reader := ts.dial(t)
	// The member exists and is assigned once a first read returned.
	reader.expect("(nil)", "XREADGROUP", "GROUP", group, "c", "BLOCK", "300", "STREAMS", topic, ">")

	reader.send("XREADGROUP", "GROUP", group, "c", "BLOCK", "20000", "STREAMS", topic, ">")
	time.Sleep(300 * time.Millisecond) // blocked by now
	admin.expect("OK", "XGROUP", "SETID", topic, group, "$")
	id := admin.do("XADD", topic, "*", "payload", "after").Str
	want := fmt.Sprintf(`[["%s", [["%s", ["payload", "after"]]]]]`, topic, id)
	if r := reader.read(30 * time.Second); r.String() != want {
		t.Fatalf("blocked XREADGROUP across SETID: %s, want %s", r, want)
	}

	reader.send("XREADGROUP", "GROUP", group, "c", "BLOCK", "20000", "STREAMS", topic, ">")
	time.Sleep(300 * time.Millisecond)
	admin.expect("(integer) 1", "XGROUP", "DESTROY", topic, group)
	if r := reader.read(30 * time.Second); !r.IsErr("NOGROUP") {
		t.Fatalf("blocked XREADGROUP across DESTROY: %s, want a NOGROUP error", r)
	}
}

// TestXInfoShowsOnlyTheUsersGroups: an ACL user's XINFO GROUPS and XINFO
// STREAM's group count leave out the groups it may not join (another
// tenant's, read on the same rafka).
func TestXInfoShowsOnlyTheUsersGroups(t *testing.T) {
	topic := newTopic(t, 1)
	prefix := uniqueName(t, "xinfo")
	mine, theirs := prefix+"-mine", prefix+"-theirs"
	user := func(name, group string) string {
		return `"` + name + `": {"password": "` + acl.HashPassword("pw") + `", "consume": ["` + topic + `"], "groups": ["` + group + `"]}`
	}
	list, err := acl.Parse([]byte(`{"users": {` + user("alice", mine) + `, ` + user("bob", theirs) + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) { c.ACL = list })
	for _, u := range []struct{ name, group string }{{"bob", theirs}, {"alice", mine}} {
		c := ts.dial(t)
		c.expect("OK", "AUTH", u.name, "pw")
		c.expect("OK", "XGROUP", "CREATE", topic, u.group, "$")
		c.expect("(nil)", "XREADGROUP", "GROUP", u.group, "c", "BLOCK", "10", "STREAMS", topic, ">")
	}
	alice := ts.dial(t)
	alice.expect("OK", "AUTH", "alice", "pw")
	groups := alice.do("XINFO", "GROUPS", topic)
	if len(groups.Elems) != 1 || !strings.Contains(groups.String(), mine) {
		t.Errorf("alice's XINFO GROUPS: %s, want only %s", groups, mine)
	}
	info := alice.do("XINFO", "STREAM", topic).String()
	if !strings.Contains(info, `"groups", (integer) 1,`) {
		t.Errorf("alice's XINFO STREAM: %s, want groups 1 (hers)", info)
	}
	// DESTROY deletes the Kafka group's offsets on every topic, while
	// alice's permission is checked for this one: it is refused to her.
	alice.expect("(error) NOPERM User alice has no permissions to run 'XGROUP DESTROY'", "XGROUP", "DESTROY", topic, mine)
}

// TestClaimsReadRecordsBack: entries claimed across partitions, with acked
// ones between them, come back in the order of the IDs given (as in Redis),
// each with its own record's fields (claimed records near each other are
// read together).
func TestClaimsReadRecordsBack(t *testing.T) {
	ts := startServer(t)
	topic, group := newTopic(t, 3), uniqueName(t, "claimback")
	c := ts.dial(t)
	c.expect("OK", "XGROUP", "CREATE", topic, group, "0")
	payload := map[string]string{} // ID -> payload
	for i := range 60 {
		id := c.do("XADD", topic, "*", "payload", fmt.Sprint("p", i), "n", fmt.Sprint(i)).Str
		payload[id] = fmt.Sprint("p", i)
	}
	readGroup(t, c, topic, group, "dead", 60)
	var pending []string
	i := 0
	for id := range payload {
		if i%3 == 0 {
			c.expect("(integer) 1", "XACK", topic, group, id)
		} else {
			pending = append(pending, id)
		}
		i++
	}
	slices.Reverse(pending) // an order that is not the records' order
	r := c.do(append([]string{"XCLAIM", topic, group, "alive", "0"}, pending...)...)
	if len(r.Elems) != len(pending) {
		t.Fatalf("XCLAIM of %d entries returned %d: %s", len(pending), len(r.Elems), r)
	}
	for j, e := range r.Elems {
		if e.Elems[0].Str != pending[j] {
			t.Fatalf("XCLAIM entry %d: ID %s, want %s (the order of the IDs given, as in Redis)", j, e.Elems[0].Str, pending[j])
		}
		if fields := e.Elems[1].Elems; len(fields) != 4 || fields[1].Str != payload[pending[j]] {
			t.Fatalf("XCLAIM entry %s: fields %s, want payload %s", pending[j], e.Elems[1], payload[pending[j]])
		}
	}
	if r := c.do(append(append([]string{"XCLAIM", topic, group, "alive", "0"}, pending...), "JUSTID")...); len(r.Elems) != len(pending) || r.Elems[0].Str != pending[0] {
		t.Fatalf("XCLAIM JUSTID: %s", r)
	}
	auto := c.do("XAUTOCLAIM", topic, group, "other", "0", "0-0", "COUNT", "100")
	if got := len(auto.Elems[1].Elems); got != len(pending) {
		t.Fatalf("XAUTOCLAIM returned %d entries, want %d", got, len(pending))
	}
	for _, e := range auto.Elems[1].Elems {
		if fields := e.Elems[1].Elems; len(fields) != 4 || fields[1].Str != payload[e.Elems[0].Str] {
			t.Fatalf("XAUTOCLAIM entry %s: %s", e.Elems[0].Str, e.Elems[1])
		}
	}
}

// TestClaimsAfterRetention: pending entries whose first records retention
// (here XTRIM's DeleteRecords) removed read back as gone, and the later
// ones, read with them, still with their fields.
func TestClaimsAfterRetention(t *testing.T) {
	// The readers start at a partition's end when an offset is gone, by
	// the server's default (the other tests read from the start).
	ts := startServer(t, func(c *server.Config) { c.Consumer["auto.offset.reset"] = "latest" })
	topic, group := newTopic(t, 1), uniqueName(t, "retained")
	c := ts.dial(t)
	c.expect("OK", "XGROUP", "CREATE", topic, group, "0")
	var ids []string
	for i := range 10 {
		ids = append(ids, c.do("XADD", topic, "*", "payload", fmt.Sprint("p", i)).Str)
	}
	readGroup(t, c, topic, group, "c", 10)
	c.expect("(integer) 5", "XTRIM", topic, "MINID", ids[5])
	r := c.do("XREADGROUP", "GROUP", group, "c", "STREAMS", topic, "0")
	entries := r.Elems[0].Elems[1].Elems
	if len(entries) != 10 {
		t.Fatalf("history XREADGROUP: %s", r)
	}
	for i, e := range entries {
		gone := e.Elems[1].Null
		if i < 5 && !gone {
			t.Errorf("entry %d (trimmed): %s, want no fields", i, e)
		}
		if i >= 5 && (gone || len(e.Elems[1].Elems) != 2 || e.Elems[1].Elems[1].Str != fmt.Sprint("p", i)) {
			t.Errorf("entry %d: %s, want its payload", i, e)
		}
	}
}

// TestXAddValueFirstIsAPlainRecord: an entry whose first field is
// "value" is written as a plain record (its value, its other pairs as
// headers, no marker), and reads back the same.
func TestXAddValueFirstIsAPlainRecord(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	id := c.do("XADD", topic, "*", "value", "v", "trace", "t-1").Str
	c.expect(fmt.Sprintf(`[["%s", ["value", "v", "trace", "t-1"]]]`, id), "XRANGE", topic, "-", "+")
	m := readAll(t, topic, 1)[0]
	if string(m.Value) != "v" || len(m.Headers) != 1 || m.Headers[0].Key != "trace" || string(m.Headers[0].Value) != "t-1" {
		t.Errorf("the record: value %q, headers %v; want v and trace=t-1 alone", m.Value, m.Headers)
	}
}

// TestStreamReadsBounded: the records one command reads from Kafka are
// bounded (64 MiB here): XRANGE refuses a range over it, XREAD and a
// history XREADGROUP return the first entries in ID order and go on from
// them. Before, XRANGE - + COUNT 100 over these 90 MB of entries read them
// all into memory, and COUNT 10000 over 1 MB records read 40 GB.
func TestStreamReadsBounded(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 4)
	const n, size = 100, 900 << 10
	for p := range int32(4) {
		values := make([]string, n/4)
		for i := range values {
			values[i] = strings.Repeat(string(rune('a'+p)), size)
		}
		produceDirect(t, topic, p, values...)
	}
	c := ts.dial(t)
	c.expect("(error) ERR the entries of this range take more than 64 MiB: give a smaller COUNT", "XRANGE", topic, "-", "+", "COUNT", "100")
	if r := c.do("XRANGE", topic, "-", "+", "COUNT", "10"); len(r.Elems) != 10 {
		t.Fatalf("XRANGE COUNT 10: %d entries", len(r.Elems))
	}

	// readAll loops a read passing back the last ID until it returns no
	// entry; the IDs must rise across the replies, and the first reply must
	// be cut short.
	readAll := func(what string, read func(last string) []rafkatest.Reply) (ids []string) {
		t.Helper()
		last, seen, replies := "0", 0, 0
		var prev streams.ID
		for {
			entries := read(last)
			if len(entries) == 0 {
				break
			}
			if replies++; replies == 1 && len(entries) >= n {
				t.Fatalf("%s: the first reply holds all %d entries", what, len(entries))
			}
			for _, e := range entries {
				id, err := streams.ParseID(e.Elems[0].Str, 0)
				if err != nil {
					t.Fatalf("%s: ID %q: %v", what, e.Elems[0].Str, err)
				}
				if seen > 0 && !prev.Less(id) {
					t.Fatalf("%s: %s after %s", what, e.Elems[0].Str, last)
				}
				if len(e.Elems[1].Elems) != 2 || len(e.Elems[1].Elems[1].Str) != size {
					t.Fatalf("%s: entry %s has fields %d", what, e.Elems[0].Str, len(e.Elems[1].Elems))
				}
				prev, last = id, e.Elems[0].Str
				ids = append(ids, last)
				seen++
			}
			if replies > 2*n {
				t.Fatalf("%s: %d replies", what, replies)
			}
		}
		if seen != n {
			t.Fatalf("%s: %d entries in %d replies, want %d", what, seen, replies, n)
		}
		return ids
	}
	readAll("XREAD", func(last string) []rafkatest.Reply {
		r := c.do("XREAD", "COUNT", "100", "STREAMS", topic, last)
		if r.Null {
			return nil
		}
		return r.Elems[0].Elems[1].Elems
	})

	group := uniqueName(t, "g")
	c.expect("OK", "XGROUP", "CREATE", topic, group, "0")
	for got := 0; got < n; {
		r := c.do("XREADGROUP", "GROUP", group, "c", "COUNT", "100", "BLOCK", "5000", "STREAMS", topic, ">")
		if r.Null {
			t.Fatalf("XREADGROUP >: nothing after %d entries", got)
		}
		got += len(r.Elems[0].Elems[1].Elems)
	}
	ids := readAll("history XREADGROUP", func(last string) []rafkatest.Reply {
		r := c.do("XREADGROUP", "GROUP", group, "c", "COUNT", "100", "STREAMS", topic, last)
		return r.Elems[0].Elems[1].Elems
	})

	// A claim whose reply cannot hold all its entries claims only those
	// it returns: the others stay as they were, and XAUTOCLAIM's cursor
	// starts at them.
	pendingOf := func(consumer string) int {
		r := c.do("XPENDING", topic, group)
		for _, e := range r.Elems[3].Elems {
			if e.Elems[0].Str == consumer {
				n, _ := strconv.Atoi(e.Elems[1].Str)
				return n
			}
		}
		return 0
	}
	args := append([]string{"XCLAIM", topic, group, "e", "0"}, ids...)
	// About 70 of these entries fit the budget; a claim should not read
	// far ahead of what it can return (before, 3 were returned).
	if r := c.do(args...); len(r.Elems) >= n || len(r.Elems) < 40 || pendingOf("e") != len(r.Elems) {
		t.Fatalf("XCLAIM of all %d: %d entries returned, %d pending with e", n, len(r.Elems), pendingOf("e"))
	}
	cursor, total := "0-0", 0
	for round := 0; ; round++ {
		r := c.do("XAUTOCLAIM", topic, group, "d", "0", cursor, "COUNT", "100")
		got := len(r.Elems[1].Elems)
		total += got
		if round == 0 && got >= n {
			t.Fatalf("the first XAUTOCLAIM returned all %d", got)
		}
		if pendingOf("d") != total {
			t.Fatalf("XAUTOCLAIM round %d: %d entries returned in all, %d pending with d", round, total, pendingOf("d"))
		}
		if cursor = r.Elems[0].Str; cursor == "0-0" {
			break
		}
		if round > n {
			t.Fatalf("XAUTOCLAIM: %d rounds", round)
		}
	}
	if total != n {
		t.Fatalf("XAUTOCLAIM returned %d entries in all, want %d", total, n)
	}
}

// TestStreamMembersPerUser: one ACL user's groups hold at most a quarter
// of --stream-max-members (here 8: 2 each), so that another tenant still
// gets members; before, alice could take them all and bob's first
// XREADGROUP failed.
func TestStreamMembersPerUser(t *testing.T) {
	topic := newTopic(t, 1)
	prefix := uniqueName(t, "share")
	user := func(name string) string {
		return `"` + name + `": {"password": "` + acl.HashPassword("pw") + `", "consume": ["` + topic + `"], "groups": ["` + prefix + `-` + name + `-*"]}`
	}
	list, err := acl.Parse([]byte(`{"users": {` + user("alice") + `, ` + user("bob") + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) {
		c.ACL = list
		c.Settings.StreamMaxMembers = 8
		c.Settings.StreamMemberIdle = 0 // no sweep
	})
	read := func(c *respConn, name string, i int) rafkatest.Reply {
		group := fmt.Sprint(prefix, "-", name, "-", i)
		c.expect("OK", "XGROUP", "CREATE", topic, group, "$")
		return c.do("XREADGROUP", "GROUP", group, "c", "BLOCK", "10", "STREAMS", topic, ">")
	}
	alice, bob := ts.dial(t), ts.dial(t)
	alice.expect("OK", "AUTH", "alice", "pw")
	bob.expect("OK", "AUTH", "bob", "pw")
	for i := range 2 {
		if r := read(alice, "alice", i); !r.Null {
			t.Fatalf("alice's group %d: %s", i, r)
		}
	}
	if r := read(alice, "alice", 2); !r.IsErr("ERR too many stream group members for this user on this rafka (at most 2 groups and topic sets)") {
		t.Fatalf("alice's third group: %s", r)
	}
	if r := read(bob, "bob", 0); !r.Null {
		t.Fatalf("bob's group: %s", r)
	}
}
