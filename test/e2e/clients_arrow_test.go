package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/acl"
	"rafka/stats"
)

// arrowPython returns the venv's python when it can import redis, pyarrow
// (with Flight) and duckdb; otherwise the test is skipped, or fails with
// RAFKA_REQUIRE_CLIENTS=1.
func arrowPython(t *testing.T) string {
	t.Helper()
	python := venvPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c",
		"import pyarrow, pyarrow.flight, pyarrow.ipc, duckdb; print(pyarrow.__version__, duckdb.__version__)").CombinedOutput()
	if err != nil {
		skipOrFail(t, "%s cannot import pyarrow, pyarrow.flight and duckdb (pip install -r test/python/requirements.txt): %v\n%s", python, err, out)
	}
	t.Logf("pyarrow, duckdb %s", strings.TrimSpace(string(out)))
	return python
}

// runArrowCheck runs test/python/arrow_check.py with args and fails the
// test with its output when it fails.
func runArrowCheck(t *testing.T, python string, args ...string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "python", "arrow_check.py"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("client script: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{script}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s timed out after 120s; output:\n%s", filepath.Base(script), out)
	}
	if err != nil {
		t.Fatalf("%s %s: %v; output:\n%s", filepath.Base(script), args[0], err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// expectedRow is one produced message as arrow_check.py expects to read it
// back: bytes as hex, null as JSON null, the timestamp in ms.
type expectedRow struct {
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Timestamp int64        `json:"timestamp"`
	Headers   [][2]*string `json:"headers"`
}

func hexOrNil(b []byte) *string {
	if b == nil {
		return nil
	}
	s := hex.EncodeToString(b)
	return &s
}

// writeJSON writes v to a file in the test's temporary directory.
func writeJSON(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClientArrowFlight: pyarrow.flight reads a topic into a Table (list,
// info, every endpoint's ticket, app_metadata per batch), every column
// equals what was produced, DuckDB runs SQL over the Table, a CMD
// descriptor projects columns and starts at an offset, errors map to
// pyarrow exceptions, DoPut writes a Table that reads back the same.
func TestClientArrowFlight(t *testing.T) {
	python := arrowPython(t)
	tf := startFlight(t)
	topic := newTopic(t, 2)
	putTopic := newTopic(t, 1) // retention off: its records carry 2023 timestamps

	base := time.UnixMilli(1700000000000)
	var msgs []*kafka.Message
	var want []expectedRow
	next := map[int32]int64{}
	for i := 0; i < 25; i++ {
		p := int32(i % 2)
		if i >= 20 {
			p = 1 // partitions of different sizes: 10 and 15
		}
		m := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: p},
			Key:            []byte(fmt.Sprintf("k%02d", i)),
			Value:          []byte(fmt.Sprintf("v%02d", i)),
			Timestamp:      base.Add(time.Duration(i) * time.Second),
			Headers:        []kafka.Header{{Key: "n", Value: []byte(fmt.Sprint(i))}},
		}
		switch i {
		case 3:
			m.Key = nil // null key
		case 4:
			m.Value = nil // tombstone
		case 5:
			m.Key = []byte{} // empty, not null
			m.Value = []byte{0x00, 0xff, 0xfe, 'x'}
		case 6:
			m.Headers = []kafka.Header{{Key: "dup", Value: []byte("a")}, {Key: "dup", Value: []byte("b")}, {Key: "nil", Value: nil}}
		case 7:
			m.Headers = nil
			m.Value = []byte("grüße ✓")
		}
		msgs = append(msgs, m)
		row := expectedRow{Partition: p, Offset: next[p], Key: hexOrNil(m.Key), Value: hexOrNil(m.Value), Timestamp: m.Timestamp.UnixMilli()}
		row.Headers = [][2]*string{}
		for _, h := range m.Headers {
			k := h.Key
			row.Headers = append(row.Headers, [2]*string{&k, hexOrNil(h.Value)})
		}
		next[p]++
		want = append(want, row)
	}
	produceMessages(t, msgs...)
	expected := writeJSON(t, "expected.json", want)

	runArrowCheck(t, python, "flight",
		"--flight", "grpc+tcp://"+tf.addr, "--topic", topic, "--put-topic", putTopic, "--expected", expected)

	// The script's rows: the PATH read (25), the CMD reads (13 and 4), DoPut
	// (25) and its read back (25).
	if got := tf.stats.Get(stats.FlightRows); got != 25+13+4+25+25 {
		t.Errorf("flight.rows = %d, want %d", got, 25+13+4+25+25)
	}
	if got := tf.stats.Get(stats.FlightBytes); got <= 0 {
		t.Errorf("flight.bytes = %d, want > 0", got)
	}
	waitFor(t, 10*time.Second, "flight.streams.current back to 0", func() bool {
		return tf.stats.Get(statFlightStreams) == 0
	})
	if got := readAll(t, putTopic, 25); len(got) != 25 {
		t.Errorf("DoPut topic holds %d messages, want 25", len(got))
	}
}

// TestClientArrowBLPOP: redis-py fetches ARROW.BLPOP replies (RESP2 and
// RESP3, with projection and lz4/zstd compression), pyarrow.ipc decodes
// each, the rows are every message once in offset order, and the acks the
// script sends per partition are committed.
func TestClientArrowBLPOP(t *testing.T) {
	python := arrowPython(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ts := startServer(t)
			topic := newTopic(t, 2)
			group := uniqueName(t, "g")
			values := map[string][]string{}
			for p, n := range map[int32]int{0: 130, 1: 120} {
				vs := make([]string, n)
				for i := range vs {
					vs[i] = fmt.Sprintf("p%d-m%04d-%s", p, i, strings.Repeat("x", i%17))
				}
				produceDirect(t, topic, p, vs...)
				values[fmt.Sprint(p)] = vs
			}
			expected := writeJSON(t, "expected.json", values)
			_, port, err := net.SplitHostPort(ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			runArrowCheck(t, python, "blpop", "--resp-port", port, "--protocol", fmt.Sprint(proto),
				"--topic", topic, "--group", group, "--expected", expected)

			// The script QUIT after acking the highest offset per partition:
			// closing the consumer commits them.
			waitFor(t, 20*time.Second, "the script's acks committed", func() bool {
				off := committed(t, group, topic, 2)
				return off[0] == 130 && off[1] == 120
			})
			if got := ts.stat(t, "arrow.blpop.rows"); got != "250" {
				t.Errorf("arrow.blpop.rows = %s, want 250", got)
			}
		})
	}
}

// TestClientArrowFlightAuth: pyarrow's authenticate_basic_token works as
// README says against the binary, for the --requirepass default user and for
// a user of the ACL file.
func TestClientArrowFlightAuth(t *testing.T) {
	python := arrowPython(t)
	topic := newTopic(t, 2)
	produceDirect(t, topic, 0, "a", "b")
	produceDirect(t, topic, 1, "c")
	aclFile := writeUsers(t, `{"users": {"reader": {"password": "`+acl.HashPassword("rd-pw")+`", "consume": ["`+topic+`"]}}}`)
	p := startBinary(t, "--requirepass", "pw-for-all", "--acl-file", aclFile)
	for _, cred := range [][2]string{{"default", "pw-for-all"}, {"reader", "rd-pw"}} {
		runArrowCheck(t, python, "auth", "--flight", "grpc+tcp://"+p.flight, "--topic", topic,
			"--user", cred[0], "--password", cred[1], "--rows", "3")
	}
}
