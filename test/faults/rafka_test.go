package faults

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"rafka/test/rafkatest"
)

// rafkaConfig is the kafka.json of the rafka under test: fast group
// membership (heartbeats every 300 ms, 3 s sessions) so rebalances and the
// expiry of a killed rafka's members take seconds, consumers that start at
// the beginning of the topic, and acked offsets committed every second.
const rafkaConfig = `{
  "consumer": {
    "heartbeat.interval.ms": 300,
    "session.timeout.ms": 3000,
    "auto.offset.reset": "earliest",
    "auto.commit.interval.ms": 1000
  }
}`

// sessionTimeout is the consumers' session.timeout.ms in rafkaConfig: a
// member that died silently stays in the group this long.
const sessionTimeout = 3 * time.Second

// rafkaProc is the rafka binary under test; a restart keeps its address,
// so clients reconnect where they were.
type rafkaProc struct {
	*rafkatest.Proc
	addr string // RESP host:port
}

// startRafka starts rafka against brokers on a port the system picks and
// waits until it answers PING. It is stopped when t ends.
func startRafka(t *testing.T, ctx context.Context, brokers string) *rafkaProc {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kafka.json")
	if err := os.WriteFile(cfg, []byte(rafkaConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	p := rafkatest.StartT(t, rafkatest.Options{Bin: env.rafkaBin, Dir: dir,
		Args: []string{"-c", cfg, "--brokers", brokers, "--flight-addr", "off"}})
	return &rafkaProc{Proc: p, addr: p.Addrs.RESP}
}

// restart kills rafka with SIGKILL (no shutdown, no final commit) and starts
// it again on the same port.
func (r *rafkaProc) restart(ctx context.Context) error { return r.Restart(ctx) }
