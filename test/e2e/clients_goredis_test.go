package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClientGoRedis drives rafka with github.com/redis/go-redis/v9, the way a
// Go application would: produce, consume in a group, ack, read stats, and
// reconnect with the same client name, over RESP2 and RESP3.
//
// On every new connection go-redis v9.23 sends HELLO <proto> SETNAME <name>,
// then (pipelined) CLIENT SETNAME <name>, with RESP3 also
// CLIENT MAINT_NOTIFICATIONS ON ... (allowed to fail: it then disables the
// feature), then CLIENT SETINFO LIB-NAME / LIB-VER. So the name is sent twice
// per connection and again on every reconnect: all of that must be accepted.
func TestClientGoRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			testGoRedis(t, proto)
		})
	}
}

// goRedisMessage is a decoded go-redis BLPOP reply.
type goRedisMessage struct {
	topic     string
	partition int64
	offset    int64
	value     string
}

func (m goRedisMessage) ack() string { return fmt.Sprintf("%s:%d:%d", m.topic, m.partition, m.offset) }

func testGoRedis(t *testing.T, proto int) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	group := uniqueName(t, "g")
	name := group + ":gomember"
	key := "topics:" + topic
	ctx := t.Context()

	// newClient opens a go-redis client with one pooled connection.
	// pipelinePool < 0 makes pipelines run on that same connection (go-redis
	// v9.23 otherwise gives pipelines a dedicated pool, that is another
	// connection, which for a named consumer means another SETNAME of the
	// same id).
	newClient := func(clientName string, pipelinePool int) *redis.Client {
		t.Helper()
		c := redis.NewClient(&redis.Options{
			Addr:             ts.addr,
			Protocol:         proto,
			ClientName:       clientName,
			PoolSize:         1,
			PipelinePoolSize: pipelinePool,
			MaxRetries:       2,
		})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	// Producer: an anonymous client.
	prod := newClient("", 0)
	if got, err := prod.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING: %q, %v", got, err)
	}
	// The handshake's HELLO really switched the protocol: HGETALL is a flat
	// array in RESP2 and a map in RESP3.
	raw, err := prod.Do(ctx, "HGETALL", "stats").Result()
	if err != nil {
		t.Fatalf("HGETALL stats: %v", err)
	}
	switch raw.(type) {
	case []interface{}:
		if proto != 2 {
			t.Errorf("RESP%d: HGETALL stats came back as an array, want a map", proto)
		}
	case map[interface{}]interface{}:
		if proto != 3 {
			t.Errorf("RESP%d: HGETALL stats came back as a map, want an array", proto)
		}
	default:
		t.Errorf("HGETALL stats: unexpected reply type %T", raw)
	}

	if n, err := prod.RPushX(ctx, key, "v1").Result(); err != nil || n != 1 {
		t.Fatalf("RPUSHX %s v1: %d, %v (want 1)", key, n, err)
	}
	if n, err := prod.Do(ctx, "RPUSHX", key+":key-a", "a1", "a2").Int64(); err != nil || n != 2 {
		t.Fatalf("RPUSHX %s:key-a a1 a2: %d, %v (want 2)", key, n, err)
	}
	if err := prod.RPushX(ctx, "nottopics", "x").Err(); err == nil ||
		err.Error() != "PROD First argument must be in the form of 'topics:<topic>' or 'topics:<topic>:<key>'" {
		t.Errorf("RPUSHX to a non-topic key: got %v", err)
	}
	if n, err := prod.Do(ctx, "DUMP", 10000).Int64(); err != nil || n != 0 {
		t.Fatalf("DUMP 10000: %d, %v (want 0 undelivered)", n, err)
	}

	// Consumer: a named client; every command below must run on its one
	// pooled connection, which owns the consumer.
	cons := newClient(name, -1)
	if got, err := cons.ClientGetName(ctx).Result(); err != nil || got != name {
		t.Fatalf("CLIENT GETNAME: %q, %v (want %q)", got, err, name)
	}
	connID, err := cons.ClientID(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT ID: %v", err)
	}

	// The name is taken while that connection lives.
	dup := newClient(name, 0)
	if err := dup.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "CONS id "+name+" is already taken") {
		t.Errorf("second client with the live name %q: got %v, want CONS id ... is already taken", name, err)
	}
	_ = dup.Close()

	calls, timeouts := 0, 0
	pop := func(c *redis.Client, n int) []goRedisMessage {
		t.Helper()
		var out []goRedisMessage
		deadline := time.Now().Add(30 * time.Second)
		for len(out) < n {
			if time.Now().After(deadline) {
				t.Fatalf("got %d of %d messages from %s: %v", len(out), n, key, out)
			}
			calls++
			res, err := c.BLPop(ctx, time.Second, key).Result()
			if errors.Is(err, redis.Nil) {
				timeouts++
				continue
			}
			if err != nil {
				t.Fatalf("BLPOP %s 1: %v", key, err)
			}
			out = append(out, parseGoRedisMessage(t, res))
		}
		return out
	}

	msgs := pop(cons, 3)
	var values []string
	byValue := map[string]goRedisMessage{}
	for _, m := range msgs {
		if m.topic != topic {
			t.Errorf("message %v: topic %q, want %q", m, m.topic, topic)
		}
		if m.partition < 0 || m.partition > 1 {
			t.Errorf("message %v: partition out of range", m)
		}
		values = append(values, m.value)
		byValue[m.value] = m
	}
	slices.Sort(values)
	if !slices.Equal(values, []string{"a1", "a2", "v1"}) {
		t.Fatalf("consumed values %v, want [a1 a2 v1]", values)
	}
	if a1, a2 := byValue["a1"], byValue["a2"]; a1.partition != a2.partition || a2.offset != a1.offset+1 {
		t.Errorf("same-key messages: a1 at %d/%d, a2 at %d/%d; want the same partition, consecutive offsets",
			a1.partition, a1.offset, a2.partition, a2.offset)
	}

	// Ack in a pipeline; it shares the consumer's connection.
	acks := make([]interface{}, len(msgs))
	for i, m := range msgs {
		acks[i] = m.ack()
	}
	var ackCmd *redis.IntCmd
	var idCmd *redis.IntCmd
	if _, err := cons.Pipelined(ctx, func(p redis.Pipeliner) error {
		ackCmd = p.RPush(ctx, "acks", acks...)
		idCmd = p.ClientID(ctx)
		return nil
	}); err != nil {
		t.Fatalf("pipeline RPUSH acks + CLIENT ID: %v", err)
	}
	if n := ackCmd.Val(); n != 3 {
		t.Errorf("RPUSH acks %v: %d, want 3", acks, n)
	}
	if id := idCmd.Val(); id != connID {
		t.Errorf("pipeline ran on connection %d, want the consumer's connection %d", id, connID)
	}
	if err := cons.RPush(ctx, "acks", "nope").Err(); err == nil || err.Error() != "CONS Cannot parse ack: 'nope'" {
		t.Errorf("RPUSH acks nope: got %v, want CONS Cannot parse ack: 'nope'", err)
	}

	// Nothing left: BLPOP blocks for its timeout and returns redis.Nil (null
	// array in RESP2, _ in RESP3).
	start := time.Now()
	calls++
	res, err := cons.BLPop(ctx, time.Second, key).Result()
	if !errors.Is(err, redis.Nil) {
		t.Errorf("BLPOP on a drained topic: %v, %v; want redis.Nil", res, err)
	} else {
		timeouts++
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Errorf("BLPOP %s 1 returned after %v, want about 1s", key, d)
	}
	if id, err := cons.ClientID(ctx).Result(); err != nil || id != connID {
		t.Errorf("consumer client moved to connection %d (%v), want %d", id, err, connID)
	}

	// Stats reflect exactly what happened.
	want := map[string]string{
		"producer.messages":   "3",
		"producers.created":   "1",
		"consumer.messages":   "3",
		"consumers.created":   "1",
		"consumer.acks":       "3",
		"consumer.ack.errors": "1",
		"blpop.calls":         strconv.Itoa(calls),
		"blpop.timeouts":      strconv.Itoa(timeouts),
	}
	stats, err := prod.HGetAll(ctx, "stats").Result()
	if err != nil {
		t.Fatalf("HGETALL stats: %v", err)
	}
	for field, v := range want {
		if stats[field] != v {
			t.Errorf("stats %s = %q, want %q (all: %v)", field, stats[field], v, stats)
		}
	}
	for _, field := range []string{"producer.unflushed.messages", "producer.delivery.errors", "producer.unknown.events"} {
		if _, ok := stats[field]; !ok {
			t.Errorf("stats lacks %s: %v", field, stats)
		}
	}
	waitFor(t, 10*time.Second, "producer.delivered = 3", func() bool {
		return prod.HGetAll(ctx, "stats").Val()["producer.delivered"] == "3"
	})

	// QUIT: the server closes the connection after releasing the name. The
	// client's next command dials a new connection that sends the same name
	// again (HELLO SETNAME + CLIENT SETNAME); it must be accepted at once.
	if got, err := cons.Do(ctx, "QUIT").Result(); err != nil || got != "OK" {
		t.Fatalf("QUIT: %v, %v", got, err)
	}
	if got, err := cons.ClientGetName(ctx).Result(); err != nil || got != name {
		t.Fatalf("CLIENT GETNAME after QUIT and reconnect: %q, %v (want %q)", got, err, name)
	}
	newID, err := cons.ClientID(ctx).Result()
	if err != nil || newID == connID {
		t.Fatalf("after QUIT the client should be on a new connection: id %d (old %d), %v", newID, connID, err)
	}

	// The acks were committed when the first consumer closed: the new
	// consumer in the group gets only what is produced now.
	if n, err := prod.RPushX(ctx, key, "v2").Result(); err != nil || n != 1 {
		t.Fatalf("RPUSHX %s v2: %d, %v", key, n, err)
	}
	m := pop(cons, 1)[0]
	if m.value != "v2" {
		t.Fatalf("after reconnect got %v, want only the new message v2 (acked messages redelivered?)", m)
	}
	if n, err := cons.RPush(ctx, "acks", m.ack()).Result(); err != nil || n != 1 {
		t.Fatalf("RPUSH acks %s: %d, %v", m.ack(), n, err)
	}

	// Close the client (no QUIT: the socket just closes) and open a second
	// client with the same name: accepted as soon as the server has seen the
	// disconnect.
	if err := cons.Close(); err != nil {
		t.Fatalf("close consumer client: %v", err)
	}
	cons2 := newClient(name, -1)
	var lastErr error
	waitFor(t, 10*time.Second, "a new client may take the name "+name+" again", func() bool {
		var got string
		got, lastErr = cons2.ClientGetName(ctx).Result()
		return lastErr == nil && got == name
	})
	if n, err := prod.RPushX(ctx, key, "v3").Result(); err != nil || n != 1 {
		t.Fatalf("RPUSHX %s v3: %d, %v", key, n, err)
	}
	if m := pop(cons2, 1)[0]; m.value != "v3" {
		t.Fatalf("second client got %v, want only the new message v3", m)
	}

	stats = prod.HGetAll(ctx, "stats").Val()
	for field, v := range map[string]string{
		"producer.messages": "5", "consumer.messages": "5", "consumer.acks": "4", "consumers.created": "3",
	} {
		if stats[field] != v {
			t.Errorf("final stats %s = %q, want %q (all: %v)", field, stats[field], v, stats)
		}
	}

	// DEL stats resets the counters.
	if n, err := prod.Del(ctx, "stats").Result(); err != nil || n != 1 {
		t.Errorf("DEL stats: %d, %v (want 1)", n, err)
	}
	if got := prod.HGetAll(ctx, "stats").Val()["consumer.acks"]; got != "0" {
		t.Errorf("consumer.acks after DEL stats = %q, want 0", got)
	}
}

// parseGoRedisMessage checks go-redis's view of BLPOP's eight-element reply
// (integers arrive as decimal strings).
func parseGoRedisMessage(t *testing.T, res []string) goRedisMessage {
	t.Helper()
	if len(res) != 8 {
		t.Fatalf("BLPOP reply has %d elements, want 8: %q", len(res), res)
	}
	if res[0] != "topic" || res[2] != "partition" || res[4] != "offset" || res[6] != "value" {
		t.Fatalf("BLPOP reply field names: %q", res)
	}
	p, err1 := strconv.ParseInt(res[3], 10, 32)
	o, err2 := strconv.ParseInt(res[5], 10, 64)
	if err1 != nil || err2 != nil || o < 0 {
		t.Fatalf("BLPOP reply partition/offset not integers: %q", res)
	}
	return goRedisMessage{topic: res[1], partition: p, offset: o, value: res[7]}
}
