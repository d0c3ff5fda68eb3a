package e2e

import (
	"strings"
	"testing"
	"time"

	"rafka/config"
	"rafka/server"
)

// TestProducerSpawnError: a producer librdkafka refuses to create is
// reported with its reason. (rafka validates its configuration at start-up,
// so this server is built in-process with a configuration main would
// refuse.)
func TestProducerSpawnError(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		props := (&config.File{}).ProducerProperties(env.brokers)
		props["no.such.producer.property"] = "1"
		c.Producer = testProducer(*c, props)
	})
	c := ts.dial(t)
	r := c.do("RPUSHX", "topics:x", "v")
	if !r.IsErr("PROD Error spawning producer: ") || !strings.Contains(r.Str, "No such configuration property") {
		t.Fatalf("got %s", r)
	}
}

// TestFatalConsumerError: a static group member fenced by another member
// with the same group.instance.id gets librdkafka's fatal error, answered
// as `CONS Poll <reason>`. (A client may not set group.instance.id in its
// JSON; here the operator's configuration gives every consumer the same.)
func TestFatalConsumerError(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.Consumer["group.instance.id"] = "static-1" })
	topic := newTopic(t, 1)
	group := uniqueName(t, "g")
	key := `topics:` + topic
	first := ts.dial(t)
	first.expect("OK", "CLIENT", "SETNAME", group+":first")
	waitFor(t, 20*time.Second, "first member joined", func() bool {
		first.do("BLPOP", key, "0.1")
		return len(assignment(t, group)) == 1
	})
	second := ts.dial(t)
	second.expect("OK", "CLIENT", "SETNAME", group+":second")
	second.do("BLPOP", key, "0.1")
	var r reply
	waitFor(t, 30*time.Second, "the fenced member's error", func() bool {
		r = first.do("BLPOP", key, "0.5")
		return !r.Null
	})
	if !r.IsErr("CONS Poll ") || !strings.Contains(strings.ToLower(r.Str), "fenced") {
		t.Fatalf("fenced member got %s", r)
	}
}
