package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/test/kafkatest"
)

// lockedBuffer is a bytes.Buffer the logger's goroutines may share.
type lockedBuffer struct {
	ch chan struct{}
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.ch <- struct{}{}
	defer func() { <-l.ch }()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.ch <- struct{}{}
	defer func() { <-l.ch }()
	return l.b.String()
}

func resolved(t *testing.T, s config.Settings) *config.Resolved {
	t.Helper()
	r, err := (&config.Config{Settings: s, File: &config.File{General: config.Properties{},
		Consumer: config.Properties{}, Producer: config.Properties{}}}).Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testSettings(t *testing.T) config.Settings {
	s := config.DefaultSettings()
	s.Brokers = kafkatest.Brokers(t)
	s.Host, s.Port = "127.0.0.1", 0
	s.FlightAddr = "127.0.0.1:0"
	s.MetricsAddr = "127.0.0.1:0"
	s.ShutdownTimeout = config.Duration(10 * time.Second)
	return s
}

// TestStartFailureShutsDownStarted: when the last component cannot start
// (its address is taken), the listeners started before it are closed.
func TestStartFailureShutsDownStarted(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := testSettings(t)
	s.PprofAddr = taken.Addr().String()
	logs := &lockedBuffer{ch: make(chan struct{}, 1)}
	p, err := Start(resolved(t, s), "test", zerolog.New(logs))
	if err == nil {
		_ = p.Shutdown(context.Background())
		t.Fatal("Start succeeded with the pprof address taken")
	}
	if !strings.Contains(err.Error(), "pprof profiles listen on "+s.PprofAddr) {
		t.Errorf("error %v", err)
	}
	var bound []string
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct{ Message, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Addr != "" &&
			(strings.HasPrefix(line.Message, "listening for") || strings.HasPrefix(line.Message, "serving")) {
			bound = append(bound, line.Addr)
		}
	}
	if len(bound) < 3 { // RESP, Flight, metrics
		t.Fatalf("bound %v before the failure; logs:\n%s", bound, logs.String())
	}
	for _, addr := range bound {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the failed start", addr)
		}
	}
}

// TestShutdownEndsEveryListener: a started process serves on every
// address it reports, and after Shutdown on none.
func TestShutdownEndsEveryListener(t *testing.T) {
	s := testSettings(t)
	s.PprofAddr = "127.0.0.1:0"
	p, err := Start(resolved(t, s), "test", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	a := p.Addrs()
	addrs := []string{a.RESP, a.Flight, a.Metrics, a.Pprof}
	for _, addr := range addrs {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, addr := range addrs {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Shutdown", addr)
		}
	}
}
