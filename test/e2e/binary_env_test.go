package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rafkaProc is the rafka binary running on free ports of 127.0.0.1.
type rafkaProc struct {
	resp, flight, metrics string // host:port of each listener
	pid                   int
	cmd                   *exec.Cmd
	exited                chan struct{} // closed when the process has ended, with exitErr set
	exitErr               error
}

// terminate sends SIGTERM and returns how long the process took to exit and
// its exit error, failing the test after timeout.
func (p *rafkaProc) terminate(t *testing.T, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		return time.Since(start), p.exitErr
	case <-time.After(timeout):
		t.Fatalf("rafka did not exit within %v of SIGTERM", timeout)
		return 0, nil
	}
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

// startBinary builds rafka and runs it against the test brokers with args
// after the listener flags. When the test ends it gets SIGTERM (then
// SIGKILL after 25 s), and its log is shown if the test failed.
func startBinary(t *testing.T, args ...string) *rafkaProc {
	t.Helper()
	bin := buildRafka(t)
	p := &rafkaProc{}
	dir := t.TempDir()
	readyPath := filepath.Join(dir, "ready.json")
	logPath := filepath.Join(dir, "rafka.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// Every listener on a port the system picks; the ready file says which.
	cmd := exec.Command(bin, append([]string{"--host", "127.0.0.1", "--port", "0", "--brokers", env.brokers,
		"--flight-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--shutdown-timeout", "20s",
		"--ready-file", readyPath}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.pid, p.cmd, p.exited = cmd.Process.Pid, cmd, make(chan struct{})
	go func() { p.exitErr = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(25 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
			t.Error("rafka did not exit within 25 s of SIGTERM")
		}
		logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("rafka log:\n%s", log)
			}
		}
	})
	waitFor(t, 30*time.Second, "rafka binary's ready file", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("rafka exited at start: %v", p.exitErr)
		default:
		}
		data, err := os.ReadFile(readyPath)
		if err != nil {
			return false
		}
		var bound struct{ RESP, Flight, Metrics string }
		if err := json.Unmarshal(data, &bound); err != nil {
			t.Fatalf("ready file %q: %v", data, err)
		}
		p.resp, p.flight, p.metrics = bound.RESP, bound.Flight, bound.Metrics
		return true
	})
	if !tryDial(p.resp) || !tryDial(p.metrics) {
		t.Fatalf("rafka reported %s and %s but does not answer there", p.resp, p.metrics)
	}
	return p
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
