package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStats: HGETALL stats lists the classic fields first, counts what
// happened, answers a RESP3 map after HELLO 3; DEL stats resets.
func TestStats(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	c.expect("(integer) 2", "RPUSH", "topics:"+topic, "a", "b")
	r := c.do("HGETALL", "stats")
	if r.Kind != '*' || len(r.Elems) < 6 {
		t.Fatalf("HGETALL stats: %s", r)
	}
	for i, want := range []string{"producer.unflushed.messages", "producer.delivery.errors", "producer.unknown.events"} {
		if r.Elems[2*i].Str != want {
			t.Errorf("field %d = %s, want %s", i, r.Elems[2*i].Str, want)
		}
	}
	for i := 1; i < len(r.Elems); i += 2 {
		if r.Elems[i].Kind != '$' {
			t.Fatalf("value of %s is not a bulk string: %s", r.Elems[i-1].Str, r.Elems[i])
		}
	}
	s := r.Pairs()
	for field, want := range map[string]string{"producer.messages": "2", "producer.delivered": "2", "producers.current": "1", "connections.current": "1"} {
		if s[field] != want {
			t.Errorf("%s = %s, want %s", field, s[field], want)
		}
	}
	c.expect("(error) ERR Expected key to be 'stats', got nope", "HGETALL", "nope")
	c.expect("(error) ERR Expected key to be 'stats', got other", "DEL", "stats", "other")
	c.expect("(integer) 1", "DEL", "stats")
	after := c.do("HGETALL", "stats").Pairs()
	if after["producer.messages"] != "0" || after["producers.current"] != "1" {
		t.Errorf("after DEL stats: messages=%s producers.current=%s", after["producer.messages"], after["producers.current"])
	}
	c.do("HELLO", "3")
	if m := c.do("HGETALL", "stats"); m.Kind != '%' || m.Pairs()["producer.unflushed.messages"] != "0" {
		t.Errorf("RESP3 HGETALL stats: %s", m)
	}
}

// TestKeys: KEYS topics:<glob> lists matching topics, hides internal ones
// and creates no producer.
func TestKeys(t *testing.T) {
	ts := startServer(t)
	prefix := uniqueName(t, "k")
	for _, suffix := range []string{"a1", "a2", "b1"} {
		createTopic(t, prefix+"-"+suffix, 1)
	}
	c := ts.dial(t)
	c.expect(fmt.Sprintf(`["topics:%[1]s-a1", "topics:%[1]s-a2"]`, prefix), "KEYS", "topics:"+prefix+"-a*")
	c.expect(fmt.Sprintf(`["topics:%s-b1"]`, prefix), "KEYS", "topics:"+prefix+"-b?")
	c.expect(fmt.Sprintf(`["topics:%s-a2"]`, prefix), "KEYS", "topics:"+prefix+"-[ab]2")
	c.expect(fmt.Sprintf(`["topics:%s-b1"]`, prefix), "KEYS", "topics:"+prefix+"-[^a]1")
	all := c.do("KEYS", "topics:").String()
	if !strings.Contains(all, prefix+"-b1") || strings.Contains(all, "__consumer_offsets") {
		t.Errorf("KEYS topics: = %s", all)
	}
	c.expect("(error) ERR Expected argument to be 'topics:', got *", "KEYS", "*")
	if got := ts.stat(t, "producers.created"); got != "0" {
		t.Errorf("KEYS created %s producers", got)
	}
}

// TestMonitor: a monitor sees other connections' commands, named by the
// issuer's address, quoted and escaped, long payloads truncated.
func TestMonitor(t *testing.T) {
	ts := startServer(t)
	mon := ts.dial(t)
	mon.expect("OK", "MONITOR")
	issuer := ts.dial(t)
	info := issuer.do("CLIENT", "INFO").Str
	addr := strings.Fields(info)[1] // addr=...
	addr = strings.TrimPrefix(addr, "addr=")
	issuer.expect(`"a \"b\"\n"`, "ECHO", "a \"b\"\n")
	issuer.do("ECHO", strings.Repeat("x", 300))

	want := []string{
		`[0 ` + addr + `] "CLIENT" "INFO"`,
		`[0 ` + addr + `] "ECHO" "a \"b\"\n"`,
		`[0 ` + addr + `] "ECHO" "` + strings.Repeat("x", 256) + `"...(44 more bytes)`,
	}
	for _, w := range want {
		r := mon.read(5 * time.Second)
		if r.Kind != '+' || !strings.HasSuffix(r.Str, w) {
			t.Fatalf("monitor line %q, want suffix %q", r.Str, w)
		}
		ts := strings.Fields(r.Str)[0]
		if len(ts) < 17 || ts[10] != '.' {
			t.Errorf("timestamp %q is not <unix>.<micro>", ts)
		}
	}
	mon.expect("PONG", "PING")
	mon.expect("OK", "QUIT")
}
