package locks

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSetConditions(t *testing.T) {
	cases := []struct {
		name    string
		preset  bool
		opt     SetOptions
		wantSet bool
	}{
		{"plain on absent", false, SetOptions{}, true},
		{"plain on present", true, SetOptions{}, true},
		{"NX on absent", false, SetOptions{Condition: IfAbsent}, true},
		{"NX on present", true, SetOptions{Condition: IfAbsent}, false},
		{"XX on absent", false, SetOptions{Condition: IfExisting}, false},
		{"XX on present", true, SetOptions{Condition: IfExisting}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := New()
			if tc.preset {
				if ok, err := tab.Set("ns", "k", []byte("old"), SetOptions{}); !ok || err != nil {
					t.Fatalf("preset: %v %v", ok, err)
				}
			}
			ok, err := tab.Set("ns", "k", []byte("new"), tc.opt)
			if err != nil || ok != tc.wantSet {
				t.Fatalf("Set = %v, %v; want %v", ok, err, tc.wantSet)
			}
			v, _ := tab.Get("ns", "k")
			want := map[bool]string{true: "new", false: ""}[tc.wantSet]
			if !tc.wantSet && tc.preset {
				want = "old"
			}
			if string(v) != want {
				t.Fatalf("Get = %q, want %q", v, want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	tab := New()
	if ok, _ := tab.Set("ns", "k", []byte("t"), SetOptions{Condition: IfAbsent, TTL: 50 * time.Millisecond}); !ok {
		t.Fatal("first NX failed")
	}
	if p := tab.PTTL("ns", "k"); p <= 0 || p > 50 {
		t.Fatalf("PTTL = %d, want 1..50", p)
	}
	if ok, _ := tab.Set("ns", "k", []byte("u"), SetOptions{Condition: IfAbsent}); ok {
		t.Fatal("NX over a live key succeeded")
	}
	// KEEPTTL keeps the expiry; a plain SET clears it.
	if ok, _ := tab.Set("ns", "k", []byte("t"), SetOptions{KeepTTL: true}); !ok || tab.PTTL("ns", "k") < 0 {
		t.Fatalf("KEEPTTL lost the expiry: PTTL %d", tab.PTTL("ns", "k"))
	}
	time.Sleep(80 * time.Millisecond)
	if tab.Exists("ns", "k") || tab.PTTL("ns", "k") != -2 {
		t.Fatal("the key outlived its TTL")
	}
	if ok, _ := tab.Set("ns", "k", []byte("u"), SetOptions{Condition: IfAbsent}); !ok {
		t.Fatal("NX after expiry failed")
	}
	if p := tab.PTTL("ns", "k"); p != -1 {
		t.Fatalf("PTTL of a key without expiry = %d, want -1", p)
	}
}

func TestNamespacesAreSeparate(t *testing.T) {
	tab := New()
	tab.Set("alice", "k", []byte("a"), SetOptions{})
	if _, ok := tab.Get("bob", "k"); ok {
		t.Fatal("bob sees alice's key")
	}
	if tab.Del("bob", "k") != 0 || tab.Release("bob", "k", []byte("a")) {
		t.Fatal("bob removed alice's key")
	}
	if v, _ := tab.Get("alice", "k"); string(v) != "a" {
		t.Fatalf("alice's key = %q", v)
	}
}

func TestBounds(t *testing.T) {
	tab := New()
	long := strings.Repeat("x", MaxKeyBytes+1)
	if _, err := tab.Set("ns", long, nil, SetOptions{}); err != ErrTooLong {
		t.Fatalf("long key: %v", err)
	}
	if _, err := tab.Set("ns", "k", []byte(long), SetOptions{}); err != ErrTooLong {
		t.Fatalf("long value: %v", err)
	}
	for i := range MaxKeys {
		ttl := time.Duration(0)
		if i < 10 {
			ttl = time.Second // long enough for the rest to be set, and the bound checked, first
		}
		if _, err := tab.Set("ns", fmt.Sprint(i), nil, SetOptions{TTL: ttl}); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	if _, err := tab.Set("ns", "one more", nil, SetOptions{}); err != ErrFull {
		t.Fatalf("over the bound: %v, want ErrFull", err)
	}
	// Overwriting an existing key needs no room; another namespace has its own.
	if _, err := tab.Set("ns", "100", []byte("v"), SetOptions{}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if _, err := tab.Set("other", "k", nil, SetOptions{}); err != nil {
		t.Fatalf("other namespace: %v", err)
	}
	// Expired keys make room.
	time.Sleep(1100 * time.Millisecond)
	for i := range 10 {
		if _, err := tab.Set("ns", fmt.Sprint("new", i), nil, SetOptions{}); err != nil {
			t.Fatalf("after expiry, key %d: %v", i, err)
		}
	}
	if _, err := tab.Set("ns", "eleventh", nil, SetOptions{}); err != ErrFull {
		t.Fatalf("over the bound again: %v, want ErrFull", err)
	}
	// Get returns a copy.
	v, _ := tab.Get("ns", "100")
	v[0] = 'X'
	if w, _ := tab.Get("ns", "100"); !bytes.Equal(w, []byte("v")) {
		t.Fatalf("Get's slice aliases the table: %q", w)
	}
}

func TestTokenOperations(t *testing.T) {
	cases := []struct {
		name     string
		ttl      time.Duration // of the lock; 0: none
		op       func(*Table) bool
		want     bool
		wantPTTL func(int64) bool
	}{
		{"release, right token", time.Second, func(t *Table) bool { return t.Release("ns", "k", []byte("tok")) }, true,
			func(p int64) bool { return p == -2 }},
		{"release, wrong token", time.Second, func(t *Table) bool { return t.Release("ns", "k", []byte("bad")) }, false,
			func(p int64) bool { return p > 0 }},
		{"release, no key", 0, func(t *Table) bool { return t.Release("ns", "none", []byte("tok")) }, false,
			func(p int64) bool { return p == -1 }},
		{"extend adds", time.Second, func(t *Table) bool { return t.Extend("ns", "k", []byte("tok"), 5*time.Second, false) }, true,
			func(p int64) bool { return p > 5500 && p <= 6000 }},
		{"extend replaces", time.Second, func(t *Table) bool { return t.Extend("ns", "k", []byte("tok"), 5*time.Second, true) }, true,
			func(p int64) bool { return p > 4500 && p <= 5000 }},
		{"extend, no expiry", 0, func(t *Table) bool { return t.Extend("ns", "k", []byte("tok"), time.Second, true) }, false,
			func(p int64) bool { return p == -1 }},
		{"extend, wrong token", time.Second, func(t *Table) bool { return t.Extend("ns", "k", []byte("bad"), time.Hour, true) }, false,
			func(p int64) bool { return p > 0 && p <= 1000 }},
		{"reacquire", time.Second, func(t *Table) bool { return t.Expire("ns", "k", []byte("tok"), time.Hour) }, true,
			func(p int64) bool { return p > 3500_000 }},
		{"extend saturates", time.Duration(math.MaxInt64), func(t *Table) bool { return t.Extend("ns", "k", []byte("tok"), MaxTTL, false) }, true,
			func(p int64) bool { return p > MaxTTL.Milliseconds()-1000 && p <= MaxTTL.Milliseconds() }},
		{"reacquire, zero deletes", time.Second, func(t *Table) bool { return t.Expire("ns", "k", []byte("tok"), 0) }, true,
			func(p int64) bool { return p == -2 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := New()
			tab.Set("ns", "k", []byte("tok"), SetOptions{TTL: tc.ttl})
			if got := tc.op(tab); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if p := tab.PTTL("ns", "k"); !tc.wantPTTL(p) {
				t.Fatalf("PTTL after = %d", p)
			}
		})
	}
}
