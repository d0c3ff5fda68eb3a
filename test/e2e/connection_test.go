package e2e

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConnectionCommands is a scripted conversation covering the commands
// clients send on connect (protocol.md 1.1).
func TestConnectionCommands(t *testing.T) {
	ts := startServer(t)
	c := ts.dial(t)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"ping", "hello"}, `"hello"`},
		{[]string{"ECHO", "a b"}, `"a b"`},
		{[]string{"SELECT", "0"}, "OK"},
		{[]string{"SELECT", "1"}, "(error) ERR DB index is out of range"},
		{[]string{"CLIENT", "GETNAME"}, "(nil)"},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "test"}, "OK"},
		{[]string{"CLIENT", "SETNAME", "grp:member:1"}, "OK"},
		{[]string{"CLIENT", "GETNAME"}, `"grp:member:1"`},
		{[]string{"CLIENT", "SETNAME", "grp:member:1"}, "OK"},
		{[]string{"CLIENT", "SETNAME", "grp:member:2"}, "OK"},
		{[]string{"CLIENT", "GETNAME"}, `"grp:member:2"`},
		{[]string{"CLIENT", "KILL", "x"}, "(error) ERR unknown subcommand 'KILL'"},
		{[]string{"HELLO", "4"}, "(error) NOPROTO unsupported protocol version"},
		{[]string{"COMMAND", "DOCS"}, "[]"},
		{[]string{"COMMAND", "COUNT"}, "(integer) 51"},
		{[]string{"FLUSHALL", "now"}, "(error) ERR unknown command 'FLUSHALL', with args beginning with: 'now' "},
		{[]string{"ECHO"}, "(error) ERR wrong number of arguments for 'echo' command"},
		{[]string{"AUTH", "secret"}, "(error) ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"},
	}
	for _, s := range steps {
		c.expect(s.want, s.args...)
	}

	id := c.do("CLIENT", "ID")
	if id.Kind != ':' || id.Num <= 0 {
		t.Fatalf("CLIENT ID: %s", id)
	}
	info := c.do("CLIENT", "INFO").Str
	for _, field := range []string{"id=", "addr=127.0.0.1:", "name=grp:member:2", "age=", "cmd=client"} {
		if !strings.Contains(info, field) {
			t.Errorf("CLIENT INFO %q lacks %q", info, field)
		}
	}
	other := ts.dial(t)
	other.expect("OK", "CLIENT", "SETNAME", "grp:other")
	list := c.do("CLIENT", "LIST").Str
	if !strings.Contains(list, "name=grp:member:2") || !strings.Contains(list, "name=grp:other") {
		t.Errorf("CLIENT LIST lacks a connection:\n%s", list)
	}

	hello := c.do("HELLO", "3")
	if hello.Kind != '%' {
		t.Fatalf("HELLO 3 must answer a RESP3 map, got %s", hello)
	}
	m := hello.Pairs()
	if m["proto"] != "3" || m["server"] != "rafka" || m["mode"] != "standalone" || m["role"] != "master" || m["id"] == "" {
		t.Errorf("HELLO 3 map: %v", hello)
	}
	r3 := ts.dial(t)
	r3.do("HELLO", "3")
	if r := r3.do("CLIENT", "GETNAME"); r.Kind != '_' {
		t.Errorf("RESP3 null name: got %s (type %c), want _", r, r.Kind)
	}
	hello2 := c.do("HELLO", "2")
	if hello2.Kind != '*' || hello2.Pairs()["proto"] != "2" {
		t.Errorf("HELLO 2 must answer a flat array, got %s", hello2)
	}
	c.expect("OK", "QUIT")
	if _, err := c.tryRead(2 * time.Second); err == nil {
		t.Error("connection still open after QUIT")
	}
}

// TestInfoAndCommand checks that INFO and COMMAND give well-formed replies.
func TestInfoAndCommand(t *testing.T) {
	ts := startServer(t)
	c := ts.dial(t)
	info := c.do("INFO").Str
	for _, s := range []string{"# Server", "redis_version:", "rafka_version:test", "tcp_port:", "uptime_in_seconds:",
		"# Clients", "connected_clients:1", "# Persistence", "loading:0", "# Stats"} {
		if !strings.Contains(info, s) {
			t.Errorf("INFO lacks %q:\n%s", s, info)
		}
	}
	clients := c.do("INFO", "clients").Str
	if !strings.Contains(clients, "# Clients") || strings.Contains(clients, "# Server") {
		t.Errorf("INFO clients: %q", clients)
	}
	all := c.do("COMMAND")
	if count := c.do("COMMAND", "COUNT"); all.Kind != '*' || int64(len(all.Elems)) != count.Num {
		t.Fatalf("COMMAND (COUNT %s): %s", count, all)
	}
	infoReply := c.do("COMMAND", "INFO", "blpop", "nosuch")
	if len(infoReply.Elems) != 2 || infoReply.Elems[0].Elems[0].Str != "blpop" || !infoReply.Elems[1].Null {
		t.Errorf("COMMAND INFO blpop nosuch: %s", infoReply)
	}
}

// TestSetNameRules covers the id rules of protocol.md 1: parse errors,
// uniqueness between live connections, renaming, release on close.
func TestSetNameRules(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	a, b := ts.dial(t), ts.dial(t)
	a.expect("(error) CONS Cannot parse group.id", "CLIENT", "SETNAME", "nogroup")
	a.expect("(error) CONS Cannot parse group.id", "CLIENT", "SETNAME", ":member")
	a.expect("OK", "CLIENT", "SETNAME", "g:a")
	b.expect("(error) CONS id g:a is already taken", "CLIENT", "SETNAME", "g:a")
	// Before a consumer exists, renaming releases the old id.
	a.expect("OK", "CLIENT", "SETNAME", "g:a2")
	b.expect("OK", "CLIENT", "SETNAME", "g:a")
	// An empty name clears an id no consumer owns, as Redis clears a
	// name, and frees it for others.
	b.expect("OK", "CLIENT", "SETNAME", "")
	b.expect("(nil)", "CLIENT", "GETNAME")
	ts.dial(t).expect("OK", "CLIENT", "SETNAME", "g:a")
	b.expect("(error) CONS Connection not ready. Identify yourself using `CLIENT SETNAME` first", "BLPOP", "topics:"+topic, "0.1")
	// Once a consumer exists, only the same name is accepted.
	a.do("BLPOP", "topics:"+topic, "0.1")
	a.expect("OK", "CLIENT", "SETNAME", "g:a2")
	a.expect("(error) CONS Client ID is already set to g:a2", "CLIENT", "SETNAME", "g:other")
	a.expect("(error) CONS Client ID is already set to g:a2", "CLIENT", "SETNAME", "")
	a.expect(`"g:a2"`, "CLIENT", "GETNAME")
	// Disconnecting releases the id at once.
	a.conn.Close()
	c := ts.dial(t)
	waitFor(t, 5*time.Second, "g:a2 released after disconnect", func() bool {
		return c.do("CLIENT", "SETNAME", "g:a2").String() == "OK"
	})
}

// TestSetNameRace: 100 connections race for one id; exactly one wins.
func TestSetNameRace(t *testing.T) {
	ts := startServer(t)
	const n = 100
	conns := make([]*respConn, n)
	for i := range conns {
		conns[i] = ts.dial(t)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		other []string
	)
	start := make(chan struct{})
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c.send("CLIENT", "SETNAME", "race:same")
			r, err := c.tryRead(10 * time.Second)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, err.Error())
			case r.String() == "OK":
				wins++
			case r.String() != "(error) CONS id race:same is already taken":
				other = append(other, r.String())
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins != 1 || len(other) > 0 {
		t.Fatalf("wins = %d (want 1), unexpected replies: %v", wins, other)
	}
}

// TestReconnectAfterQuit: QUIT releases the id before its +OK, so the same
// name can be taken the instant the reply is read.
func TestReconnectAfterQuit(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	for i := 0; i < 10; i++ {
		c := ts.dial(t)
		c.expect("OK", "CLIENT", "SETNAME", "rq:worker")
		c.do("BLPOP", "topics:"+topic, "0.05") // owns a consumer
		c.expect("OK", "QUIT")
		next := ts.dial(t)
		next.expect("OK", "CLIENT", "SETNAME", "rq:worker")
		next.expect("OK", "QUIT")
	}
}

// TestPipelining: replies of commands pipelined before a blocking BLPOP are
// sent before it blocks, in order.
func TestPipelining(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 1)
	c := ts.dial(t)
	c.sendRaw("PING\r\n*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$6\r\npipe:1\r\n" +
		"*3\r\n$5\r\nBLPOP\r\n$" + strconv.Itoa(len("topics:"+topic)) + "\r\ntopics:" + topic + "\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n")
	for _, want := range []string{"PONG", "OK"} {
		if got := c.read(1500 * time.Millisecond); got.String() != want {
			t.Fatalf("pipelined reply: got %s want %s", got, want)
		}
	}
	if got := c.read(10 * time.Second); !got.Null {
		t.Fatalf("BLPOP on an empty topic: got %s, want (nil)", got)
	}
	if got := c.read(2 * time.Second); got.String() != "PONG" {
		t.Fatalf("command after BLPOP: %s", got)
	}
}

// TestProtocolError: malformed RESP gets `ERR Protocol error` and the
// connection is closed; the server keeps serving others.
func TestProtocolError(t *testing.T) {
	ts := startServer(t)
	c := ts.dial(t)
	c.sendRaw("*x\r\n")
	r := c.read(5 * time.Second)
	if !r.IsErr("ERR Protocol error") {
		t.Fatalf("got %s", r)
	}
	if _, err := c.tryRead(2 * time.Second); err == nil {
		t.Fatal("connection open after a protocol error")
	}
	ts.dial(t).expect("PONG", "PING")
	if got := ts.stat(t, "errors.protocol"); got != "1" {
		t.Errorf("errors.protocol = %s, want 1", got)
	}
}
