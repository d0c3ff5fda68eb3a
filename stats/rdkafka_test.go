package stats

import (
	"cmp"
	"os"
	"slices"
	"strings"
	"testing"
)

func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sortLags(l []PartitionLag) []PartitionLag {
	slices.SortFunc(l, func(a, b PartitionLag) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return l
}

func TestParseConsumerLag(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []PartitionLag
		err  string
	}{
		{
			name: "librdkafka consumer sample",
			doc:  readSample(t, "consumer-stats.json"),
			// orders/1 (no committed offset: -1) and the internal
			// partition -1 are left out; a caught-up partition (0) is kept.
			want: []PartitionLag{{"logs", 3, 0}, {"orders", 0, 9}},
		},
		{
			name: "producer sample has no lag",
			doc:  readSample(t, "producer-stats.json"),
		},
		{name: "no topics", doc: `{"type": "consumer", "topics": {}}`},
		{name: "not JSON", doc: `{"topics": `, err: "parse consumer statistics"},
		{name: "wrong type", doc: `{"topics": {"t": {"partitions": {"0": {"partition": 0, "consumer_lag": "x"}}}}}`, err: "parse consumer statistics"},
	}
	for _, c := range cases {
		got, err := ParseConsumerLag(c.doc)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(sortLags(got), c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseProducerQueue(t *testing.T) {
	cases := []struct {
		name            string
		doc             string
		messages, bytes int64
		err             bool
	}{
		{name: "librdkafka producer sample", doc: readSample(t, "producer-stats.json"), messages: 1500, bytes: 153000},
		{name: "consumer sample", doc: readSample(t, "consumer-stats.json")},
		{name: "not JSON", doc: `nope`, err: true},
	}
	for _, c := range cases {
		m, b, err := ParseProducerQueue(c.doc)
		if (err != nil) != c.err || m != c.messages || b != c.bytes {
			t.Errorf("%s: %d messages, %d bytes, %v", c.name, m, b, err)
		}
	}
}

// BenchmarkParseConsumerLag is the cost of one consumer statistics event.
func BenchmarkParseConsumerLag(b *testing.B) {
	doc, err := os.ReadFile("testdata/consumer-stats.json")
	if err != nil {
		b.Fatal(err)
	}
	s := string(doc)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := ParseConsumerLag(s); err != nil {
			b.Fatal(err)
		}
	}
}
