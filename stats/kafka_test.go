package stats

import (
	"cmp"
	"slices"
	"strings"
	"testing"
)

func snapshotLags(s *Stats) []GroupLag {
	lags, _, _ := s.KafkaSnapshot()
	slices.SortFunc(lags, func(a, b GroupLag) int {
		return cmp.Or(strings.Compare(a.Group, b.Group), strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return lags
}

func TestConsumerLag(t *testing.T) {
	s := New()
	a, b := s.NewConsumerLag("g"), s.NewConsumerLag("g")
	other := s.NewConsumerLag("h")
	steps := []struct {
		name string
		do   func()
		want []GroupLag
	}{
		{"a reports two partitions", func() { a.Update([]PartitionLag{{"t", 0, 5}, {"t", 1, 7}}) },
			[]GroupLag{{"g", "t", 0, 5}, {"g", "t", 1, 7}}},
		{"another group is its own series", func() { other.Update([]PartitionLag{{"t", 0, 100}}) },
			[]GroupLag{{"g", "t", 0, 5}, {"g", "t", 1, 7}, {"h", "t", 0, 100}}},
		{"b takes partition 1 over", func() { b.Update([]PartitionLag{{"t", 1, 6}}) },
			[]GroupLag{{"g", "t", 0, 5}, {"g", "t", 1, 6}, {"h", "t", 0, 100}}},
		{"a forgets partition 1, now b's", func() { a.Forget("t", 1) },
			[]GroupLag{{"g", "t", 0, 5}, {"g", "t", 1, 6}, {"h", "t", 0, 100}}},
		{"a's next report drops partition 0", func() { a.Update(nil) },
			[]GroupLag{{"g", "t", 1, 6}, {"h", "t", 0, 100}}},
		{"a reports 0 again", func() { a.Update([]PartitionLag{{"t", 0, 4}}) },
			[]GroupLag{{"g", "t", 0, 4}, {"g", "t", 1, 6}, {"h", "t", 0, 100}}},
		{"b forgets its partition", func() { b.Forget("t", 1) },
			[]GroupLag{{"g", "t", 0, 4}, {"h", "t", 0, 100}}},
		{"closing a removes its series only", func() { a.Close() },
			[]GroupLag{{"h", "t", 0, 100}}},
		{"closing the last consumer leaves nothing", func() { other.Close(); b.Close() }, []GroupLag{}},
	}
	for _, st := range steps {
		st.do()
		if got := snapshotLags(s); !slices.Equal(got, st.want) {
			t.Fatalf("%s: %v, want %v", st.name, got, st.want)
		}
	}
}

func TestProducerQueue(t *testing.T) {
	s := New()
	p1, p2 := s.NewProducerQueue(), s.NewProducerQueue()
	steps := []struct {
		name            string
		do              func()
		messages, bytes int64
	}{
		{"nothing reported", func() {}, 0, 0},
		{"p1", func() { p1.Update(10, 1000) }, 10, 1000},
		{"p2", func() { p2.Update(5, 50) }, 15, 1050},
		{"p1 drains", func() { p1.Update(1, 100) }, 6, 150},
		{"p2 closes", func() { p2.Close() }, 1, 100},
		{"p1 closes", func() { p1.Close() }, 0, 0},
	}
	for _, st := range steps {
		st.do()
		if _, m, b := s.KafkaSnapshot(); m != st.messages || b != st.bytes {
			t.Fatalf("%s: %d messages, %d bytes, want %d, %d", st.name, m, b, st.messages, st.bytes)
		}
	}
}
