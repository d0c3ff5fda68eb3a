package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"rafka/acl"
	"rafka/server"
	"rafka/test/rafkatest"
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
	if r := c.do("HELLO", "3"); !r.IsErr("NOAUTH HELLO must be called with the client already authenticated") {
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
	if r.Kind != '%' || r.Pairs()["proto"] != "3" {
		t.Fatalf("HELLO 3 AUTH: %s", r)
	}
	h.expect(`"g:b"`, "CLIENT", "GETNAME")
	// A SETNAME value "auth" is a name, not the AUTH keyword: the password
	// after the real one is redacted. The name is no id, so HELLO fails,
	// before AUTH runs (before, the password showed in MONITOR, and the
	// failed HELLO left the connection authenticated).
	h2 := ts.dial(t)
	if r := h2.do("HELLO", "3", "SETNAME", "auth", "AUTH", "default", "s3cret"); r.Kind != '-' {
		t.Fatalf("HELLO with the name auth: %s", r)
	}
	h2.expect("(error) NOAUTH Authentication required.", "HGETALL", "stats")

	var lines []string
	for len(lines) < 5 {
		l := mon.read(5 * time.Second)
		lines = append(lines, l.Str)
	}
	all := strings.Join(lines, "\n")
	if strings.Contains(all, "s3cret") || !strings.Contains(all, `"AUTH" "(redacted)"`) || !strings.Contains(all, `"AUTH" "(redacted)" "(redacted)" "SETNAME" "g:b"`) {
		t.Errorf("monitor lines:\n%s", all)
	}
}

// dialTLS connects a RESP client over TLS; connecting and the handshake
// take 10 s at most.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*respConn, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	c := rafkatest.NewConn(context.Background(), conn)
	t.Cleanup(func() { c.Close() })
	return newRespConn(t, c), nil
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

// TestACL: users from the ACL file authenticate with their own passwords and
// may produce to, consume from and join only what the file allows.
func TestACL(t *testing.T) {
	topic, other := newTopic(t, 1), newTopic(t, 1)
	group := uniqueName(t, "billing")
	list, err := acl.Parse([]byte(`{"users": {"alice": {"password": "` + acl.HashPassword("wonderland") + `",
		"produce": ["` + topic + `"], "consume": ["` + topic + `"], "groups": ["billing-*"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) {
		c.ACL = list
		c.Settings.RequirePass = "admin-pw"
	})
	c := ts.dial(t)
	c.expect("(error) NOAUTH Authentication required.", "RPUSHX", "topics:"+topic, "v")
	c.expect("(error) WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "alice", "nope")
	c.expect("OK", "AUTH", "alice", "wonderland")
	c.expect("(integer) 1", "RPUSHX", "topics:"+topic, "allowed")
	c.expect(fmt.Sprintf("(error) NOPERM User alice has no permissions to produce to topic '%s'", other), "RPUSHX", "topics:"+other, "v")
	c.expect(fmt.Sprintf("(error) NOPERM User alice has no permissions to produce to topic '%s'", other), "RPUSH", "topics:"+other, "v")
	c.expect("(error) NOPERM User alice has no permissions to run 'MONITOR'", "MONITOR")
	// KEYS lists only what alice may use; the administrator sees both.
	if r := c.do("KEYS", "topics:"+topic); r.String() != `["topics:`+topic+`"]` {
		t.Errorf("alice's KEYS of her topic: %s", r)
	}
	if r := c.do("KEYS", "topics:"+other); r.String() != "[]" {
		t.Errorf("alice's KEYS of another topic: %s", r)
	}
	c.expect("(error) NOPERM User alice has no permissions to run 'DEL stats'", "DEL", "stats")

	w := ts.dial(t)
	w.expect("OK", "AUTH", "alice", "wonderland")
	// A group alice may not join is refused at SETNAME: she can neither take
	// another tenant's names nor learn which are in use.
	w.expect("(error) NOPERM User alice has no permissions to join group 'etl'", "CLIENT", "SETNAME", "etl:w")
	w.expect("(error) NOPERM User alice has no permissions to join group 'etl'", "HELLO", "2", "SETNAME", "etl:w")
	w.expect("(nil)", "CLIENT", "GETNAME")
	w2 := ts.dial(t)
	w2.expect("OK", "AUTH", "alice", "wonderland")
	w2.expect("OK", "CLIENT", "SETNAME", group+":w")
	w2.expect(fmt.Sprintf("(error) NOPERM User alice has no permissions to consume topic '%s'", other), "BLPOP", "topics:"+topic+","+other, "0.1")
	// A regular expression is not a topic, whatever the patterns match.
	w2.expect("(error) CONS Cannot parse topics from `topics:^.*`", "BLPOP", "topics:^.*", "0.1")
	if m := popN(t, w2, "topics:"+topic, 1, 30*time.Second)[0]; m.value != "allowed" {
		t.Fatalf("alice consumed %+v", m)
	}

	admin := ts.dial(t)
	admin.expect("OK", "AUTH", "admin-pw")
	admin.expect("(integer) 1", "RPUSHX", "topics:"+other, "admin may")
	if r := admin.do("KEYS", "topics:"+other); r.String() != `["topics:`+other+`"]` {
		t.Errorf("the administrator's KEYS: %s", r)
	}
}
