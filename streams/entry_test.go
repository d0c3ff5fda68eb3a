package streams

import (
	"fmt"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// testPayloadFields are the setting's default.
var testPayloadFields = []string{"payload", "data", "message", "body", "value"}

func pairs(kv ...string) []Pair {
	out := make([]Pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Pair{Field: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

func render(ps []Pair) string {
	s := ""
	for _, p := range ps {
		s += fmt.Sprintf("%q=%q ", p.Field, p.Value)
	}
	return s
}

// TestRoundTrip: an entry XADD writes reads back identically (order,
// duplicate fields, binary values), and its payload is the record value.
func TestRoundTrip(t *testing.T) {
	m := NewMapping(testPayloadFields)
	// headers counts the record's headers; a negative count means the
	// record is a plain one (no marker), of -headers-1 headers.
	check := func(name string, msg *kafka.Message, entry []Pair, value string, headers int) {
		t.Helper()
		marked := len(msg.Headers) > 0 && msg.Headers[0].Key == MarkerHeader
		if want := headers; want < 0 {
			if headers = -want - 1; marked {
				t.Errorf("%s: a marker on an entry that reads back as a plain record: %v", name, msg.Headers)
			}
		} else if !marked {
			t.Errorf("%s: no marker: %v", name, msg.Headers)
		}
		if string(msg.Value) != value || len(msg.Headers) != headers {
			t.Errorf("%s: value %q, %d headers %v", name, msg.Value, len(msg.Headers), msg.Headers)
		}
		if got := m.Entry(msg); render(got) != render(entry) {
			t.Errorf("%s: read back %s, want %s", name, render(got), render(entry))
		}
	}
	type sharedRecord struct {
		name    string
		msg     *kafka.Message
		entry   []Pair
		value   string
		headers int
	}
	var (
		buf    RecordBuffer
		shared []sharedRecord
	)
	for _, tc := range []struct {
		name    string
		entry   []Pair
		value   string
		headers int
	}{
		{"payload first", pairs("payload", "hello", "a", "1"), "hello", 2},
		{"payload in the middle", pairs("a", "1", "data", "x", "b", "2"), "x", 3},
		{"first payload field wins", pairs("k", "v", "body", "B", "payload", "P"), "B", 3},
		{"no payload field", pairs("a", "1", "b", "2"), "", 3},
		{"duplicates and binary", []Pair{{[]byte("f"), []byte{0, 255}}, {[]byte("f"), []byte("")}, {[]byte("value"), []byte{1}}}, "\x01", 3},
		{"only the payload", pairs("message", "m"), "m", 1},
		// An entry whose first field is the payload field "value" reads
		// back the same as a plain record: no marker.
		{"only value: a plain record", pairs("value", "v"), "v", -1},
		{"value first: a plain record", pairs("value", "v", "a", "1", "a", "2"), "v", -3},
		{"value first, then a pair named as the marker", pairs("value", "v", "rafka.stream", "0:x"), "v", 2},
		{"value not first", pairs("a", "1", "value", "v"), "v", 2},
	} {
		var msg kafka.Message
		m.Record(&msg, tc.entry, nil)
		check(tc.name, &msg, tc.entry, tc.value, tc.headers)
		// The same record made in a buffer shared with other records.
		shared = append(shared, sharedRecord{tc.name, new(kafka.Message), tc.entry, tc.value, tc.headers})
		m.Record(shared[len(shared)-1].msg, tc.entry, &buf)
	}
	// Every record of the buffer is intact after the later ones grew it.
	for _, r := range shared {
		check(r.name+" (shared buffer)", r.msg, r.entry, r.value, r.headers)
	}
	buf.Reset()
	if len(buf.headers) != 0 || len(buf.markers) != 0 {
		t.Errorf("Reset left %d headers and %d marker bytes", len(buf.headers), len(buf.markers))
	}
	for i, h := range buf.headers[:cap(buf.headers)] {
		if h.Key != "" || h.Value != nil {
			t.Fatalf("Reset kept header %d: %v", i, h)
		}
	}
}

// TestPlainRecords: a record any producer wrote reads as value, key, then
// its headers.
func TestPlainRecords(t *testing.T) {
	m := NewMapping(testPayloadFields)
	for _, tc := range []struct {
		name string
		msg  kafka.Message
		want []Pair
	}{
		{"value only", kafka.Message{Value: []byte("v")}, pairs("value", "v")},
		{"null value", kafka.Message{}, pairs("value", "")},
		{"key and headers", kafka.Message{Value: []byte("v"), Key: []byte("k"),
			Headers: []kafka.Header{{Key: "h", Value: []byte("1")}, {Key: "h", Value: nil}}}, pairs("value", "v", "key", "k", "h", "1", "h", "")},
		{"a marker that XADD did not write", kafka.Message{Value: []byte("v"),
			Headers: []kafka.Header{{Key: MarkerHeader, Value: []byte("9:payload")}}}, pairs("value", "v", MarkerHeader, "9:payload")},
	} {
		if got := m.Entry(&tc.msg); render(got) != render(tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, render(got), render(tc.want))
		}
	}
}
