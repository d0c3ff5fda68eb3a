package e2e

import (
	"bufio"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"rafka/server"
)

// TestRequirePass: with a password, only AUTH, HELLO ... AUTH, PING and QUIT
// run before authentication; MONITOR never shows the password.
func TestRequirePass(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.Settings.RequirePass = "s3cret" })
	c := ts.dial(t)
	c.expect("PONG", "PING")
	c.expect("(error) NOAUTH Authentication required.", "CLIENT", "SETNAME", "g:a")
	c.expect("(error) NOAUTH Authentication required.", "RPUSHX", "topics:x", "v")
	c.expect("(error) NOAUTH Authentication required.", "HGETALL", "stats")
	if r := c.do("HELLO", "3"); !r.isErr("NOAUTH HELLO must be called with the client already authenticated") {
		t.Errorf("HELLO without AUTH: %s", r)
	}
	c.expect("(error) WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "nope")
	c.expect("(error) WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "default", "nope")
	c.expect("(error) WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "alice", "s3cret")

	mon := ts.dial(t)
	mon.expect("OK", "AUTH", "default", "s3cret")
	mon.expect("OK", "MONITOR")

	c.expect("OK", "AUTH", "s3cret")
	c.expect("OK", "CLIENT", "SETNAME", "g:a")

	h := ts.dial(t)
	r := h.do("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "g:b")
	if r.kind != '%' || r.pairs()["proto"] != "3" {
		t.Fatalf("HELLO 3 AUTH: %s", r)
	}
	h.expect(`"g:b"`, "CLIENT", "GETNAME")

	var lines []string
	for len(lines) < 4 {
		l := mon.read(5 * time.Second)
		lines = append(lines, l.str)
	}
	all := strings.Join(lines, "\n")
	if strings.Contains(all, "s3cret") || !strings.Contains(all, `"AUTH" "(redacted)"`) || !strings.Contains(all, `"AUTH" "(redacted)" "(redacted)" "SETNAME" "g:b"`) {
		t.Errorf("monitor lines:\n%s", all)
	}
}

// dialTLS connects a RESP client over TLS.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*respConn, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	return &respConn{t: t, conn: conn, rd: bufio.NewReader(conn)}, nil
}

// TestRESPTLS: the RESP listener serves TLS, and with a CA requires client
// certificates.
func TestRESPTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	c, err := dialTLS(t, ts.addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	c.expect("PONG", "PING")
	topic := newTopic(t, 1)
	c.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	produceDirect(t, topic, 0, "over-tls")
	if m := popN(t, c, "topics:"+topic, 1, 30*time.Second)[0]; m.value != "over-tls" {
		t.Fatalf("BLPOP over TLS: %+v", m)
	}
	plain := ts.dial(t)
	plain.sendRaw("PING\r\n")
	if _, err := plain.tryRead(3 * time.Second); err == nil {
		t.Error("a plaintext client was answered by the TLS listener")
	}

	mtls := startServer(t, func(c *server.Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	})
	if nc, err := dialTLS(t, mtls.addr, &tls.Config{RootCAs: pool}); err == nil {
		nc.send("PING")
		if _, err := nc.tryRead(3 * time.Second); err == nil {
			t.Error("a client without a certificate was served")
		}
	}
	withCert, err := dialTLS(t, mtls.addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	withCert.expect("PONG", "PING")
}
