package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// probeResult is a client probe's report (test/clients/PROTOCOL.md).
type probeResult struct {
	Client      string   `json:"client"`
	Version     string   `json:"version"`
	Proto       int      `json:"proto"`
	Popped      []string `json:"popped"`
	Keys        []string `json:"keys"`
	Acked       int      `json:"acked"`
	Pipeline    []int64  `json:"pipeline"`
	Tx          []int64  `json:"tx"`
	StatsFields int      `json:"stats_fields"`
}

// errRESP3Unsupported is a probe's exit 3: its library has no RESP3.
var errRESP3Unsupported = errors.New("the library does not speak RESP3")

// matrixProbe is one client library of the matrix.
type matrixProbe struct {
	client string
	// run runs the probe's steps against addr; it returns the probe's report.
	run func(t *testing.T, addr, topic, group string, proto int) (probeResult, error)
}

// TestClientMatrix drives rafka through each major Redis client's typed API,
// unmodified (test/clients/PROTOCOL.md): produce, a pipeline, a MULTI/EXEC
// transaction, HGETALL stats, and Redis-shaped pops of a topic key, each
// acked with RPUSH acks <key>; both protocols where the library has them.
// Kafka then holds every message, read_committed consumers see the
// transaction's, and the group committed every ack.
func TestClientMatrix(t *testing.T) {
	ts := startServer(t)
	probes := []matrixProbe{
		{"go-redis", goRedisProbe},
		{"redis-py", externalProbe(pythonProbeCommand)},
		{"node-redis", externalProbe(nodeProbeCommand)},
		{"ioredis", externalProbe(nodeProbeCommand)},
		{"jedis", externalProbe(javaProbeCommand)},
		{"lettuce", externalProbe(javaProbeCommand)},
		{"redis-rs", externalProbe(rustProbeCommand)},
	}
	for _, p := range probes {
		for _, proto := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/RESP%d", p.client, proto), func(t *testing.T) {
				topic, group := newTopic(t, 2), uniqueName(t, "g")
				res, err := p.run(t, ts.addr, topic, group, proto)
				if errors.Is(err, errRESP3Unsupported) {
					t.Skipf("%s: %v (README's client table says so)", p.client, err)
				}
				if err != nil {
					t.Fatal(err)
				}
				checkProbe(t, res, p.client, proto, topic, group)
			})
		}
	}
}

// checkProbe checks a probe's report against what Kafka holds.
func checkProbe(t *testing.T, res probeResult, client string, proto int, topic, group string) {
	t.Helper()
	t.Logf("%s %s RESP%d: popped %d, acked %d", res.Client, res.Version, proto, len(res.Popped), res.Acked)
	p := fmt.Sprintf("%s-p%d", client, proto)
	want := []string{p + "-single-0", p + "-pipe-0", p + "-pipe-1", p + "-pipe-2", p + "-tx-0", p + "-tx-1"}
	got := slices.Clone(res.Popped)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || res.Acked != 6 || len(res.Keys) != 6 {
		t.Errorf("popped %q (acked %d, keys %q), want %q", res.Popped, res.Acked, res.Keys, want)
	}
	if !slices.Equal(res.Pipeline, []int64{1, 1, 1}) || !slices.Equal(res.Tx, []int64{1, 1}) || res.StatsFields == 0 {
		t.Errorf("pipeline %v, tx %v, stats fields %d", res.Pipeline, res.Tx, res.StatsFields)
	}
	// Every ack committed (the consumer's close commits them): each
	// partition's committed offset is one past its last acked message
	// (offsets are not a count: a transaction's marker takes one).
	wantCommit := map[int32]int64{}
	for _, k := range res.Keys {
		var part int32
		var off int64
		rest, ok := strings.CutPrefix(k, topic+":")
		if _, err := fmt.Sscanf(rest, "%d:%d", &part, &off); !ok || err != nil {
			t.Fatalf("pop key %q is not <topic>:<partition>:<offset>", k)
		}
		wantCommit[part] = max(wantCommit[part], off+1)
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("the group's commits of every ack (%v)", wantCommit), func() bool {
		off := committed(t, group, topic, 2)
		return off[0] == wantCommit[0] && off[1] == wantCommit[1]
	})
	// A read_committed consumer sees them all, the transaction's included.
	produceDirect(t, topic, 0, "marker")
	produceDirect(t, topic, 1, "marker")
	rc := readCommitted(t, topic, "marker", 2)
	slices.Sort(rc)
	if !slices.Equal(rc, want) {
		t.Errorf("read_committed reads %q, want %q", rc, want)
	}
}

// externalProbe runs a probe program: command returns its argv prefix
// (skipping the test when its toolchain or build is missing).
func externalProbe(command func(t *testing.T, client string) []string) func(t *testing.T, addr, topic, group string, proto int) (probeResult, error) {
	return func(t *testing.T, addr, topic, group string, proto int) (probeResult, error) {
		t.Helper()
		client := strings.Split(t.Name(), "/")[1]
		argv := append(command(t, client), client, addr, topic, group, fmt.Sprint(proto))
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.Output()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 3 {
			return probeResult{}, fmt.Errorf("%w: %s", errRESP3Unsupported, strings.TrimSpace(stderr.String()))
		}
		if err != nil {
			return probeResult{}, fmt.Errorf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(argv, " "), err, out, stderr.String())
		}
		var res probeResult
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			return res, fmt.Errorf("probe output %q: %v", out, err)
		}
		return res, nil
	}
}

// repoPath is a path of the repository (the tests run in test/e2e).
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func pythonProbeCommand(t *testing.T, _ string) []string {
	return []string{venvPython(t), repoPath("test", "clients", "python", "probe.py")}
}

func nodeProbeCommand(t *testing.T, _ string) []string {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node not found: %v", err)
	}
	if _, err := os.Stat(repoPath("test", "clients", "node", "node_modules")); err != nil {
		skipOrFail(t, "test/clients/node has no node_modules (make deps installs them): %v", err)
	}
	return []string{node, repoPath("test", "clients", "node", "probe.mjs")}
}

func javaProbeCommand(t *testing.T, _ string) []string {
	java, err := exec.LookPath("java")
	if err != nil {
		skipOrFail(t, "java not found: %v", err)
	}
	cp, err := os.ReadFile(repoPath("test", "clients", "java", "target", "classpath.txt"))
	if err != nil {
		skipOrFail(t, "the Java probe is not built (make deps builds it): %v", err)
	}
	classes, _ := filepath.Abs(repoPath("test", "clients", "java", "target", "classes"))
	return []string{java, "-cp", classes + string(os.PathListSeparator) + strings.TrimSpace(string(cp)), "rafka.probe.Probe"}
}

func rustProbeCommand(t *testing.T, _ string) []string {
	bin := repoPath("test", "clients", "rust", "target", "release", "probe")
	if _, err := os.Stat(bin); err != nil {
		skipOrFail(t, "the Rust probe is not built (make deps builds it): %v", err)
	}
	return []string{bin}
}

// goRedisProbe is the probe for go-redis v9, in this process.
func goRedisProbe(t *testing.T, addr, topic, group string, proto int) (probeResult, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p := fmt.Sprintf("go-redis-p%d", proto)
	res := probeResult{Client: "go-redis", Version: redis.Version(), Proto: proto}
	prod := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto})
	defer prod.Close()
	if n, err := prod.RPushX(ctx, "topics:"+topic, p+"-single-0").Result(); err != nil || n != 1 {
		return res, fmt.Errorf("RPushX: %d %v", n, err)
	}
	cmds, err := prod.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range 3 {
			pl.RPushX(ctx, "topics:"+topic, fmt.Sprintf("%s-pipe-%d", p, i))
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("Pipelined: %v", err)
	}
	for _, c := range cmds {
		res.Pipeline = append(res.Pipeline, c.(*redis.IntCmd).Val())
	}
	cmds, err = prod.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range 2 {
			pl.RPushX(ctx, "topics:"+topic, fmt.Sprintf("%s-tx-%d", p, i))
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("TxPipelined: %v", err)
	}
	for _, c := range cmds {
		res.Tx = append(res.Tx, c.(*redis.IntCmd).Val())
	}
	stats, err := prod.HGetAll(ctx, "stats").Result()
	if err != nil || stats["producer.messages"] == "" {
		return res, fmt.Errorf("HGetAll stats: %v %v", len(stats), err)
	}
	res.StatsFields = len(stats)

	cons := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto, ClientName: group + ":go-redis", PoolSize: 1})
	defer cons.Close()
	for i := 0; i < 60 && len(res.Popped) < 6; i++ {
		pop := cons.BLPop
		if i%2 == 1 {
			pop = cons.BRPop
		}
		kv, err := pop(ctx, 5*time.Second, topic).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil || len(kv) != 2 {
			return res, fmt.Errorf("pop: %q %v", kv, err)
		}
		res.Keys, res.Popped = append(res.Keys, kv[0]), append(res.Popped, kv[1])
		if n, err := cons.RPush(ctx, "acks", kv[0]).Result(); err != nil || n != 1 {
			return res, fmt.Errorf("RPush acks %s: %d %v", kv[0], n, err)
		}
		res.Acked++
	}
	if _, err := cons.BLPop(ctx, time.Second, topic).Result(); !errors.Is(err, redis.Nil) {
		return res, fmt.Errorf("a seventh pop: %v", err)
	}
	return res, nil
}
