package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestShutdown: a blocked BLPOP is answered with `CONS Server shutdown`,
// acked offsets are committed, new connections are refused.
func TestShutdown(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	group := uniqueName(t, "g")
	produceDirect(t, topic, 0, "s0", "s1", "s2")

	worker := ts.dial(t)
	worker.expect("OK", "CLIENT", "SETNAME", group+":worker")
	got := popN(t, worker, "topics:"+topic, 2, 30*time.Second)
	worker.expect("(integer) 1", "RPUSH", "acks", got[1].ack())

	blocked := ts.dial(t)
	blocked.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "other")+":b")
	empty := newTopic(t, 1)
	blocked.do("BLPOP", "topics:"+empty, "0.1")
	blocked.send("BLPOP", "topics:"+empty, "0")
	time.Sleep(200 * time.Millisecond) // let the BLPOP block

	done := make(chan struct{})
	go func() {
		ts.shutdown(t)
		close(done)
	}()
	if r := blocked.read(10 * time.Second); r.String() != "(error) CONS Server shutdown" {
		t.Fatalf("blocked BLPOP during shutdown: %s", r)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown did not finish")
	}
	if off := committed(t, group, topic, 1)[0]; off != 2 {
		t.Fatalf("committed offset after shutdown = %d, want 2", off)
	}
}

// TestBinary runs the real binary: version, config validation with
// librdkafka's own message, a served command, and SIGTERM shutdown.
func TestBinary(t *testing.T) {
	bin := buildRafka(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "RAFKA_BROKERS="+env.brokers)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	if out, err := run("--version"); err != nil || !strings.HasPrefix(out, "rafka ") {
		t.Errorf("--version: %v %q", err, out)
	}
	cases := []struct {
		name, file, want string
	}{
		{"unknown section", `{"general":{}, "bogus":{}}`, "unknown top-level keys bogus"},
		{"bad property", `{"consumer":{"no.such.thing":"1"}}`, "No such configuration property"},
		{"bad value", `{"producer":{"acks":"many"}}`, "acks"},
		{"bad json", `{"general":`, "parse JSON"},
	}
	for _, tc := range cases {
		out, err := run("-c", write("bad.json", tc.file), "-p", "0", "--flight-addr", "off")
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: err=%v, output lacks %q:\n%s", tc.name, err, tc.want, out)
		}
	}

	// A good config with a missing section and a secret: starts, serves,
	// never logs the secret, stops on SIGTERM.
	cfg := write("ok.json", `{"general":{"sasl.password":"hunter2"},"consumer":{"heartbeat.interval.ms":300},
		"rafka":{"host":"127.0.0.1","shutdown_timeout":"20s"}}`)
	p := startBinary(t, "-c", cfg, "--flight-token", "tok-1")
	c := dialRESP(t, p.resp)
	c.expect("PONG", "PING")
	topic := newTopic(t, 1)
	c.expect("(integer) 1", "RPUSHX", "topics:"+topic, "from-binary")
	c.expect("(integer) 0", "DUMP", "5000")
	// Nothing a client can read shows the secret either.
	for _, cmd := range [][]string{{"INFO", "everything"}, {"CLIENT", "LIST"}, {"HGETALL", "stats"}} {
		r := c.do(cmd...)
		if r.Kind == '-' || strings.Contains(r.String(), "hunter2") {
			t.Errorf("%v: an error, or shows the SASL password: %s", cmd, r)
		}
	}
	// The Flight listener of the binary serves with its token.
	fc, err := flight.NewClientWithMiddleware(p.flight, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	fctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok-1")
	if info, err := fc.GetFlightInfo(fctx, pathDesc(topic)); err != nil || info.TotalRecords != 1 {
		t.Errorf("binary's Flight listener: %v %v", info, err)
	}
	// Prometheus metrics, health and readiness.
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + p.metrics + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{"rafka_producer_messages_total 1", "rafka_connections_current 1",
		`rafka_command_duration_seconds_count{command="rpushx"} 1`, "rafka_uptime_seconds", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if _, err := p.terminate(t, 25*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	log, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(log)

	if strings.Contains(text, "hunter2") || strings.Contains(text, "tok-1") {
		t.Errorf("secret in logs:\n%s", text)
	}
	if !strings.Contains(text, "shutdown complete") {
		t.Errorf("no clean shutdown in logs:\n%s", text)
	}
	if msgs := readAll(t, topic, 1); string(msgs[0].Value) != "from-binary" {
		t.Errorf("produced %q", msgs[0].Value)
	}
}
