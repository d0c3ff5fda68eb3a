package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestTopicKeyPops: a key without the topics: prefix names a topic, and
// BLPOP and BRPOP on it reply as Redis does, [<topic>:<partition>:<offset>,
// value]; that key acked with RPUSH acks commits the message; the classic
// reply is unchanged on topics: keys; the two kinds do not mix.
func TestTopicKeyPops(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	produceDirect(t, topic, 0, "p0-a", "p0-b")
	produceDirect(t, topic, 1, "p1-a")
	group := uniqueName(t, "g")
	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", group+":w")
	got := map[string]string{}
	for _, cmd := range []string{"BLPOP", "BRPOP", "BLPOP"} {
		r := c.do(cmd, topic, "10")
		if r.Kind != '*' || len(r.Elems) != 2 || r.Elems[0].Kind != '$' || r.Elems[1].Kind != '$' {
			t.Fatalf("%s %s: %s, want [key, value]", cmd, topic, r)
		}
		got[r.Elems[0].Str] = r.Elems[1].Str
		c.expect("(integer) 1", "RPUSH", "acks", r.Elems[0].Str)
	}
	want := map[string]string{topic + ":0:0": "p0-a", topic + ":0:1": "p0-b", topic + ":1:0": "p1-a"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pops %v, want %v", got, want)
	}
	c.expect("(nil)", "BLPOP", topic, "0.2")
	// The classic key names the same topic set: same consumer, classic reply.
	produceDirect(t, topic, 1, "classic")
	if m := asMessage(t, c.do("BLPOP", "topics:"+topic, "10")); m.value != "classic" {
		t.Fatalf("classic BLPOP: %+v", m)
	}
	c.expect("(error) CONS A blocking pop takes either 'topics:' keys or topic keys, not both", "BLPOP", topic, "topics:"+topic, "1")
	c.expect("OK", "QUIT")
	waitFor(t, 20*time.Second, "the acks committed", func() bool {
		off := committed(t, group, topic, 2)
		return off[0] == 2 && off[1] == 1
	})
}

// TestTopicKeysGoRedis: go-redis's typed BLPop and BRPop, with the
// connection named by its ClientName option, consume and ack unmodified.
func TestTopicKeysGoRedis(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	produceDirect(t, topic, 0, "one", "two")
	group := uniqueName(t, "g")
	for _, proto := range []int{2, 3} {
		rdb := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: proto, ClientName: group + ":w" + strconv.Itoa(proto), PoolSize: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		pop := rdb.BLPop
		if proto == 3 {
			pop = rdb.BRPop
		}
		kv, err := pop(ctx, 10*time.Second, topic).Result()
		if err != nil || len(kv) != 2 || !strings.HasPrefix(kv[0], topic+":0:") {
			t.Fatalf("RESP%d typed pop: %q %v", proto, kv, err)
		}
		if n, err := rdb.RPush(ctx, "acks", kv[0]).Result(); err != nil || n != 1 {
			t.Fatalf("RESP%d RPush acks %s: %d %v", proto, kv[0], n, err)
		}
		cancel()
		rdb.Close()
		waitFor(t, 20*time.Second, "the connection's consumer gone", func() bool { return len(assignment(t, group)) == 0 })
	}
	off := committed(t, group, topic, 1)
	if off[0] != 2 {
		t.Fatalf("committed %v, want 2: both typed pops acked", off)
	}
}
