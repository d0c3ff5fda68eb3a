package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"rafka/test/rafkatest"
)

// rafkaProc is the rafka binary running on ports the system picked
// (rafkatest's harness), with its addresses at hand.
type rafkaProc struct {
	*rafkatest.Proc
	resp, flight, metrics string // host:port of each listener
	pid                   int
}

// terminate sends SIGTERM and returns how long the process took to exit and
// its exit error, failing the test after timeout.
func (p *rafkaProc) terminate(t *testing.T, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	took, err := p.Terminate(timeout)
	if errors.Is(err, rafkatest.ErrKilled) {
		t.Fatal(err)
	}
	return took, err
}

// writeUsers writes an ACL users file and returns its path.
func writeUsers(t *testing.T, users string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// binary is the rafka binary, built once for the run.
var binary struct {
	once sync.Once
	path string
	err  error
}

// buildRafka builds the rafka binary once per test run.
func buildRafka(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		binary.path, binary.err = rafkatest.Build(ctx, env.dir)
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// startBinary runs the rafka binary against the test brokers with a
// metrics listener and args after the harness's flags. When the test ends
// it gets SIGTERM (then SIGKILL after 25 s), and its log is shown if the
// test failed.
func startBinary(t *testing.T, args ...string) *rafkaProc {
	t.Helper()
	return startBinaryWith(t, rafkatest.Options{}, args...)
}

// startBinaryWith is startBinary with harness options (a TLS readiness
// probe, say).
func startBinaryWith(t *testing.T, o rafkatest.Options, args ...string) *rafkaProc {
	t.Helper()
	o.Bin = buildRafka(t)
	o.Args = append([]string{"--brokers", env.brokers, "--metrics-addr", "127.0.0.1:0", "--shutdown-timeout", "20s"}, args...)
	p := rafkatest.StartT(t, o)
	return &rafkaProc{Proc: p, resp: p.Addrs.RESP, flight: p.Addrs.Flight, metrics: p.Addrs.Metrics, pid: p.Pid()}
}

// scrape returns the text of /metrics.
func (p *rafkaProc) scrape(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.metrics+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// metricLines returns the sample lines of /metrics that start with prefix.
func (p *rafkaProc) metricLines(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(p.scrape(t), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// waitMetrics polls /metrics until cond holds for the lines starting with
// prefix.
func (p *rafkaProc) waitMetrics(t *testing.T, timeout time.Duration, prefix, what string, cond func(lines []string) bool) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(timeout)
	for {
		if last = p.metricLines(t, prefix); cond(last) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for /metrics: %s; lines %q:\n%s", timeout, what, prefix, strings.Join(last, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
