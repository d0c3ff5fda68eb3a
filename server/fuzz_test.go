package server

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/redcon"

	"rafka/clientname"
	"rafka/config"
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
		ended := 0 // the last command end the pieces' scans gave
		for i := 0; i < len(stream) && gotErr == nil; i += step {
			_, gotErr = parts.scan(stream[i:min(i+step, len(stream))])
			if parts.ended > 0 {
				ended = i + parts.ended
			}
		}
		if !sameLimit(gotErr, wantErr) {
			t.Fatalf("whole: %v, in pieces of %d: %v", wantErr, step, gotErr)
		}
		if wantErr == nil {
			// What the scanner passes, redcon parses: a protocol error is
			// the scanner's to answer (redcon's drops the commands before
			// it). Only the end of the stream may stop redcon.
			all, err := redconCommands(stream)
			if err != nil {
				t.Fatalf("the scanner passed %q, redcon refused it: %v", stream, err)
			}
			// Read hands redcon the stream up to the last command end
			// and holds the rest back: that must hold every command
			// redcon would finish, and end where one ends (a command
			// after it parses alone).
			if ended != whole.ended {
				t.Fatalf("%q: the last command ends at %d, in pieces of %d at %d", stream, whole.ended, step, ended)
			}
			if n, _ := redconCommands(stream[:ended]); n != all {
				t.Fatalf("%q: %d commands, %d before the last end the scanner saw (%d)", stream, all, n, ended)
			}
			ping := "*1\r\n$4\r\nPING\r\n"
			if n, err := redconCommands(append(stream[:ended:ended], ping...)); err != nil || n != all+1 {
				t.Fatalf("%q: a command after the end at %d did not parse alone: %d commands (%v)", stream, ended, n, err)
			}
		}
	})
}

// redconCommands is how many commands redcon's reader parses in stream;
// the error is the one that stopped it before the stream's end.
func redconCommands(stream []byte) (int, error) {
	rd := redcon.NewReader(bytes.NewReader(stream))
	n := 0
	for {
		cmds, err := rd.ReadCommands()
		n += len(cmds)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// FuzzClientInput drives what a client chooses for its consumer (issue 9):
// the JSON of a BLPOP key and the id of CLIENT SETNAME, and the group of a
// Flight read. Whatever passes must be on the allow-list by exact spelling,
// with values inside the server's bounds, and names must reach Kafka and
// the ACL patterns unchanged (no byte librdkafka or a log line would cut or
// split them).
func FuzzClientInput(f *testing.F) {
	for _, seed := range []struct{ json, name string }{
		{`{"auto.offset.reset":"earliest"}`, "g:m"},
		{`{"bootstrap.servers\u0000":"evil:1"}`, "bob-g\x00-carol:m"},
		{`{"internal.termination.signal":9}`, "g:m m"},
		{`{"queued.max.messages.kbytes":2097151,"fetch.max.bytes":1}`, "g:\r\n"},
		{`{"log.connection.close":false,"session.timeout.ms":6000}`, "group:member:with:colons"},
		{`{"group.id":"x"}`, ":m"},
		{`{"partition.assignment.strategy":"range, cooperative-sticky"}`, "g"},
	} {
		f.Add(seed.json, seed.name)
	}
	server := config.Properties{"queued.max.messages.kbytes": "1024", "queued.min.messages": "1000"}
	allowed := map[string]bool{}
	for _, n := range config.ClientPropertyNames() {
		allowed[n] = true
	}
	f.Fuzz(func(t *testing.T, json, name string) {
		if k, err := parseConsumeKey([]byte("topics:t:" + json)); err == nil && k.json != "" {
			if props, err := config.ParseProperties([]byte(k.json)); err == nil {
				if config.CheckClientProperties(props, server) == nil {
					for key, v := range props {
						if !allowed[key] {
							t.Fatalf("%q is not on the allow-list but passed", key)
						}
						if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r > '~' }) {
							t.Fatalf("%s=%q passed with a control or non-ASCII byte", key, v)
						}
						if ceiling, ok := server[key]; ok {
							n, _ := strconv.ParseInt(v, 10, 64)
							max, _ := strconv.ParseInt(ceiling, 10, 64)
							if n > max {
								t.Fatalf("%s=%s passed over the server's %s", key, v, ceiling)
							}
						}
					}
				}
			}
		}
		if checkID(name) == nil {
			group, member, ok := strings.Cut(name, ":")
			if !ok || group == "" || len(name) > clientname.MaxName || len(group) > clientname.MaxGroup {
				t.Fatalf("id %q passed", name)
			}
			if strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) {
				t.Fatalf("id %q passed with a space, control or non-ASCII byte", name)
			}
			if memberName(name) != strings.SplitN(member, ":", 2)[0] {
				t.Fatalf("id %q: member %q", name, memberName(name))
			}
		}
		if clientname.CheckGroup(name) == nil && (name == "" || strings.ContainsAny(name, ": \x00\r\n")) {
			t.Fatalf("Flight group %q passed", name)
		}
	})
}
