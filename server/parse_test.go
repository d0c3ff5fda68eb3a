package server

import (
	"testing"
	"time"
)

func TestParseTopicKey(t *testing.T) {
	tests := []struct {
		in        string
		topic     string
		key       string
		keyIsNull bool
		ok        bool
	}{
		{"topics:t", "t", "", true, true},
		{"topics:t:k", "t", "k", false, true},
		{"topics:t:k:with:colons", "t", "k:with:colons", false, true},
		{"topics:t:", "t", "", false, true},
		{"topics:", "", "", true, false},
		{"topics::k", "", "", true, false},
		{"Topics:t", "", "", true, false},
		{"t", "", "", true, false},
	}
	for _, tc := range tests {
		topic, key, ok := parseTopicKey([]byte(tc.in))
		if ok != tc.ok || string(topic) != tc.topic || string(key) != tc.key || (key == nil) != tc.keyIsNull {
			t.Errorf("parseTopicKey(%q) = %q, %q (nil %v), %v", tc.in, topic, key, key == nil, ok)
		}
	}
}

func TestParseConsumeKey(t *testing.T) {
	tests := []struct {
		in     string
		topics []string
		json   string
		plain  bool
		ok     bool
	}{
		{"topics:a", []string{"a"}, "", false, true},
		{"topics:a,b", []string{"a", "b"}, "", false, true},
		{`topics:a:{"x":"1:2"}`, []string{"a"}, `{"x":"1:2"}`, false, true},
		{"topics:", nil, "", false, false},
		{"topics:a,", nil, "", false, false},
		{"a", []string{"a"}, "", true, true}, // a topic key
		{"a,b", nil, "", false, false},       // one topic per topic key
		{"^a", nil, "", false, false},
		{`a:{"x":1}`, nil, "", false, false}, // no JSON on topic keys
	}
	for _, tc := range tests {
		k, err := parseConsumeKey([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("parseConsumeKey(%q) error %v", tc.in, err)
			continue
		}
		if tc.ok && (len(k.topics) != len(tc.topics) || k.json != tc.json || k.plain != tc.plain) {
			t.Errorf("parseConsumeKey(%q) = %+v", tc.in, k)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"5", 5 * time.Second, true},
		{"0.3", 300 * time.Millisecond, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-1", 0, false},
		{"abc", 0, false},
		{"NaN", 0, false},
		{"+Inf", 0, false},
		{"1e300", 0, false},
		{"", 0, false},
		// Found in review (issue 9): a tiny positive timeout blocked forever,
		// and Go's literal syntax was accepted.
		{"1e-320", time.Millisecond, true},
		{"0.0000000001", time.Millisecond, true},
		{"1_0", 0, false},
		{"0x1p-2", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1.", time.Second, true},
		{".5", 500 * time.Millisecond, true},
		{"2e1", 20 * time.Second, true},
		{"1e", 0, false},
		{".", 0, false},
		{"inf", 0, false},
	}
	for _, tc := range tests {
		got, err := parseTimeout([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseTimeout(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestParseAck(t *testing.T) {
	tests := []struct {
		in        string
		topic     string
		partition int32
		offset    int64
		ok        bool
	}{
		{"t:0:5", "t", 0, 5, true},
		{"my.topic-1:12:9000000000", "my.topic-1", 12, 9000000000, true},
		{"t:0:-1", "", 0, 0, false},
		{"t:-1:5", "", 0, 0, false},
		{"t:0", "", 0, 0, false},
		{":0:5", "", 0, 0, false},
		{"t:x:5", "", 0, 0, false},
		{"t:0:5x", "", 0, 0, false},
		{"t:0:9223372036854775807", "", 0, 0, false}, // offset+1 would overflow
		{"t:0:9223372036854775806", "t", 0, 9223372036854775806, true},
		{"", "", 0, 0, false},
	}
	for _, tc := range tests {
		topic, p, o, ok := parseAck([]byte(tc.in))
		if ok != tc.ok || topic != tc.topic || p != tc.partition || o != tc.offset {
			t.Errorf("parseAck(%q) = %q %d %d %v", tc.in, topic, p, o, ok)
		}
	}
}

func TestMemberName(t *testing.T) {
	for in, want := range map[string]string{"g:w": "w", "g:w:1": "w", "g:": ""} {
		if got := memberName(in); got != want {
			t.Errorf("memberName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatMonitorLine(t *testing.T) {
	now := time.Unix(1700000000, 42000)
	got := string(formatMonitorLine(now, "127.0.0.1:5000", [][]byte{[]byte("SET"), []byte("a\"\\\n\x01b")}))
	want := "+1700000000.000042 [0 127.0.0.1:5000] \"SET\" \"a\\\"\\\\\\n\\x01b\"\r\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
