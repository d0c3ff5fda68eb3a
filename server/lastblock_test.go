package server

import (
	"bytes"
	"strings"
	"testing"
)

// TestLastBlockCache: a connection caches the parse of its last blocking
// consume's keys only for a request that succeeded and only when small,
// and reuses it only for the same name and the same key bytes.
func TestLastBlockCache(t *testing.T) {
	keys := func(ks ...string) [][]byte {
		out := make([][]byte, len(ks))
		for i, k := range ks {
			out[i] = []byte(k)
		}
		return out
	}
	req := func(name string, k [][]byte, topics ...string) blockRequest {
		return blockRequest{name: name, topics: topics, keys: k, consID: name + "|" + strings.Join(topics, ",")}
	}
	many := make([]string, maxCachedKeys+1)
	for i := range many {
		many[i] = "topics:t"
	}
	for _, tc := range []struct {
		name     string
		remember blockRequest
		askName  string
		askKeys  [][]byte
		want     bool
	}{
		{"same name and keys", req("g:w", keys("topics:a,b"), "a", "b"), "g:w", keys("topics:a,b"), true},
		{"renamed", req("g:w", keys("topics:a"), "a"), "g:w2", keys("topics:a"), false},
		{"other keys", req("g:w", keys("topics:a"), "a"), "g:w", keys("topics:b"), false},
		{"more keys", req("g:w", keys("topics:a"), "a"), "g:w", keys("topics:a", "topics:a"), false},
		{"keys too long", req("g:w", keys("topics:"+strings.Repeat("a", maxCachedKeyBytes)), "a"), "g:w", keys("topics:" + strings.Repeat("a", maxCachedKeyBytes)), false},
		{"too many keys", req("g:w", keys(many...), "t"), "g:w", keys(many...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b lastBlock
			b.remember(tc.remember)
			if got := b.matches(tc.askName, tc.askKeys); got != tc.want {
				t.Fatalf("matches = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("cached request is a copy", func(t *testing.T) {
		k := keys("topics:a")
		var b lastBlock
		b.remember(req("g:w", k, "a"))
		k[0][7] = 'z' // the command's buffer is reused by the next read
		if !b.matches("g:w", keys("topics:a")) || !bytes.Equal(b.keys[0], []byte("topics:a")) {
			t.Fatal("the cache aliases the command's bytes")
		}
		if b.req.keys != nil || cap(b.req.topics) != len(b.req.topics) {
			t.Fatal("the cached request keeps the keys or an appendable topics slice")
		}
	})
	t.Run("a cached request leaves the cache alone", func(t *testing.T) {
		var b lastBlock
		b.remember(req("g:w", keys("topics:a"), "a"))
		b.remember(blockRequest{name: "g:w", topics: []string{"a"}}) // from the cache: no keys
		if !b.matches("g:w", keys("topics:a")) {
			t.Fatal("the cache was dropped")
		}
	})
}
