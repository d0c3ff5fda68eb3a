package server

import (
	"bytes"
	"testing"
)

// FuzzParsers feeds one argument to every parser a client reaches through
// keys and values: none may panic, and what parses must round-trip.
func FuzzParsers(f *testing.F) {
	for _, seed := range []string{"topics:t", "topics:t:k", "topics:a,b:{\"x\":1}", "t:0:5", "t:-1:5",
		"0.3", "-1", "1e400", "", ":", "topics:", "topics::", "a:b:c:d", "\xff\x00"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, arg []byte) {
		if topic, key, ok := parseTopicKey(arg); ok {
			rebuilt := append(append([]byte("topics:"), topic...), nil...)
			if key != nil {
				rebuilt = append(append(rebuilt, ':'), key...)
			}
			if !bytes.Equal(rebuilt, arg) {
				t.Fatalf("parseTopicKey(%q) = %q, %q", arg, topic, key)
			}
		}
		if k, err := parseConsumeKey(arg); err == nil && len(k.topics) == 0 {
			t.Fatalf("parseConsumeKey(%q) accepted no topic", arg)
		}
		if topic, p, o, ok := parseAck(arg); ok && (topic == "" || p < 0 || o < 0) {
			t.Fatalf("parseAck(%q) = %q %d %d", arg, topic, p, o)
		}
		if d, err := parseTimeout(arg); err == nil && d < 0 {
			t.Fatalf("parseTimeout(%q) = %v", arg, d)
		}
	})
}

// FuzzRequestScanner: the limit scanner gives the same verdict whether a
// stream arrives whole or in pieces, and never panics.
func FuzzRequestScanner(f *testing.F) {
	for _, seed := range []string{"*1\r\n$4\r\nPING\r\n", "PING\r\n", "*3\r\n$5\r\nBLPOP\r\n$8\r\ntopics:t\r\n$1\r\n0\r\n",
		"*2\r\n$4\r\nECHO\r\n$99999\r\n", "*99\r\n", "*x\r\n", "\r\n\r\n"} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, piece uint8) {
		whole := requestScanner{maxBulk: 64, maxArgs: 8, maxInline: 32}
		_, wantErr := whole.scan(stream)
		parts := requestScanner{maxBulk: 64, maxArgs: 8, maxInline: 32}
		step := int(piece)%7 + 1
		var gotErr error
		for i := 0; i < len(stream) && gotErr == nil; i += step {
			_, gotErr = parts.scan(stream[i:min(i+step, len(stream))])
		}
		if gotErr != wantErr {
			t.Fatalf("whole: %v, in pieces of %d: %v", wantErr, step, gotErr)
		}
	})
}
