package authlimit

import (
	"fmt"
	"testing"
	"time"
)

func TestFailedSlowsOneAddress(t *testing.T) {
	l := New(10, 3, 100)
	for i := range 3 {
		if d := l.Failed("10.0.0.1"); d != 0 {
			t.Fatalf("failure %d within the burst waits %v, want 0", i, d)
		}
	}
	d := l.Failed("10.0.0.1")
	if d < 50*time.Millisecond || d > 150*time.Millisecond {
		t.Fatalf("first failure past the burst waits %v, want about 100ms", d)
	}
	if d2 := l.Failed("10.0.0.1"); d2 <= d {
		t.Fatalf("second failure past the burst waits %v, want more than %v", d2, d)
	}
	if d := l.Failed("10.0.0.2"); d != 0 {
		t.Fatalf("another address waits %v, want 0", d)
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
