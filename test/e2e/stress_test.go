package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"rafka/test/rafkatest"
)

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestHostileClients runs the real binary and throws at it 10k idle
// connections, slowloris-style partial commands, a 100 MB argument and
// random bytes: it keeps serving another client, with bounded memory.
func TestHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10k connections")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	const conns = 10000
	if lim.Cur < conns+500 {
		t.Skipf("open-file limit %d is below %d", lim.Cur, conns+500)
	}
	bin := buildRafka(t)
	p := rafkatest.StartT(t, rafkatest.Options{Bin: bin, Args: []string{"--brokers", env.brokers, "--flight-addr", "off",
		"--log-level", "error", "--max-clients", "20000"}})
	addr := p.Addrs.RESP
	bystander := dialRESP(t, addr)
	bystander.expect("PONG", "PING")
	base := rssKiB(t, p.Pid())

	// 10k idle connections.
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
	}
	bystander.expect("PONG", "PING")

	// Slowloris: 200 connections each sending a command one byte at a time.
	slow := make([]net.Conn, 200)
	for i := range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		slow[i] = c
		defer c.Close()
	}
	partial := "*3\r\n$6\r\nRPUSHX\r\n$8\r\ntopics:x\r\n$5\r\nhel"
	for j := 0; j < len(partial); j++ {
		for _, c := range slow {
			_, _ = c.Write([]byte{partial[j]})
		}
		if j%10 == 0 {
			bystander.expect("PONG", "PING")
		}
	}

	// A 100 MB argument is refused at its header, before it is buffered.
	big, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	_, _ = big.Write([]byte("*2\r\n$4\r\nECHO\r\n$104857600\r\n"))
	chunk := make([]byte, 1<<20)
	for i := 0; i < 100; i++ {
		_ = big.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := big.Write(chunk); err != nil {
			break // the server closed the connection
		}
	}
	_ = big.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(big).ReadString('\n')
	if line != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Errorf("100 MB argument: %q", line)
	}

	// Random bytes on 100 connections.
	for i := 0; i < 100; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 1+rand.IntN(4096))
		for k := range junk {
			junk[k] = byte(rand.IntN(256))
		}
		_, _ = c.Write(junk)
		c.Close()
	}

	bystander.expect("PONG", "PING")
	rss := rssKiB(t, p.Pid())
	t.Logf("RSS %d KiB at start, %d KiB with %d idle connections after the hostile clients (%.1f KiB per connection)",
		base, rss, conns, float64(rss-base)/conns)
	if perConn := float64(rss-base) / conns; perConn > 40 {
		t.Errorf("%.1f KiB per idle connection", perConn)
	}
	if rss > 600*1024 {
		t.Errorf("RSS %d KiB: memory not bounded", rss)
	}
}
