package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"rafka/config"
)

// TestBLPOPTimeouts: seconds like Redis; 0 blocks until a message; a
// decimal is honoured; negative or garbage is an error, never a crash.
func TestBLPOPTimeouts(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", "timeouts:w")
	key := "topics:" + topic

	for _, bad := range []string{"-1", "abc", "nan", "inf", "1e400", ""} {
		c.expect("(error) ERR timeout is not a float or out of range", "BLPOP", key, bad)
	}
	// The first BLPOP creates the consumer; wait until the group formed.
	waitFor(t, 20*time.Second, "group formed", func() bool {
		c.do("BLPOP", key, "0.1")
		return len(assignment(t, "timeouts")) == 1
	})

	start := time.Now()
	if r := c.do("BLPOP", key, "0.3"); !r.Null {
		t.Fatalf("BLPOP 0.3 on an empty topic: %s", r)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
		t.Errorf("BLPOP 0.3 returned after %v", el)
	}

	produced := make(chan error, 1)
	go func() {
		time.Sleep(time.Second)
		produced <- produceValues(topic, 0, "late")
	}()
	start = time.Now()
	m := asMessage(t, c.do("BLPOP", key, "0"))
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if m.value != "late" || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("BLPOP 0 got %+v after %v", m, time.Since(start))
	}
	if got := ts.stat(t, "blpop.timeouts"); got == "0" {
		t.Errorf("blpop.timeouts = %s after a timeout", got)
	}
	c.expect("PONG", "PING")
}

// TestConsumeAndAck covers the basic at-least-once loop and the ack rules:
// acks store offset+1, never move backwards, and are committed on close.
func TestConsumeAndAck(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	group := uniqueName(t, "g")
	values := []string{"m0", "m1", "m2", "m3", "m4", "m5"}
	produceDirect(t, topic, 0, values...)

	c := ts.dial(t)
	c.expect("(error) CONS Connection not ready. Identify yourself using `CLIENT SETNAME` first", "BLPOP", "topics:"+topic, "1")
	c.expect("OK", "CLIENT", "SETNAME", group+":w1")
	c.expect("(error) CONS No consumer registered for Client "+group+":w1", "RPUSH", "acks", topic+":0:0")
	got := popN(t, c, "topics:"+topic, len(values), 30*time.Second)
	for i, m := range got {
		if m.value != values[i] || m.offset != int64(i) || m.topic != topic || m.partition != 0 {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	// Several acks in one command, each counted; then a lower one is
	// accepted but does not move the offset back.
	c.expect("(integer) 2", "RPUSH", "acks", got[2].ack(), got[4].ack())
	c.expect("(integer) 1", "RPUSH", "ACKS", got[1].ack())
	c.expect("(error) CONS Cannot parse ack: 'nonsense'", "RPUSH", "acks", got[0].ack(), "nonsense")
	c.expect("(error) CONS Cannot parse ack: '"+topic+":0:-1'", "RPUSH", "acks", topic+":0:-1")
	c.expect("(error) CONS Partition other:0 is not assigned to this consumer", "RPUSH", "acks", "other:0:1")
	c.expect("(error) CONS You can only RPUSH to the 'acks' key", "RPUSH", "nothing", "x")
	c.expect("OK", "QUIT")

	waitFor(t, 15*time.Second, "offset 5 committed on close", func() bool {
		return committed(t, group, topic, 1)[0] == 5
	})

	// Reconnecting with the same name resumes after the acked offset:
	// m5 (never acked) comes again, the acked ones do not.
	c2 := ts.dial(t)
	c2.expect("OK", "CLIENT", "SETNAME", group+":w1")
	m := popN(t, c2, "topics:"+topic, 1, 30*time.Second)[0]
	if m.value != "m5" || m.offset != 5 {
		t.Fatalf("after reconnect got %+v, want m5 at offset 5", m)
	}
	if got := ts.stat(t, "consumer.acks"); got != "3" {
		t.Errorf("consumer.acks = %s, want 3", got)
	}
}

// TestAckSeveralPartitions: one RPUSH acks with acks of two partitions
// (the lower one of a partition after its higher one) and an ack the
// consumer does not own stores each partition's highest offset and
// answers the refused ack's error.
func TestAckSeveralPartitions(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	group := uniqueName(t, "g")
	produceDirect(t, topic, 0, "a0", "a1", "a2")
	produceDirect(t, topic, 1, "b0", "b1", "b2")
	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", group+":w1")
	got := popN(t, c, "topics:"+topic, 6, 30*time.Second)
	at := map[string]message{}
	for _, m := range got {
		at[m.value] = m
	}
	c.expect("(integer) 3", "RPUSH", "acks", at["a1"].ack(), at["b2"].ack(), at["a0"].ack())
	c.expect("(error) CONS Partition other:0 is not assigned to this consumer", "RPUSH", "acks", at["a2"].ack(), "other:0:1", at["b0"].ack())
	c.expect("OK", "QUIT")
	waitFor(t, 15*time.Second, "offsets 3 and 3 committed on close", func() bool {
		o := committed(t, group, topic, 2)
		return o[0] == 3 && o[1] == 3
	})
	if got := ts.stat(t, "consumer.acks"); got != "5" {
		t.Errorf("consumer.acks = %s, want 5", got)
	}
}

// TestRedeliveryAfterDisconnect: messages a consumer received but did not
// ack go to the next member after it disconnects.
func TestRedeliveryAfterDisconnect(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	group := uniqueName(t, "g")
	produceDirect(t, topic, 0, "a0", "a1")
	produceDirect(t, topic, 1, "b0")

	first := ts.dial(t)
	first.expect("OK", "CLIENT", "SETNAME", group+":first")
	seen := popN(t, first, "topics:"+topic, 3, 30*time.Second)
	first.conn.Close() // no acks

	second := ts.dial(t)
	second.expect("OK", "CLIENT", "SETNAME", group+":second")
	again := popN(t, second, "topics:"+topic, 3, 40*time.Second)
	if a, b := valuesOf(seen), valuesOf(again); a != b {
		t.Fatalf("redelivered %s, first saw %s", b, a)
	}
}

// TestGroupSplitAndRebalance: two members of one group split the
// partitions; an ack for a partition lost in a rebalance is refused.
func TestGroupSplitAndRebalance(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 4)
	group := uniqueName(t, "g")
	key := "topics:" + topic
	for p := int32(0); p < 4; p++ {
		produceDirect(t, topic, p, fmt.Sprintf("early-%d", p))
	}

	a := ts.dial(t)
	a.expect("OK", "CLIENT", "SETNAME", group+":a")
	early := popN(t, a, key, 4, 30*time.Second) // a owns all four partitions

	b := ts.dial(t)
	b.expect("OK", "CLIENT", "SETNAME", group+":b")
	b.do("BLPOP", key, "0.1")
	var split map[string][]int32
	waitFor(t, 30*time.Second, "both members own partitions", func() bool {
		split = assignment(t, group)
		return len(split["a"]) > 0 && len(split["b"]) > 0 && len(split["a"])+len(split["b"]) == 4
	})
	owned := map[int64]string{}
	for member, parts := range split {
		for _, p := range parts {
			owned[int64(p)] = member
		}
	}

	// a's acks for partitions now owned by b are refused.
	for _, m := range early {
		want := "(integer) 1"
		if owned[m.partition] == "b" {
			want = fmt.Sprintf("(error) CONS Partition %s:%d is not assigned to this consumer", topic, m.partition)
		}
		a.expect(want, "RPUSH", "acks", m.ack())
	}

	// New messages go to each partition's owner only.
	for p := int32(0); p < 4; p++ {
		produceDirect(t, topic, p, fmt.Sprintf("late-%d", p))
	}
	got := map[string][]message{}
	deadline := time.Now().Add(40 * time.Second)
	for total := 0; total < 4+len(split["b"]); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; got %v", got)
		}
		for name, c := range map[string]*respConn{"a": a, "b": b} {
			r := c.do("BLPOP", key, "0.2")
			if r.Null {
				continue
			}
			m := asMessage(t, r)
			got[name] = append(got[name], m)
			total++
			if owned[m.partition] != name {
				t.Fatalf("%s received %+v from a partition owned by %s", name, m, owned[m.partition])
			}
		}
	}
	// b received the early messages of its partitions again (a never acked
	// them successfully) and the late ones.
	for _, m := range got["b"] {
		if !strings.HasPrefix(m.value, "early-") && !strings.HasPrefix(m.value, "late-") {
			t.Errorf("unexpected message %+v", m)
		}
	}
}

// TestMultiKeyBLPOP: several keys and comma-separated topic lists subscribe
// to their union; a different topic set later is refused.
func TestMultiKeyBLPOP(t *testing.T) {
	ts := startServer(t)
	t1, t2, t3 := newTopic(t, 1), newTopic(t, 1), newTopic(t, 1)
	produceDirect(t, t1, 0, "one")
	produceDirect(t, t2, 0, "two")
	produceDirect(t, t3, 0, "three")
	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	got := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		r := c.do("BLPOP", "topics:"+t1, "topics:"+t2+","+t3, "1")
		if !r.Null {
			got[asMessage(t, r).value] = true
		}
	}
	if len(got) != 3 {
		t.Fatalf("got %v from three topics", got)
	}
	r := c.do("BLPOP", "topics:"+t1, "1")
	if !r.IsErr("CONS Client '") || !strings.Contains(r.Str, "registered (new consID: '") {
		t.Fatalf("different topic set: %s", r)
	}
	// A key without the prefix is a topic key (TestTopicKeyPops): it must
	// be a topic name.
	c.expect("(error) CONS Cannot parse topics from `no pe`", "BLPOP", "no pe", "1")
	c.expect("(error) CONS Cannot parse topics from `^nope`", "BLPOP", "^nope", "1")
	c.expect("(error) CONS Cannot parse topics from `topics:a,,b`", "BLPOP", "topics:a,,b", "1")
	// librdkafka would take '^...' as a regular expression: not a topic.
	c.expect("(error) CONS Cannot parse topics from `topics:^.*`", "BLPOP", "topics:^.*", "1")
	c.expect("(error) CONS Cannot parse topics from `topics:a b`", "BLPOP", "topics:a b", "1")
}

// TestConsumerConfig: the per-connection JSON is applied; errors carry
// librdkafka's reason; auto.offset.reset=latest skips old messages.
func TestConsumerConfig(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	produceDirect(t, topic, 0, "old-1", "old-2")

	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	c.expect("(error) CONS Error parsing configuration from '{bad'; invalid character 'b' looking for beginning of object key string",
		"BLPOP", "topics:"+topic+":{bad", "1")
	// Only the allow-list: where the consumer connects, with which
	// credentials, and what librdkafka loads, logs or reports is the
	// server's business, and so is any property it does not know.
	allowed := strings.Join(config.ClientPropertyNames(), ", ")
	for _, prop := range []string{`"statistics.interval.ms":1`, `"bootstrap.servers":"evil.example:9092"`,
		`"sasl.username":"me"`, `"plugin.library.paths":"/tmp/x.so"`, `"debug":"all"`, `"no.such.property":"1"`} {
		name, _, _ := strings.Cut(strings.Trim(prop, `"`), `"`)
		c.expect(fmt.Sprintf(`(error) CONS Error parsing configuration from '{%s}'; %q may not be set per connection (allowed: %s)`, prop, name, allowed),
			"BLPOP", `topics:`+topic+`:{`+prop+`}`, "1")
	}
	// An allowed property librdkafka itself refuses: its reason.
	r := c.do("BLPOP", `topics:`+topic+`:{"session.timeout.ms":60000,"max.poll.interval.ms":1000}`, "1")
	if !r.IsErr("CONS Failed to create consumer: ") || !strings.Contains(r.Str, "max.poll.interval.ms") {
		t.Fatalf("a combination librdkafka refuses: %s", r)
	}
	key := `topics:` + topic + `:{"auto.offset.reset":"latest"}`
	if r := c.do("BLPOP", key, "2"); !r.Null {
		t.Fatalf("latest must skip old messages, got %s", r)
	}
	var m message
	waitFor(t, 30*time.Second, "a new message", func() bool {
		produceDirect(t, topic, 0, "new")
		r := c.do("BLPOP", key, "1")
		if r.Null {
			return false
		}
		m = asMessage(t, r)
		return true
	})
	if m.value != "new" {
		t.Fatalf("latest consumer received %+v", m)
	}
}

// TestSubscribeMissingTopic: a topic that does not exist yet is not an
// error; messages arrive once it is created.
func TestSubscribeMissingTopic(t *testing.T) {
	ts := startServer(t)
	topic := uniqueName(t, "later")
	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	if r := c.do("BLPOP", "topics:"+topic, "1"); !r.Null {
		t.Fatalf("BLPOP on a missing topic: %s", r)
	}
	createTopic(t, topic, 1)
	produceDirect(t, topic, 0, "hello")
	m := popN(t, c, "topics:"+topic, 1, 60*time.Second)[0]
	if m.value != "hello" {
		t.Fatalf("got %+v", m)
	}
}

// TestManyMessagesNoGapsNoDuplicates: a backlog larger than the consumer's
// buffer (so fetching pauses and resumes) arrives complete and in order.
func TestManyMessagesNoGapsNoDuplicates(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	const n = 3000
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("v%05d", i)
	}
	produceDirect(t, topic, 0, values...)
	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	got := popN(t, c, "topics:"+topic, 10, 30*time.Second)
	waitFor(t, 30*time.Second, "the full buffer to pause fetching", func() bool {
		return ts.stat(t, "consumer.fetch.pauses") != "0"
	})
	got = append(got, popN(t, c, "topics:"+topic, n-10, 60*time.Second)...)
	for i, m := range got {
		if m.offset != int64(i) || m.value != values[i] {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
}

func valuesOf(ms []message) string {
	v := make([]string, len(ms))
	for i, m := range ms {
		v[i] = m.value
	}
	sort.Strings(v)
	return strings.Join(v, ",")
}
