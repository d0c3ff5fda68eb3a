package streams

import (
	"math"
	"testing"
)

func TestIDFormula(t *testing.T) {
	for _, tc := range []struct {
		partition int32
		offset    int64
		want      string
	}{
		{0, 0, "1-0"}, {3, 0, "1-3"}, {0, 41, "42-0"}, {7, math.MaxInt64 - 1, "9223372036854775807-7"},
	} {
		id := IDOf(tc.partition, tc.offset)
		if id.String() != tc.want {
			t.Errorf("IDOf(%d, %d) = %s, want %s", tc.partition, tc.offset, id, tc.want)
		}
		p, o, ok := id.Record()
		if !ok || p != tc.partition || o != tc.offset {
			t.Errorf("%s.Record() = %d, %d, %v", id, p, o, ok)
		}
	}
	for _, bad := range []ID{{0, 0}, {0, 5}, {1, math.MaxInt32 + 1}, {math.MaxUint64, 0}} {
		if _, _, ok := bad.Record(); ok {
			t.Errorf("%s names a record", bad)
		}
	}
	// Increasing within a partition.
	if !IDOf(2, 9).Less(IDOf(2, 10)) || !IDOf(0, 5).Less(IDOf(1, 5)) {
		t.Error("order")
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in      string
		missing uint64
		want    ID
		ok      bool
	}{
		{"5-3", 0, ID{5, 3}, true},
		{"5", 0, ID{5, 0}, true},
		{"5", math.MaxUint64, ID{5, math.MaxUint64}, true},
		{"0-0", 0, ID{0, 0}, true},
		{"18446744073709551615-18446744073709551615", 0, Max, true},
		{"", 0, ID{}, false}, {"-", 0, ID{}, false}, {"5-", 0, ID{}, false}, {"-5", 0, ID{}, false},
		{"+5", 0, ID{}, false}, {"5-+1", 0, ID{}, false}, {"a-1", 0, ID{}, false}, {"18446744073709551616", 0, ID{}, false},
	} {
		got, err := ParseID(tc.in, tc.missing)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestRangeBounds(t *testing.T) {
	for _, tc := range []struct {
		in    string
		start bool
		want  ID
		ok    bool
	}{
		{"-", true, Min, true}, {"+", false, Max, true},
		{"5", true, ID{5, 0}, true}, {"5", false, ID{5, math.MaxUint64}, true},
		{"(5-3", true, ID{5, 4}, true}, {"(5-3", false, ID{5, 2}, true},
		{"(5-0", false, ID{4, math.MaxUint64}, true},
		{"(5", true, ID{5, 1}, true},
		{"(0-0", false, ID{}, false},
	} {
		got, err := RangeBound(tc.in, tc.start)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("RangeBound(%q, %v) = %v, %v", tc.in, tc.start, got, err)
		}
	}
}

// TestOffsetBounds: FirstOffset and LastOffset agree with the ID order for
// every record of a few partitions.
func TestOffsetBounds(t *testing.T) {
	bounds := []ID{Min, {1, 0}, {1, 2}, {3, 1}, {4, 0}, {4, 3}, {10, math.MaxUint64}, Max}
	for p := int32(0); p < 4; p++ {
		for _, b := range bounds {
			first, last := FirstOffset(p, b), LastOffset(p, b)
			for o := int64(0); o < 12; o++ {
				id := IDOf(p, o)
				atOrAfter := !id.Less(b)
				if atOrAfter != (o >= first) {
					t.Errorf("p%d %s: offset %d at/after = %v, FirstOffset %d", p, b, o, atOrAfter, first)
				}
				atOrBefore := !b.Less(id)
				if atOrBefore != (o <= last) {
					t.Errorf("p%d %s: offset %d at/before = %v, LastOffset %d", p, b, o, atOrBefore, last)
				}
			}
		}
	}
}
