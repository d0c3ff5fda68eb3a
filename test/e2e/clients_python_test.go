package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireClients reports whether missing third-party clients fail the test
// (RAFKA_REQUIRE_CLIENTS=1, as in CI) instead of skipping it.
func requireClients() bool { return os.Getenv("RAFKA_REQUIRE_CLIENTS") == "1" }

// skipOrFail skips the test for a missing client, or fails it when clients
// are required.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireClients() {
		t.Fatalf("%s (RAFKA_REQUIRE_CLIENTS=1)", msg)
	}
	t.Skipf("%s; set RAFKA_REQUIRE_CLIENTS=1 to make this a failure", msg)
}

// venvPython returns the python of $RAFKA_TEST_VENV when it can import redis.
func venvPython(t *testing.T) string {
	t.Helper()
	venv := os.Getenv("RAFKA_TEST_VENV")
	if venv == "" {
		skipOrFail(t, "RAFKA_TEST_VENV is unset (run `make deps` and point it at the venv, e.g. RAFKA_TEST_VENV=$PWD/.venv)")
	}
	python := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(python); err != nil {
		skipOrFail(t, "RAFKA_TEST_VENV=%s has no bin/python: %v", venv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import redis; print(redis.__version__)").CombinedOutput()
	if err != nil {
		skipOrFail(t, "%s cannot import redis (pip install -r test/python/requirements.txt): %v\n%s", python, err, out)
	}
	t.Logf("redis-py %s from %s", strings.TrimSpace(string(out)), python)
	return python
}

// TestClientPython runs test/python/client_check.py (redis-py) against a
// server: produce, consume in a group, ack, stats, reconnect after QUIT, over
// RESP2 and RESP3. The script checks the values itself and exits non-zero
// with the failed check.
func TestClientPython(t *testing.T) {
	python := venvPython(t)
	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			ts := startServer(t)
			topic := newTopic(t, 2)
			runPython(t, python, ts, time.Minute, "client_check.py",
				"--topic", topic, "--protocol", proto, "--group", uniqueName(t, "g"))
		})
	}
}

// runPython runs test/python/<script> with --port of ts's RESP address and
// args, and fails the test with its output if it fails or outlasts
// timeout; the scripts check what they read themselves.
func runPython(t *testing.T, python string, ts *testServer, timeout time.Duration, script string, args ...string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "python", script))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("python script: %v", err)
	}
	_, port, err := net.SplitHostPort(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{path, "--port", port}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s timed out after %v; output:\n%s", script, timeout, out)
	}
	if err != nil {
		t.Fatalf("%s %s: %v; output:\n%s", script, strings.Join(args, " "), err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}
