package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestClientRedisCli plays testdata/rediscli-session.txt through a real
// redis-cli (Debian redis-tools) on one connection and compares its output
// line by line, over RESP2 and RESP3 (redis-cli -3).
//
// The session file: a line "> <command>" is a command, typed as a redis-cli
// user would type it (redis-cli's own quoting: '...' keeps double quotes
// inside, so JSON goes in single quotes); the lines after it are the output
// expected from redis-cli (raw format, as redis-cli prints when its output is
// not a terminal), up to the next command. A line "..." stands for any number
// of output lines; "= <field> <value>" is one entry of a map reply, which
// redis-cli prints as two lines in RESP2 (a flat array) and as one line
// "<field> <value>" in RESP3 (a map); "#" starts a comment line. {{TOPIC}} and
// {{GROUP}} are replaced before use.
func TestClientRedisCli(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		skipOrFail(t, "redis-cli not found (apt-get install redis-tools): %v", err)
	}
	session, err := os.ReadFile("testdata/rediscli-session.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			ts := startServer(t)
			topic := newTopic(t, 1)
			group := uniqueName(t, "g")
			// Two messages already in Kafka, so the session's BLPOPs need no
			// loop: offsets 0 and 1, and the session's RPUSHX makes offset 2.
			produceDirect(t, topic, 0, "first", `{"json":"second"}`)

			text := strings.NewReplacer("{{TOPIC}}", topic, "{{GROUP}}", group).Replace(string(session))
			commands, want := parseCliSession(t, text, proto)

			_, port, err := net.SplitHostPort(ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, cli, "-h", "127.0.0.1", "-p", port, "-"+proto)
			cmd.Stdin = strings.NewReader(strings.Join(commands, "\n") + "\n")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.Output()
			if ctx.Err() != nil {
				t.Fatalf("redis-cli timed out after 60s; output so far:\n%s\nstderr:\n%s", out, stderr.String())
			}
			if err != nil {
				t.Fatalf("redis-cli: %v; output:\n%s\nstderr:\n%s", err, out, stderr.String())
			}
			got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if !matchLines(got, want) {
				t.Fatalf("redis-cli -%s output does not match the session file\n--- got:\n%s\n--- want:\n%s\n--- stderr:\n%s",
					proto, strings.Join(got, "\n"), strings.Join(want, "\n"), stderr.String())
			}
		})
	}
}

// parseCliSession splits a session file into the commands to type and the
// expected output lines for protocol proto ("2" or "3").
func parseCliSession(t *testing.T, text, proto string) (commands, want []string) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "> "):
			commands = append(commands, strings.TrimPrefix(line, "> "))
		case commands == nil:
			t.Fatalf("session line %d: output %q before the first command", i+1, line)
		case strings.HasPrefix(line, "= "):
			field, value, ok := strings.Cut(strings.TrimPrefix(line, "= "), " ")
			if !ok {
				t.Fatalf("session line %d: %q is not \"= <field> <value>\"", i+1, line)
			}
			if proto == "3" {
				want = append(want, field+" "+value)
			} else {
				want = append(want, field, value)
			}
		default:
			want = append(want, line)
		}
	}
	if len(commands) == 0 {
		t.Fatal("session has no commands")
	}
	return commands, want
}

// matchLines reports whether got matches the pattern want, in which a "..."
// line matches any number of lines.
func matchLines(got, want []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "..." {
		for i := 0; i <= len(got); i++ {
			if matchLines(got[i:], want[1:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && got[0] == want[0] && matchLines(got[1:], want[1:])
}
