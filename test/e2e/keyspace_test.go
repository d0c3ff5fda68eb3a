package e2e

import (
	"context"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"rafka/acl"
	"rafka/server"
)

// scanAll walks SCAN with the extra arguments to its end and returns the
// keys, failing on a malformed reply.
func scanAll(t *testing.T, c *respConn, extra ...string) []string {
	t.Helper()
	var keys []string
	cursor := "0"
	for i := 0; ; i++ {
		r := c.do(append([]string{"SCAN", cursor}, extra...)...)
		if r.Kind != '*' || len(r.Elems) != 2 || r.Elems[0].Kind != '$' || r.Elems[1].Kind != '*' {
			t.Fatalf("SCAN %s: %s", cursor, r)
		}
		for _, k := range r.Elems[1].Elems {
			keys = append(keys, k.Str)
		}
		if cursor = r.Elems[0].Str; cursor == "0" {
			return keys
		}
		if i > 10000 {
			t.Fatal("SCAN does not end")
		}
	}
}

// TestKeyspaceCommands: topics are stream keys named by the topic (DBSIZE,
// SCAN with MATCH/COUNT/TYPE, TYPE, EXISTS, LLEN, MEMORY USAGE), and INFO
// has the fields tools read.
func TestKeyspaceCommands(t *testing.T) {
	ts := startServer(t)
	prefix := uniqueName(t, "ks")
	t1, t2 := prefix+"-one", prefix+"-two"
	createTopic(t, t1, 2)
	createTopic(t, t2, 1)
	produceDirect(t, t1, 0, "a", "b")
	produceDirect(t, t1, 1, "c")
	c := ts.dial(t)

	all := scanAll(t, c)
	if !slices.IsSorted(all) || !slices.Contains(all, t1) || !slices.Contains(all, t2) {
		t.Fatalf("SCAN of everything: %v", all)
	}
	if r := c.do("DBSIZE"); r.Kind != ':' || r.Num != int64(len(all)) {
		t.Errorf("DBSIZE %s, SCAN found %d keys", r, len(all))
	}
	if got := scanAll(t, c, "MATCH", prefix+"-*", "COUNT", "1"); !slices.Equal(got, []string{t1, t2}) {
		t.Errorf("SCAN MATCH %s-* COUNT 1: %v", prefix, got)
	}
	if got := scanAll(t, c, "MATCH", prefix+"-*", "TYPE", "stream"); !slices.Equal(got, []string{t1, t2}) {
		t.Errorf("SCAN TYPE list: %v", got)
	}
	if got := scanAll(t, c, "TYPE", "list"); len(got) != 0 {
		t.Errorf("SCAN TYPE string: %v", got)
	}
	c.expect("(error) ERR invalid cursor", "SCAN", "x")
	c.expect("(error) ERR syntax error", "SCAN", "0", "COUNT", "0")
	c.expect("(error) ERR syntax error", "SCAN", "0", "MATCH")
	c.expect("(error) ERR value is not an integer or out of range", "SCAN", "0", "COUNT", "many")
	c.expect("stream", "TYPE", t1)
	c.expect("stream", "TYPE", "topics:"+t1)
	c.expect("none", "TYPE", prefix+"-none")
	c.expect("none", "TYPE", "no such key")
	c.expect("(integer) 3", "EXISTS", t1, t2, prefix+"-none", t1)
	c.expect("(integer) 3", "LLEN", t1)
	c.expect("(integer) 0", "LLEN", t2)
	c.expect("(integer) 0", "LLEN", prefix+"-none")
	c.expect("(integer) 0", "MEMORY", "USAGE", t1)
	c.expect("(integer) 0", "MEMORY", "USAGE", t1, "SAMPLES", "5")
	c.expect("(nil)", "MEMORY", "USAGE", prefix+"-none")
	c.expect("(error) ERR unknown subcommand 'STATS'", "MEMORY", "STATS", "x")

	// LLEN of a named connection: what its group has not committed.
	group := uniqueName(t, "g")
	c.expect("OK", "CLIENT", "SETNAME", group+":w")
	r := c.do("BLPOP", t1, "10")
	if len(r.Elems) != 2 {
		t.Fatalf("BLPOP %s: %s", t1, r)
	}
	c.expect("(integer) 1", "RPUSH", "acks", r.Elems[0].Str)
	c.expect("OK", "QUIT") // closing the consumer commits the ack
	named := ts.dial(t)
	named.expect("OK", "CLIENT", "SETNAME", group+":other")
	waitFor(t, 20*time.Second, "LLEN to count the commit", func() bool {
		return named.do("LLEN", t1).String() == "(integer) 2"
	})

	// INFO: a blocked client, memory, rates, command statistics, keyspace.
	blocked := ts.dial(t)
	blocked.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "b")+":w")
	blocked.send("BLPOP", t2, "0")
	waitFor(t, 10*time.Second, "blocked_clients:1", func() bool {
		return strings.Contains(c2(ts, t).do("INFO", "clients").Str, "blocked_clients:1\r\n")
	})
	info := ""
	waitFor(t, 10*time.Second, "INFO's keyspace line", func() bool {
		info = named.do("INFO").Str
		return strings.Contains(info, "\r\n# Keyspace\r\ndb0:keys=")
	})
	for _, want := range []string{"# Memory\r\nused_memory:", "used_memory_human:", "instantaneous_ops_per_sec:",
		"total_commands_processed:", "total_connections_received:", "role:master", "used_cpu_user:"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	if strings.Contains(info, "# Commandstats") {
		t.Error("INFO without arguments has commandstats (Redis keeps it for INFO all)")
	}
	if stats := named.do("INFO", "commandstats").Str; !strings.Contains(stats, "cmdstat_llen:calls=") || !strings.Contains(stats, ",failed_calls=") {
		t.Errorf("INFO commandstats: %q", stats)
	}
	if !strings.HasSuffix(info, "\r\n") {
		t.Error("INFO's last line has no CRLF (redis-cli --stat needs one)")
	}
}

// c2 is a fresh connection of the test.
func c2(ts *testServer, t *testing.T) *respConn { return ts.dial(t) }

// TestKeyspaceACL: an ACL user's keyspace is the topics it may use.
func TestKeyspaceACL(t *testing.T) {
	prefix := uniqueName(t, "ksacl")
	mine, theirs := prefix+"-mine", prefix+"-theirs"
	createTopic(t, mine, 1)
	createTopic(t, theirs, 1)
	list, err := acl.Parse([]byte(`{"users": {"alice": {"password": "` + acl.HashPassword("pw") + `",
		"consume": ["` + mine + `"], "groups": ["*"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) { c.ACL = list })
	c := ts.dial(t)
	c.expect("OK", "AUTH", "alice", "pw")
	if got := scanAll(t, c, "MATCH", prefix+"-*"); !slices.Equal(got, []string{mine}) {
		t.Errorf("alice's SCAN: %v", got)
	}
	c.expect("(integer) 1", "DBSIZE")
	c.expect("none", "TYPE", theirs)
	c.expect("(integer) 0", "EXISTS", theirs)
	c.expect("(integer) 0", "LLEN", theirs)
	c.expect("(nil)", "MEMORY", "USAGE", theirs)
}

// TestRedisCliToolModes: redis-cli's --scan, --bigkeys, --memkeys and --stat
// run against rafka to completion with real figures.
func TestRedisCliToolModes(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		skipOrFail(t, "redis-cli not found (apt-get install redis-tools): %v", err)
	}
	ts := startServer(t)
	prefix := uniqueName(t, "cli")
	t1, t2 := prefix+"-one", prefix+"-two"
	createTopic(t, t1, 1)
	createTopic(t, t2, 1)
	produceDirect(t, t1, 0, "a", "b", "c")
	_, port, _ := net.SplitHostPort(ts.addr)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cli, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := strings.Fields(run("--scan", "--pattern", prefix+"-*")); !slices.Equal(got, []string{t1, t2}) {
		t.Errorf("--scan --pattern: %q", got)
	}
	big := run("--bigkeys", "--pattern", prefix+"-*")
	if !strings.Contains(big, `Biggest stream found '"`+t1+`"' has 3 entries`) || !strings.Contains(big, "2 streams with 3 entries") {
		t.Errorf("--bigkeys:\n%s", big)
	}
	mem := run("--memkeys", "--pattern", prefix+"-*")
	if !strings.Contains(mem, "2 streams with 0 bytes") || strings.Contains(mem, "Warning") {
		t.Errorf("--memkeys:\n%s", mem)
	}
	// --stat runs until stopped: two rows, one a second apart. Its output
	// is a pipe here, so it is made line-buffered to survive the kill.
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Skipf("stdbuf (coreutils) not found: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	out, _ := exec.CommandContext(ctx, stdbuf, "-oL", cli, "-h", "127.0.0.1", "-p", port, "--stat").Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 || strings.Contains(string(out), "-9223372036854775808") {
		t.Fatalf("--stat:\n%s", out)
	}
	// keys mem clients blocked requests connections
	row := strings.Fields(lines[2])
	if len(row) < 6 || row[0] == "0" || !strings.HasSuffix(row[1], "M") {
		t.Errorf("--stat row %q: want the topic count and memory in MB", lines[2])
	}
}
