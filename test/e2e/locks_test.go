package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rafka/acl"
	"rafka/server"
)

// TestLockKeys: SET with NX/XX/PX/EX/KEEPTTL, GET, PTTL, EXISTS, TYPE and
// DEL on lock keys behave as Redis's string commands do, with Redis's
// error texts; a key expires on time.
func TestLockKeys(t *testing.T) {
	ts := startServer(t)
	c := ts.dial(t)
	key := uniqueName(t, "lock")
	c.expect("OK", "SET", key, "tok", "NX", "PX", "300")
	c.expect("(nil)", "SET", key, "other", "NX", "PX", "300")
	c.expect(`"tok"`, "GET", key)
	if r := c.do("PTTL", key); r.Num <= 0 || r.Num > 300 {
		t.Errorf("PTTL: %s", r)
	}
	c.expect("(integer) 1", "EXISTS", key)
	c.expect("string", "TYPE", key)
	c.expect("OK", "SET", key, "tok2", "XX", "KEEPTTL")
	if r := c.do("PTTL", key); r.Num <= 0 {
		t.Errorf("PTTL after KEEPTTL: %s", r)
	}
	time.Sleep(400 * time.Millisecond)
	c.expect("(nil)", "GET", key)
	c.expect("(integer) -2", "PTTL", key)
	c.expect("(nil)", "SET", key, "v", "XX")
	c.expect("OK", "SET", key, "v", "EX", "60")
	c.expect("OK", "SET", key, "v")
	c.expect("(integer) -1", "PTTL", key)
	c.expect("(integer) -1", "TTL", key)
	c.expect("OK", "SET", key, "v", "XX", "XX", "EX", "1", "EX", "100") // repeated, as Redis allows: the last EX counts
	if r := c.do("TTL", key); r.Num != 100 {
		t.Errorf("TTL after EX 1 EX 100: %s", r)
	}
	c.expect("(integer) -2", "TTL", key+"-none")
	c.expect("(integer) 1", "DEL", key, key+"-none")
	c.expect("(integer) 0", "EXISTS", key)
	c.expect("none", "TYPE", key)
	// DEL stats keeps its classic meaning.
	c.expect("(integer) 1", "DEL", "stats")

	for _, tc := range []struct {
		want string
		args []string
	}{
		{"(error) ERR syntax error", []string{"SET", key, "v", "NX", "XX"}},
		{"(error) ERR syntax error", []string{"SET", key, "v", "PX", "10", "EX", "1"}},
		{"(error) ERR syntax error", []string{"SET", key, "v", "PX"}},
		{"(error) ERR syntax error", []string{"SET", key, "v", "KEEPTTL", "PX", "10"}},
		{"(error) ERR stats is the server's counters (HGETALL stats, DEL stats), not a lock key", []string{"SET", "Stats", "v"}},
		{"(error) ERR value is not an integer or out of range", []string{"SET", key, "v", "PX", "ten"}},
		{"(error) ERR invalid expire time in 'set' command", []string{"SET", key, "v", "PX", "0"}},
		{"(error) ERR invalid expire time in 'set' command", []string{"SET", key, "v", "EX", "9223372036854775807"}},
		{"(error) ERR syntax error: rafka's SET takes NX or XX, and EX, PX or KEEPTTL", []string{"SET", key, "v", "GET"}},
		{"(error) ERR wrong number of arguments for 'set' command", []string{"SET", key}},
		{"(error) ERR wrong number of arguments for 'get' command", []string{"GET", key, key}},
	} {
		c.expect(tc.want, tc.args...)
	}
	c.expect("(nil)", "GET", key)
}

// TestLockKeysBounded: a key or value over 512 bytes is refused, and one
// user's namespace holds at most 4096 live keys; another user's is its own.
func TestLockKeysBounded(t *testing.T) {
	ts := startServer(t)
	c := ts.dial(t)
	long := strings.Repeat("k", 513)
	c.expect("(error) ERR a lock key and its value are each at most 512 bytes", "SET", long, "v")
	c.expect("(error) ERR a lock key and its value are each at most 512 bytes", "SET", "k", long)
	prefix := uniqueName(t, "many")
	for i := range 4096 {
		c.send("SET", fmt.Sprint(prefix, i), "v", "PX", "60000")
	}
	c.flush()
	for i := range 4096 {
		if r := c.read(10 * time.Second); r.Str != "OK" {
			t.Fatalf("SET %d: %s", i, r)
		}
	}
	c.expect("(error) ERR this user's lock keys are all in use: DEL some or let them expire", "SET", prefix+"-more", "v")
	c.expect("OK", "SET", fmt.Sprint(prefix, 7), "overwritten") // an existing key needs no room
	c.expect("(integer) 1", "DEL", fmt.Sprint(prefix, 0))
	c.expect("OK", "SET", prefix+"-more", "v")
}

// TestLockKeysPerUser: each ACL user has its own lock keys: another user's
// key of the same name is invisible to GET, DEL, EXISTS and the release
// script.
func TestLockKeysPerUser(t *testing.T) {
	list, err := acl.Parse([]byte(`{"users": {
		"alice": {"password": "` + acl.HashPassword("pa") + `", "groups": ["*"]},
		"bob": {"password": "` + acl.HashPassword("pb") + `", "groups": ["*"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) { c.ACL = list })
	alice, bob := ts.dial(t), ts.dial(t)
	alice.expect("OK", "AUTH", "alice", "pa")
	bob.expect("OK", "AUTH", "bob", "pb")
	alice.expect("OK", "SET", "shared-name", "alice-token", "NX")
	bob.expect("(nil)", "GET", "shared-name")
	bob.expect("(integer) 0", "EXISTS", "shared-name")
	bob.expect("(integer) 0", "DEL", "shared-name")
	bob.expect("OK", "SET", "shared-name", "bob-token", "NX")
	alice.expect(`"alice-token"`, "GET", "shared-name")
	bob.expect(`"bob-token"`, "GET", "shared-name")
}

// TestLockScriptsRefuseLua: rafka runs no Lua: an unknown script is
// refused with a clear error, an unknown SHA is NOSCRIPT (so a client
// falls back to EVAL or SCRIPT LOAD, and gets that error), SCRIPT EXISTS
// says 0 for it.
func TestLockScriptsRefuseLua(t *testing.T) {
	ts := startServer(t)
	c := ts.dial(t)
	noLua := "(error) ERR rafka runs no Lua: EVAL, EVALSHA and SCRIPT LOAD take only redis-py's Lock scripts (release, extend, reacquire)"
	c.expect(noLua, "EVAL", "return redis.call('get', KEYS[1])", "1", "k")
	c.expect(noLua, "SCRIPT", "LOAD", "return 1")
	c.expect("(error) NOSCRIPT No matching script. Please use EVAL.", "EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0")
	c.expect("[(integer) 0]", "SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
	c.expect("OK", "SCRIPT", "FLUSH")
	c.expect("(error) NOTBUSY No scripts in execution right now.", "SCRIPT", "KILL")
	c.expect("(error) ERR unknown subcommand 'DEBUG'", "SCRIPT", "DEBUG", "YES")
}

// TestLockAroundXAutoClaimInMulti: the sequence taskiq-redis's stream
// worker sends, a lock taken and released around XAUTOCLAIM inside one
// MULTI, runs, and the XAUTOCLAIM in it claims the idle entry.
func TestLockAroundXAutoClaimInMulti(t *testing.T) {
	topic, group, c := streamGroup(t, "lk")
	id := c.do("XADD", topic, "*", "data", "task").Str
	if r := c.do("XREADGROUP", "GROUP", group, "dead", "COUNT", "1", "BLOCK", "5000", "STREAMS", topic, ">"); len(r.Elems) != 1 {
		t.Fatalf("XREADGROUP: %s", r)
	}
	time.Sleep(50 * time.Millisecond)
	lock := "autoclaim:" + group + ":" + topic
	c.expect("OK", "MULTI")
	c.expect("QUEUED", "SET", lock, "tok", "NX", "PX", "5000")
	c.expect("QUEUED", "XAUTOCLAIM", topic, group, "alive", "10", "0-0", "COUNT", "100")
	c.expect("QUEUED", "GET", lock)
	c.expect("QUEUED", "DEL", lock)
	c.expect(fmt.Sprintf(`[OK, ["0-0", [["%s", ["data", "task"]]], []], "tok", (integer) 1]`, id), "EXEC")
	c.expect("(nil)", "GET", lock)
	c.expect(fmt.Sprintf(`[(integer) 1, "%[1]s", "%[1]s", [["alive", "1"]]]`, id), "XPENDING", topic, group)
}

// TestLocksRedisPy runs test/python/locks_check.py: redis-py's Lock, sync
// and asyncio, over RESP2 and RESP3 — acquire, blocking acquire, locked,
// owned, extend, reacquire, release, expiry, and a lock inside a MULTI.
func TestLocksRedisPy(t *testing.T) {
	python := venvPython(t)
	ts := startServer(t)
	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			runPython(t, python, ts, time.Minute, "locks_check.py", "--protocol", proto)
		})
	}
}
