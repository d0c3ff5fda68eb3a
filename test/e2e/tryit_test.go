package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestTryItMode runs the binary with no brokers configured: it starts the
// embedded broker, auto-creates topics on produce, and keeps topics and
// committed offsets in --data-dir across a restart.
func TestTryItMode(t *testing.T) {
	bin := buildRafka(t)
	dataDir := t.TempDir()
	start := func() (*exec.Cmd, *respConn) {
		port := freePort(t)
		cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--data-dir", dataDir, "--log-level", "warn", "--flight-addr", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "RAFKA_BROKERS=", "RAFKA_CONFIG=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		waitFor(t, 20*time.Second, "try-it server up", func() bool { return tryDial(addr) })
		return cmd, dialRESP(t, addr)
	}
	stop := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no exit after SIGTERM")
		}
	}

	cmd, c := start()
	c.expect("(integer) 2", "RPUSHX", "topics:tryit", "one", "two")
	c.expect("(integer) 0", "DUMP", "5000")
	c.expect(`["topics:tryit"]`, "KEYS", "topics:")
	c.expect("OK", "CLIENT", "SETNAME", "tg:w")
	first := popN(t, c, `topics:tryit:{"auto.offset.reset":"earliest"}`, 1, 30*time.Second)[0]
	c.expect("(integer) 1", "RPUSH", "acks", first.ack())
	c.expect("OK", "QUIT")
	stop(cmd)

	_, c = start()
	c.expect(`["topics:tryit"]`, "KEYS", "topics:")
	c.expect("OK", "CLIENT", "SETNAME", "tg:w")
	second := popN(t, c, `topics:tryit:{"auto.offset.reset":"earliest"}`, 1, 30*time.Second)[0]
	if second.value == first.value {
		t.Fatalf("acked message %q delivered again after restart", first.value)
	}
	if r := c.do("BLPOP", "topics:tryit", "1"); !r.null {
		t.Fatalf("a third message after restart: %s", r)
	}
}
