// Package streams serves the Redis Streams commands over Kafka topics
// (spec: streams.md): a stream is a topic, an entry is a record, and an
// entry's ID is computed from the record's partition and offset.
package streams

import (
	"cmp"
	"errors"
	"math"
	"strconv"
	"strings"
)

// ID is a stream entry ID, <ms>-<seq> as Redis writes it.
//
// The formula: the entry at offset o of partition p has the ID (o+1)-p.
// So within a partition the IDs increase with the offsets, an ID is never
// 0-0, and an ID gives back its record with no lookup: partition = seq,
// offset = ms-1. Across partitions the IDs order entries by offset, then
// by partition.
type ID struct {
	MS, Seq uint64
}

// IDOf is the ID of the record at offset of partition.
func IDOf(partition int32, offset int64) ID {
	return ID{MS: uint64(offset) + 1, Seq: uint64(partition)}
}

// Record is the partition and offset an ID names; ok is false for an ID no
// record has (0-x, or a sequence no partition number reaches).
func (id ID) Record() (partition int32, offset int64, ok bool) {
	if id.MS == 0 || id.MS > math.MaxInt64 || id.Seq > math.MaxInt32 {
		return 0, 0, false
	}
	return int32(id.Seq), int64(id.MS - 1), true
}

// String writes the ID as Redis does.
func (id ID) String() string { return string(id.Append(nil)) }

// Append appends the ID's text to b.
func (id ID) Append(b []byte) []byte {
	b = strconv.AppendUint(b, id.MS, 10)
	b = append(b, '-')
	return strconv.AppendUint(b, id.Seq, 10)
}

// Next is the smallest ID after id; false for Max, which has none.
func (id ID) Next() (ID, bool) {
	switch {
	case id == Max:
		return Max, false
	case id.Seq == math.MaxUint64:
		return ID{MS: id.MS + 1}, true
	}
	return ID{MS: id.MS, Seq: id.Seq + 1}, true
}

// Less orders IDs as Redis does.
func (id ID) Less(o ID) bool { return id.MS < o.MS || id.MS == o.MS && id.Seq < o.Seq }

// Compare is -1, 0 or 1 as id is before, equal to or after o, for sorting.
func (id ID) Compare(o ID) int { return cmp.Or(cmp.Compare(id.MS, o.MS), cmp.Compare(id.Seq, o.Seq)) }

// Min and Max are the smallest and largest IDs ("-" and "+").
var (
	Min = ID{0, 0}
	Max = ID{math.MaxUint64, math.MaxUint64}
)

// errInvalidID is Redis's text for an ID that does not parse.
var errInvalidID = errors.New("Invalid stream ID specified as stream command argument")

// ParseID reads a full or partial ID: "<ms>-<seq>", or "<ms>" whose missing
// sequence is missingSeq (0 for a range's start, the largest for its end,
// as Redis fills them).
func ParseID(s string, missingSeq uint64) (ID, error) {
	msPart, seqPart, full := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil || msPart == "" || msPart[0] == '+' {
		return ID{}, errInvalidID
	}
	if !full {
		return ID{MS: ms, Seq: missingSeq}, nil
	}
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	if err != nil || seqPart == "" || seqPart[0] == '+' {
		return ID{}, errInvalidID
	}
	return ID{MS: ms, Seq: seq}, nil
}

// RangeBound reads one end of an XRANGE: "-" or "+", an ID, or "(" and an
// ID for an exclusive end. start tells which end it is.
func RangeBound(s string, start bool) (ID, error) {
	switch s {
	case "-":
		return Min, nil
	case "+":
		return Max, nil
	}
	exclusive := strings.HasPrefix(s, "(")
	s = strings.TrimPrefix(s, "(")
	missing := uint64(0)
	if !start {
		missing = math.MaxUint64
	}
	id, err := ParseID(s, missing)
	if err != nil {
		return ID{}, err
	}
	if !exclusive {
		return id, nil
	}
	// An exclusive bound is the next ID inward.
	if start {
		if id == Max {
			return ID{}, errInvalidID
		}
		if id.Seq == math.MaxUint64 {
			return ID{MS: id.MS + 1}, nil
		}
		return ID{MS: id.MS, Seq: id.Seq + 1}, nil
	}
	if id == Min {
		return ID{}, errInvalidID
	}
	if id.Seq == 0 {
		return ID{MS: id.MS - 1, Seq: math.MaxUint64}, nil
	}
	return ID{MS: id.MS, Seq: id.Seq - 1}, nil
}

// FirstOffset is the first offset of partition whose entry's ID is at or
// after id.
func FirstOffset(partition int32, id ID) int64 {
	// (o+1, p) >= (ms, seq)  <=>  o+1 > ms, or o+1 == ms and p >= seq.
	if id.MS == 0 {
		return 0
	}
	if id.MS > math.MaxInt64 {
		return math.MaxInt64
	}
	if uint64(partition) >= id.Seq {
		return int64(id.MS - 1)
	}
	return int64(id.MS)
}

// LastOffset is the last offset of partition whose entry's ID is at or
// before id (-1 when none).
func LastOffset(partition int32, id ID) int64 {
	// (o+1, p) <= (ms, seq)  <=>  o+1 < ms, or o+1 == ms and p <= seq.
	if id.MS == 0 {
		return -1
	}
	if id.MS > math.MaxInt64 {
		return math.MaxInt64 - 1
	}
	if uint64(partition) <= id.Seq {
		return int64(id.MS - 1)
	}
	return int64(id.MS) - 2
}
