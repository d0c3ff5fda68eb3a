package e2e

import (
	"net"
	"testing"
	"time"
)

// FuzzRESPStream sends arbitrary bytes to a live server: whatever a client
// sends, the server keeps serving other clients.
func FuzzRESPStream(f *testing.F) {
	for _, seed := range []string{
		"PING\r\n", "*1\r\n$4\r\nPING\r\n", "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n",
		"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\ng:w\r\n*3\r\n$5\r\nBLPOP\r\n$8\r\ntopics:t\r\n$3\r\n0.1\r\n",
		"*3\r\n$6\r\nRPUSHX\r\n$8\r\ntopics:t\r\n$1\r\nv\r\n", "RPUSH acks t:0:1\r\n", "HELLO 3\r\nHGETALL stats\r\n",
		"*-1\r\n", "*1\r\n$-1\r\n", "\"unbalanced\r\n", "*2\r\n$4\r\nECHO\r\n$99999999999\r\n", "\x00\xff\r\n",
		"MONITOR\r\nPING\r\nQUIT\r\n", "ARROW.BLPOP topics:t 0.1 COUNT x\r\n", "DUMP -1\r\nKEYS *\r\nDEL stats x\r\n",
	} {
		f.Add([]byte(seed))
	}
	ts := startServer(f)
	f.Fuzz(func(t *testing.T, stream []byte) {
		conn, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
		if err != nil {
			t.Fatalf("server no longer accepts connections: %v", err)
		}
		_ = conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = conn.Write(stream)
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				break
			}
		}
		conn.Close()
		c := dialRESP(t, ts.addr)
		if r := c.do("PING"); r.String() != "PONG" {
			t.Fatalf("bystander PING after %q: %s", stream, r)
		}
	})
}
