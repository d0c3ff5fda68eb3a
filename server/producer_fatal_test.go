package server

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/embedded"
	"rafka/stats"
)

// TestFatalProducerReplaced puts a connection's producer into librdkafka's
// fatal state (as an unrecoverable idempotence error would) and checks that
// the next produce on the same connection gets a fresh producer instead of
// failing forever.
func TestFatalProducerReplaced(t *testing.T) {
	b, err := embedded.Start(embedded.Options{AutoCreateTopics: true, Partitions: 1, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	file := &config.File{}
	settings := config.DefaultSettings()
	settings.Host, settings.Port = "127.0.0.1", 0
	st := stats.New()
	s := New(Config{
		Settings: settings,
		Consumer: file.ConsumerProperties(b.Addr()),
		Producer: file.ProducerProperties(b.Addr()),
		General:  file.GeneralProperties(b.Addr()),
		Version:  "test",
		Stats:    st,
		Log:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()

	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	do := func(cmd string) string {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return strings.TrimSpace(line)
	}

	if got := do("RPUSH topics:fatal-test first"); got != ":1" {
		t.Fatalf("durable RPUSH: %q", got)
	}
	clients := s.clients.snapshot()
	if len(clients) != 1 {
		t.Fatalf("%d clients registered, want 1", len(clients))
	}
	c := clients[0]
	c.mu.Lock()
	old := c.producer
	c.mu.Unlock()
	old.InjectFatalError("injected by the test")
	if old.Fatal() == nil {
		t.Fatal("the injected fatal error is not reported")
	}

	if got := do("RPUSH topics:fatal-test second"); got != ":1" {
		t.Fatalf("durable RPUSH after the fatal error: %q", got)
	}
	c.mu.Lock()
	replacement := c.producer
	c.mu.Unlock()
	if replacement == old || replacement == nil {
		t.Fatal("the fatal producer was not replaced")
	}
	if got := st.Get(stats.ProducersCreated); got != 2 {
		t.Errorf("producers created = %d, want 2", got)
	}
	if got := st.Get(stats.ProducersCurrent); got != 1 {
		t.Errorf("producers current = %d, want 1 (the fatal one closed)", got)
	}
}
