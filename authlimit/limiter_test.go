package authlimit

import (
	"fmt"
	"testing"
	"time"
)

func TestBeginLimitsFailures(t *testing.T) {
	l := New(10, 3, 100)
	var checking []Attempt
	for i := range 3 {
		a, ok, _ := l.Begin("10.0.0.1")
		if !ok {
			t.Fatalf("login %d within the allowance refused", i)
		}
		checking = append(checking, a)
	}
	// Three are being checked: a fourth in parallel is not.
	if _, ok, _ := l.Begin("10.0.0.1"); ok {
		t.Fatal("a login past the allowance, counting those being checked, was allowed")
	}
	for _, a := range checking {
		a.Failed()
	}
	_, ok, retry := l.Begin("10.0.0.1")
	if ok || retry < 50*time.Millisecond || retry > 150*time.Millisecond {
		t.Fatalf("past the allowance: ok=%v retry=%v, want refused for about 100ms", ok, retry)
	}
	// A refusal costs nothing: the next is refused for no longer.
	if _, ok, retry2 := l.Begin("10.0.0.1"); ok || retry2 > retry {
		t.Fatalf("second refusal: ok=%v retry=%v after %v", ok, retry2, retry)
	}
	if _, ok, _ := l.Begin("10.0.0.2"); !ok {
		t.Fatal("another host refused")
	}
	time.Sleep(retry + 20*time.Millisecond)
	if _, ok, _ := l.Begin("10.0.0.1"); !ok {
		t.Fatal("refused after the allowance came back")
	}
}

func TestSucceededGivesBack(t *testing.T) {
	l := New(1, 2, 100)
	for i := range 100 {
		a, ok, _ := l.Begin("10.0.0.1")
		if !ok {
			t.Fatalf("successful login %d refused", i)
		}
		a.Succeeded()
	}
}

func TestAddressesBounded(t *testing.T) {
	l := New(1, 1, 10)
	for i := range 1000 {
		if a, ok, _ := l.Begin(fmt.Sprintf("10.0.%d.%d", i/256, i%256)); ok {
			a.Failed()
		}
	}
	if n := len(l.addrs); n > 10 {
		t.Fatalf("%d addresses remembered, want at most 10", n)
	}
}

func TestHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"127.0.0.1:6380", "127.0.0.1"},
		{"[::1]:1", "::/64"},
		{"[2001:db8:1:2:aaaa::1]:5000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:5001", "2001:db8:1:2::/64"},
		{"pipe", "pipe"},
	} {
		if got := Host(c.in); got != c.want {
			t.Errorf("Host(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
