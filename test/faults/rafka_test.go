package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rafkaConfig is the kafka.json of the rafka under test: fast group
// membership (heartbeats every 300 ms, 3 s sessions) so rebalances and the
// expiry of a killed rafka's members take seconds, consumers that start at
// the beginning of the topic, and acked offsets committed every second.
const rafkaConfig = `{
  "consumer": {
    "heartbeat.interval.ms": 300,
    "session.timeout.ms": 3000,
    "auto.offset.reset": "earliest",
    "auto.commit.interval.ms": 1000
  }
}`

// sessionTimeout is the consumers' session.timeout.ms in rafkaConfig: a
// member that died silently stays in the group this long.
const sessionTimeout = 3 * time.Second

// rafkaProc runs the rafka binary on a fixed port, so that clients
// reconnect to the same address after it is killed and started again.
type rafkaProc struct {
	t       *testing.T
	addr    string
	args    []string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startRafka starts rafka against brokers on a free loopback port and waits
// until it answers PING. It is killed when t ends.
func startRafka(t *testing.T, ctx context.Context, brokers string) *rafkaProc {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kafka.json")
	if err := os.WriteFile(cfg, []byte(rafkaConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &rafkaProc{
		t:       t,
		addr:    fmt.Sprintf("127.0.0.1:%d", port),
		args:    []string{"-c", cfg, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--brokers", brokers, "--flight-addr", "off"},
		logPath: filepath.Join(dir, "rafka.log"),
	}
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			r.printLogTail(40)
		}
	})
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// start starts the process and waits until it answers PING.
func (r *rafkaProc) start(ctx context.Context) error {
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open rafka log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(env.rafkaBin, r.args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start rafka: %w", err)
	}
	r.cmd = cmd
	r.exited = make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(r.exited)

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if pingOK(r.addr) {
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("rafka exited at start-up: %v (log %s)", cmd.ProcessState, r.logPath)
		case <-ctx.Done():
			return fmt.Errorf("rafka not answering PING on %s: %w", r.addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *rafkaProc) kill() {
	if r.cmd == nil {
		return
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Logf("kill rafka: %v", err)
	}
	<-r.exited
}

// restart kills rafka with SIGKILL (no shutdown, no final commit) and starts
// it again on the same port.
func (r *rafkaProc) restart(ctx context.Context) error {
	r.kill()
	return r.start(ctx)
}

// printLogTail prints the last lines of rafka's log to stderr.
func (r *rafkaProc) printLogTail(n int) {
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n", r.logPath)
	for _, l := range lines[max(0, len(lines)-n):] {
		fmt.Fprintln(os.Stderr, l)
	}
}

// pingOK reports whether addr answers a RESP PING with +PONG.
func pingOK(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}
