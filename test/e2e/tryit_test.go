package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"rafka/test/rafkatest"
)

// tryItProc is the rafka binary running in try-it mode: no brokers
// configured, so it runs the embedded broker on a data directory.
type tryItProc struct {
	*rafkatest.Proc
	addr string // host:port of the RESP listener
}

// startTryIt runs bin with no brokers configured on dataDir and returns it
// with a RESP connection to it. When the test ends a still-running process
// is stopped, and its log is shown if the test failed.
func startTryIt(t *testing.T, bin, dataDir string) (*tryItProc, *respConn) {
	t.Helper()
	p := rafkatest.StartT(t, rafkatest.Options{Bin: bin, Args: []string{"--data-dir", dataDir, "--log-level", "warn"},
		Env: []string{"RAFKA_BROKERS=", "RAFKA_CONFIG="}})
	return &tryItProc{Proc: p, addr: p.Addrs.RESP}, dialRESP(t, p.Addrs.RESP)
}

// stop sends SIGTERM and waits up to 30 s for a clean exit.
func (p *tryItProc) stop(t *testing.T) {
	t.Helper()
	if _, err := p.Terminate(30 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *tryItProc) kill(t *testing.T) { p.Kill() }

// TestTryItMode runs the binary with no brokers configured: it starts the
// embedded broker, auto-creates topics on produce, and keeps topics and
// committed offsets in --data-dir across a restart.
func TestTryItMode(t *testing.T) {
	bin := buildRafka(t)
	dataDir := t.TempDir()

	p, c := startTryIt(t, bin, dataDir)
	c.expect("(integer) 2", "RPUSHX", "topics:tryit", "one", "two")
	c.expect("(integer) 0", "DUMP", "5000")
	c.expect(`["topics:tryit"]`, "KEYS", "topics:")
	c.expect("OK", "CLIENT", "SETNAME", "tg:w")
	first := popN(t, c, `topics:tryit:{"auto.offset.reset":"earliest"}`, 1, 30*time.Second)[0]
	c.expect("(integer) 1", "RPUSH", "acks", first.ack())
	c.expect("OK", "QUIT")
	p.stop(t)

	_, c = startTryIt(t, bin, dataDir)
	c.expect(`["topics:tryit"]`, "KEYS", "topics:")
	c.expect("OK", "CLIENT", "SETNAME", "tg:w")
	second := popN(t, c, `topics:tryit:{"auto.offset.reset":"earliest"}`, 1, 30*time.Second)[0]
	if second.value == first.value {
		t.Fatalf("acked message %q delivered again after restart", first.value)
	}
	if r := c.do("BLPOP", "topics:tryit", "1"); !r.Null {
		t.Fatalf("a third message after restart: %s", r)
	}
}

// TestTryItSurvivesKill checks that a topic the try-it broker auto-created
// on a durable produce, and the message that produce acknowledged, survive
// a SIGKILL of rafka: the topic is listed and the message consumed after a
// restart on the same --data-dir. A second round adds a message to that
// (now recovered) topic and creates another one before killing again.
func TestTryItSurvivesKill(t *testing.T) {
	bin := buildRafka(t)
	dataDir := t.TempDir()

	// consume reads the topic from the start under a new group, on a new
	// connection, and fails unless exactly want arrives (in any order: the
	// topic has several partitions).
	consume := func(p *tryItProc, group, topic string, want ...string) {
		t.Helper()
		c := dialRESP(t, p.addr)
		c.expect("OK", "CLIENT", "SETNAME", group+":m")
		got := popN(t, c, "topics:"+topic+`:{"auto.offset.reset":"earliest"}`, len(want), 30*time.Second)
		var values []string
		for _, m := range got {
			values = append(values, m.value)
		}
		slices.Sort(values)
		if !slices.Equal(values, want) {
			t.Fatalf("%s after restart: got %q, want %q", topic, values, want)
		}
		if r := c.do("BLPOP", "topics:"+topic, "1"); !r.Null {
			t.Fatalf("%s: an extra message after restart: %s", topic, r)
		}
		c.expect("OK", "QUIT")
	}
	// listed fails unless KEYS topics: names every topic in want.
	listed := func(c *respConn, want ...string) {
		t.Helper()
		got := c.do("KEYS", "topics:").String()
		for _, topic := range want {
			if !strings.Contains(got, `"topics:`+topic+`"`) {
				t.Fatalf("topic %s lost after SIGKILL: KEYS topics: = %s", topic, got)
			}
		}
	}

	p, c := startTryIt(t, bin, dataDir)
	c.expect("(integer) 1", "RPUSH", "topics:crash-a", "a1")
	p.kill(t)

	p, c = startTryIt(t, bin, dataDir)
	listed(c, "crash-a")
	c.expect("(integer) 1", "RPUSH", "topics:crash-a", "a2")
	c.expect("(integer) 1", "RPUSH", "topics:crash-b", "b1")
	consume(p, "g1", "crash-a", "a1", "a2")
	p.kill(t)

	p, c = startTryIt(t, bin, dataDir)
	listed(c, "crash-a", "crash-b")
	consume(p, "g2", "crash-a", "a1", "a2")
	consume(p, "g3", "crash-b", "b1")
}
