package authlimit

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestWaitAfterFailures(t *testing.T) {
	l := New(10, 3, 100)
	if d := l.delay("10.0.0.1"); d != 0 {
		t.Fatalf("an address that never failed waits %v", d)
	}
	for range 3 {
		l.Failed("10.0.0.1")
	}
	// The burst is spent: the next login of that address waits ~100ms, the
	// one after a further failure ~200ms; other addresses do not wait.
	if d := l.delay("10.0.0.1"); d < 50*time.Millisecond || d > 150*time.Millisecond {
		t.Fatalf("after the burst the next login waits %v, want about 100ms", d)
	}
	l.Failed("10.0.0.1")
	if d := l.delay("10.0.0.1"); d < 150*time.Millisecond || d > 250*time.Millisecond {
		t.Fatalf("one failure past the burst: the next login waits %v, want about 200ms", d)
	}
	if d := l.delay("10.0.0.2"); d != 0 {
		t.Fatalf("another address waits %v, want 0", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, "10.0.0.1"); err == nil {
		t.Fatal("Wait with an ended context returned nil")
	}
}

func TestAddressesBounded(t *testing.T) {
	l := New(1, 1, 10)
	for i := range 1000 {
		l.Failed(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := len(l.addrs); n > 10 {
		t.Fatalf("%d addresses remembered, want at most 10", n)
	}
}

func TestHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"127.0.0.1:6380", "127.0.0.1"},
		{"[::1]:1", "::1"},
		{"pipe", "pipe"},
	} {
		if got := Host(c.in); got != c.want {
			t.Errorf("Host(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
