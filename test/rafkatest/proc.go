// Package rafkatest is the one harness of rafka's end-to-end tests, fault
// tests and benchmark: build the binary, start it (or another server) on
// ports the system picks, wait until it is ready through the addresses it
// reports, talk RESP to it, stop, kill or restart it.
package rafkatest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"rafka/process"
)

// Build compiles rafka's main package into dir and returns the binary.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "rafka")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "rafka").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build rafka: %w\n%s", err, out)
	}
	return bin, nil
}

// Options say how to run a rafka binary.
type Options struct {
	// Bin is the rafka binary (Build's).
	Bin string
	// Dir holds the ready file and the log.
	Dir string
	// Name names the log file (Name.log); default rafka.
	Name string
	// Args follow the harness's own flags (--host 127.0.0.1 --port 0
	// --flight-addr 127.0.0.1:0 --shutdown-timeout 15s --ready-file ...),
	// so they may override them.
	Args []string
	// Env is added to the environment.
	Env []string
	// StartTimeout bounds the wait for the ready file; default 60 s.
	StartTimeout time.Duration
	// TLS is the client configuration of the readiness PING when rafka
	// serves RESP over TLS (--tls-cert).
	TLS *tls.Config
}

// Proc is a server process under test.
type Proc struct {
	// Addrs are the addresses the server bound (for a rafka binary, those
	// of its ready file; for another server, RESP only).
	Addrs process.Addrs
	// LogPath is the file its stdout and stderr go to.
	LogPath string

	argv    []string // what start runs
	base    []string // a rafka binary's command line before Restart's flags; nil for other servers
	env     []string
	ready   func(ctx context.Context, p *Proc) error
	stale   string // a file to remove before each start (the ready file)
	timeout time.Duration
	tls     *tls.Config // of the readiness PING; nil for plain TCP
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been reaped
	exitErr error
}

// Start runs the rafka binary on ports the system picks and returns once
// it has written its ready file and answers PING there.
func Start(ctx context.Context, o Options) (*Proc, error) {
	name := o.Name
	if name == "" {
		name = "rafka"
	}
	readyPath := filepath.Join(o.Dir, name+".ready.json")
	// The shutdown's limit is inside StartT's kill window (25 s).
	argv := append([]string{o.Bin, "--host", "127.0.0.1", "--port", "0", "--flight-addr", "127.0.0.1:0",
		"--shutdown-timeout", "15s", "--ready-file", readyPath}, o.Args...)
	p := &Proc{LogPath: filepath.Join(o.Dir, name+".log"), argv: argv, base: argv, env: o.Env, timeout: o.StartTimeout, tls: o.TLS,
		stale: readyPath, ready: func(ctx context.Context, p *Proc) error { return p.awaitReadyFile(ctx, readyPath) }}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// StartServer runs another server (redis-server, say) whose RESP address
// the caller chose, and returns once it answers PING there.
func StartServer(ctx context.Context, dir, name, addr string, argv []string) (*Proc, error) {
	p := &Proc{Addrs: process.Addrs{RESP: addr}, LogPath: filepath.Join(dir, name+".log"), argv: argv,
		ready: func(ctx context.Context, p *Proc) error { return p.awaitPing(ctx) }}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// FreePort is a loopback port that was free a moment ago, for servers
// other than rafka that cannot report the port they bind (redis-server):
// another process may take it before the server does.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start starts the process (killed if the test process dies) and waits
// until it is ready.
func (p *Proc) start(ctx context.Context) error {
	if p.stale != "" {
		if err := os.Remove(p.stale); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the old ready file: %w", err)
		}
	}
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), p.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.argv[0], err)
	}
	p.cmd, p.exited, p.exitErr = cmd, make(chan struct{}), nil
	go func(done chan struct{}) {
		p.exitErr = cmd.Wait()
		close(done)
	}(p.exited)
	timeout := p.timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.ready(ctx, p); err != nil {
		p.Kill()
		return fmt.Errorf("%s not ready: %w; log %s:\n%s", filepath.Base(p.argv[0]), err, p.LogPath, p.LogTail(20))
	}
	return nil
}

// awaitReadyFile waits for the ready file, reads the addresses, and checks
// that the RESP one answers PING.
func (p *Proc) awaitReadyFile(ctx context.Context, path string) error {
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var addrs process.Addrs
			if err := json.Unmarshal(data, &addrs); err != nil {
				return fmt.Errorf("ready file %q: %w", data, err)
			}
			p.Addrs = addrs
			return p.awaitPing(ctx)
		}
		if err := p.pause(ctx); err != nil {
			return err
		}
	}
}

// awaitPing waits until the RESP address answers +PONG.
func (p *Proc) awaitPing(ctx context.Context) error {
	for {
		if c, err := p.dial(ctx); err == nil {
			r, err := c.Do("PING")
			c.Close()
			if err == nil && r.Str == "PONG" {
				return nil
			}
		}
		if err := p.pause(ctx); err != nil {
			return err
		}
	}
}

// dial connects to the RESP address, over TLS when the server serves it.
func (p *Proc) dial(ctx context.Context) (*Conn, error) {
	if p.tls == nil {
		return Dial(ctx, p.Addrs.RESP)
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: p.tls}
	conn, err := d.DialContext(ctx, "tcp", p.Addrs.RESP)
	if err != nil {
		return nil, err
	}
	return NewConn(ctx, conn), nil
}

// pause waits a moment, or reports why waiting is over.
func (p *Proc) pause(ctx context.Context) error {
	select {
	case <-p.exited:
		return fmt.Errorf("exited: %v", p.exitErr)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(25 * time.Millisecond):
		return nil
	}
}

// Pid is the process id (for /proc).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has ended; ExitErr is then its
// status.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// ExitErr is how the process ended (after Exited is closed).
func (p *Proc) ExitErr() error { return p.exitErr }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Terminate sends SIGTERM and waits up to timeout for the process to end,
// then kills it. It returns how long the process took and how it ended; an
// error too if it had to be killed.
func (p *Proc) Terminate(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	select {
	case <-p.exited:
		return 0, p.exitErr
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, err
	}
	select {
	case <-p.exited:
		return time.Since(start), p.exitErr
	case <-time.After(timeout):
		p.Kill()
		return time.Since(start), fmt.Errorf("%s did not exit within %v of SIGTERM: %w", filepath.Base(p.argv[0]), timeout, ErrKilled)
	}
}

// ErrKilled is Terminate's error when the process had to be killed.
var ErrKilled = errors.New("killed")

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Restart kills the process (no shutdown) and starts it again on the
// addresses it had, so clients reconnect where they were.
func (p *Proc) Restart(ctx context.Context) error {
	p.Kill()
	if p.base != nil { // rafka: the same ports again
		p.argv = append(slices.Clip(p.base), "--port", strconv.Itoa(Port(p.Addrs.RESP)))
		for flag, addr := range map[string]string{"--flight-addr": p.Addrs.Flight, "--metrics-addr": p.Addrs.Metrics, "--pprof-addr": p.Addrs.Pprof} {
			if addr != "" {
				p.argv = append(p.argv, flag, addr)
			}
		}
	}
	return p.start(ctx)
}

// LogTail is the last n lines of the process's log.
func (p *Proc) LogTail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Port is the port of a host:port address (0 if it has none).
func Port(addr string) int {
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return n
}
