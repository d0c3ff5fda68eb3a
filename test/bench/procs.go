package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a child process under test (rafka or redis-server) listening
// on 127.0.0.1.
type server struct {
	name    string
	cmd     *exec.Cmd
	addr    string // RESP address
	logPath string
	exited  chan struct{} // closed when the process has been reaped
	once    sync.Once
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startProcess starts argv with its output in logDir/<name>.log and waits
// until addr answers PING. The process is killed if its parent dies.
func startProcess(ctx context.Context, name, logDir, addr string, argv []string) (*server, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logFile.Close()
	s := &server{name: name, cmd: cmd, addr: addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s did not become ready: %w (log %s: %s)", name, err, logPath, tail(logPath, 5))
	}
	return s, nil
}

// waitReady pings the server until it answers +PONG.
func (s *server) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("process exited: %v", s.cmd.ProcessState)
		default:
		}
		if c, err := dialRESP(ctx, s.addr); err == nil {
			r, err := c.do("PING")
			c.Close()
			if err == nil && string(r.str) == "PONG" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pid is the process id, for /proc.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM, and SIGKILL if the process is still there 10 s
// later. It is safe to call more than once.
func (s *server) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// startRafka starts bin/rafka against brokers on free ports, with a Flight
// listener, logging warnings only. extra are further flags.
func startRafka(ctx context.Context, bin, brokers, logDir, name string, extra ...string) (*server, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	flightPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	flightAddr := "127.0.0.1:" + strconv.Itoa(flightPort)
	argv := append([]string{bin, "--brokers", brokers, "--port", strconv.Itoa(port),
		"--flight-addr", flightAddr, "--log-level", "warn"}, extra...)
	s, err := startProcess(ctx, name, logDir, "127.0.0.1:"+strconv.Itoa(port), argv)
	if err != nil {
		return nil, "", err
	}
	return s, flightAddr, nil
}

// startRedis starts a throw-away redis-server without persistence.
func startRedis(ctx context.Context, logDir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := []string{"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", logDir}
	return startProcess(ctx, "redis-server", logDir, "127.0.0.1:"+strconv.Itoa(port), argv)
}

// procMemory is what /proc/<pid>/status says about a process's memory.
type procMemory struct {
	rssKB   int64
	threads int64
}

// readProcMemory reads VmRSS and Threads of pid.
func readProcMemory(pid int) (procMemory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, fmt.Errorf("read process status: %w", err)
	}
	var m procMemory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			m.rssKB, _ = strconv.ParseInt(f[0], 10, 64)
		case "Threads":
			m.threads, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	if m.rssKB == 0 {
		return m, errors.New("no VmRSS in process status")
	}
	return m, nil
}

// tail returns the last n lines of a file, joined by " | ".
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// stats reads HGETALL stats from a rafka server into a map.
func rafkaStats(ctx context.Context, addr string) (map[string]int64, error) {
	c, err := dialRESP(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r, err := c.do("HGETALL", "stats")
	if err != nil {
		return nil, fmt.Errorf("HGETALL stats: %w", err)
	}
	out := make(map[string]int64, len(r.arr)/2)
	for i := 0; i+1 < len(r.arr); i += 2 {
		n, _ := strconv.ParseInt(string(r.arr[i+1].str), 10, 64)
		out[string(r.arr[i].str)] = n
	}
	return out, nil
}
