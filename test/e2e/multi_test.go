package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/redis/go-redis/v9"
)

// readCommitted reads topic from the start as a read_committed consumer
// until the value marker has arrived markers times (once in each partition
// it was produced to), and returns the other values read.
func readCommitted(t *testing.T, topic, marker string, markers int) []string {
	t.Helper()
	c, _ := assignedReader(t, topic, kafka.ConfigMap{"isolation.level": "read_committed"})
	defer c.Close()
	var out []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		m, ok := c.Poll(100).(*kafka.Message)
		if !ok {
			continue
		}
		if string(m.Value) == marker {
			if markers--; markers == 0 {
				return out
			}
			continue
		}
		out = append(out, string(m.Value))
	}
	t.Fatalf("marker %q not read from %s; read %q", marker, topic, out)
	return nil
}

// TestMultiExec: MULTI queues (+QUEUED), EXEC runs the queue with its
// produce commands as one Kafka transaction and replies with every
// command's reply; read_committed consumers see a committed transaction
// whole and an aborted or discarded one not at all.
func TestMultiExec(t *testing.T) {
	ts := startServer(t)
	t1, t2 := newTopic(t, 2), newTopic(t, 1)
	c := ts.dial(t)

	c.expect("OK", "MULTI")
	c.expect("QUEUED", "PING")
	c.expect("QUEUED", "RPUSHX", "topics:"+t1, "a", "b")
	c.expect("QUEUED", "RPUSH", "topics:"+t2+":k", "c")
	c.expect("QUEUED", "ECHO", "done")
	c.expect(`[PONG, (integer) 2, (integer) 1, "done"]`, "EXEC")

	// A command refused while queuing discards the transaction.
	c.expect("OK", "MULTI")
	c.expect("QUEUED", "RPUSHX", "topics:"+t1, "refused-1")
	c.expect("(error) ERR unknown command 'NOSUCH', with args beginning with: ", "NOSUCH")
	c.expect("(error) EXECABORT Transaction discarded because of previous errors.", "EXEC")
	c.expect("OK", "MULTI")
	c.expect("QUEUED", "RPUSHX", "topics:"+t1, "refused-2")
	c.expect("(error) CONS Consume commands are not allowed inside MULTI", "BLPOP", t1, "1")
	c.expect("(error) CONS Consume commands are not allowed inside MULTI", "RPUSH", "acks", t1+":0:0")
	c.expect("(error) ERR Command not allowed inside a transaction", "DUMP", "100")
	c.expect("(error) PROD First argument must be in the form of 'topics:<topic>' or 'topics:<topic>:<key>'", "RPUSHX", "nokey", "v")
	c.expect("(error) EXECABORT Transaction discarded because of previous errors.", "EXEC")
	// DISCARD drops the queue.
	c.expect("OK", "MULTI")
	c.expect("QUEUED", "RPUSHX", "topics:"+t1, "discarded")
	c.expect("OK", "DISCARD")
	// A topic that does not exist is refused while queuing.
	missing := uniqueName(t, "missing")
	c.expect("OK", "MULTI")
	c.expect("QUEUED", "RPUSHX", "topics:"+t1, "refused-3")
	c.expect("(error) PROD Local: Unknown topic", "RPUSHX", "topics:"+missing, "nowhere")
	c.expect("(error) EXECABORT Transaction discarded because of previous errors.", "EXEC")
	// A transaction Kafka refuses (a message over message.max.bytes) is
	// EXEC's error, and its other messages are aborted too.
	c.expect("OK", "MULTI")
	c.expect("QUEUED", "RPUSHX", "topics:"+t1, "aborted")
	c.expect("QUEUED", "RPUSHX", "topics:"+t1, strings.Repeat("x", 1100000))
	if r := c.do("EXEC"); !r.IsErr("PROD transaction aborted: ") {
		t.Errorf("EXEC of a transaction with a message over message.max.bytes: %s", r)
	}
	// The queue is bounded: many empty arguments are not free.
	c.expect("OK", "MULTI")
	empties := append([]string{"EXISTS"}, make([]string, 600000)...)
	if r := c.do(empties...); !r.IsErr("ERR transaction too large") {
		t.Errorf("600000 empty arguments queued: %s", r)
	}
	for range 100 {
		c.send("PING")
	}
	for range 100 {
		c.read(10 * time.Second)
	}
	c.expect("(error) ERR transaction too large: at most 10000 commands (100 of them not produce commands), 16777216 bytes and 10000 messages", "PING")
	c.expect("(error) EXECABORT Transaction discarded because of previous errors.", "EXEC")
	// The control commands' errors, as Redis words them.
	c.expect("(error) ERR EXEC without MULTI", "EXEC")
	c.expect("(error) ERR DISCARD without MULTI", "DISCARD")
	c.expect("OK", "UNWATCH")
	if r := c.do("WATCH", t1); !r.IsErr("ERR WATCH is not supported") {
		t.Errorf("WATCH: %s", r)
	}
	c.expect("OK", "MULTI")
	c.expect("(error) ERR MULTI calls can not be nested", "MULTI")
	c.expect("(error) ERR WATCH inside MULTI is not allowed", "WATCH", t1)
	c.expect("[]", "EXEC") // neither error aborts, as in Redis

	// A marker in each partition bounds what the reader must have seen.
	produceDirect(t, t1, 0, "marker")
	produceDirect(t, t1, 1, "marker")
	got := readCommitted(t, t1, "marker", 2)
	slices.Sort(got) // two partitions
	if strings.Join(got, ",") != "a,b" {
		t.Errorf("read_committed %s before the marker: %q, want a and b only", t1, got)
	}
	c.expect("(integer) 1", "RPUSH", "topics:"+t2, "marker")
	if got := readCommitted(t, t2, "marker", 1); strings.Join(got, ",") != "c" {
		t.Errorf("read_committed %s: %q", t2, got)
	}
	if ts.stat(t, "transactions.committed") != "1" || ts.stat(t, "transactions.aborted") != "1" {
		t.Errorf("transactions committed %s, aborted %s", ts.stat(t, "transactions.committed"), ts.stat(t, "transactions.aborted"))
	}
}

// TestMultiExecGoRedis: go-redis's TxPipelined (MULTI ... EXEC) produces
// through a Kafka transaction.
func TestMultiExecGoRedis(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: 3})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPushX(ctx, "topics:"+topic, "x", "y")
		p.RPushX(ctx, "topics:"+topic+":key", "z")
		return nil
	})
	if err != nil || len(cmds) != 2 {
		t.Fatalf("TxPipelined: %v %v", cmds, err)
	}
	if n := cmds[0].(*redis.IntCmd).Val() + cmds[1].(*redis.IntCmd).Val(); n != 3 {
		t.Errorf("TxPipelined replies %v", cmds)
	}
	if err := rdb.RPush(ctx, "topics:"+topic, "marker").Err(); err != nil {
		t.Fatal(err)
	}
	if got := readCommitted(t, topic, "marker", 1); strings.Join(got, ",") != "x,y,z" {
		t.Errorf("read_committed: %q", got)
	}
}
