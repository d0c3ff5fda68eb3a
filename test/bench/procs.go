package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"rafka/test/rafkatest"
)

// server is a child process under test (rafka or redis-server) on
// 127.0.0.1, started by the test harness.
type server struct {
	*rafkatest.Proc
	name string
	addr string // RESP address
}

// pid is the process id, for /proc.
func (s *server) pid() int { return s.Pid() }

// stop sends SIGTERM, and SIGKILL if the process is still there 10 s
// later. It is safe to call more than once.
func (s *server) stop() { _, _ = s.Terminate(10 * time.Second) }

// startRafka starts bin/rafka against brokers on ports the system picks,
// with a Flight listener, logging warnings only. extra are further flags.
func startRafka(ctx context.Context, bin, brokers, logDir, name string, extra ...string) (*server, string, error) {
	p, err := rafkatest.Start(ctx, rafkatest.Options{Bin: bin, Dir: logDir, Name: name,
		Args: append([]string{"--brokers", brokers, "--log-level", "warn"}, extra...)})
	if err != nil {
		return nil, "", err
	}
	return &server{Proc: p, name: name, addr: p.Addrs.RESP}, p.Addrs.Flight, nil
}

// startRedis starts a throw-away redis-server without persistence. It
// cannot report the port it binds, so it gets one that was free a moment
// ago.
func startRedis(ctx context.Context, logDir string) (*server, error) {
	port, err := rafkatest.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	argv := []string{"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", logDir}
	p, err := rafkatest.StartServer(ctx, logDir, "redis-server", addr, argv)
	if err != nil {
		return nil, err
	}
	return &server{Proc: p, name: "redis-server", addr: addr}, nil
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
	r, err := c.Call("HGETALL", "stats")
	if err != nil {
		return nil, fmt.Errorf("HGETALL stats: %w", err)
	}
	out := make(map[string]int64, len(r.Elems)/2)
	for k, v := range r.Pairs() {
		n, _ := strconv.ParseInt(v, 10, 64)
		out[k] = n
	}
	return out, nil
}
