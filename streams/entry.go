package streams

import (
	"bytes"
	"strconv"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Pair is one field and value of an entry.
type Pair struct {
	Field, Value []byte
}

// MarkerHeader is the first header of a record XADD wrote: its value is
// "<i>:<field>", the payload's position among the entry's pairs and its
// field name, or "-" when the entry had no payload field. The other
// headers are the entry's other pairs, in order.
const MarkerHeader = "rafka.stream"

// Mapping turns entries into records and back (streams.md 1).
type Mapping struct {
	payload map[string]bool
}

// NewMapping is the mapping with these payload field names (the setting
// stream_payload_fields): the first of an entry's fields in the list is
// the payload.
func NewMapping(payloadFields []string) *Mapping {
	m := &Mapping{payload: make(map[string]bool, len(payloadFields))}
	for _, f := range payloadFields {
		m.payload[f] = true
	}
	return m
}

// Record fills msg's value and headers from the entry's pairs (at least
// one). With a payload field, its value is the record's value, so a plain
// Kafka consumer sees the payload; without one the value is empty and
// every pair is a header. An entry that reads back the same as a plain
// record (its first field is the payload field "value") gets no marker. The headers and the marker are made in buf (nil:
// fresh memory); msg refers to the pairs' bytes.
func (m *Mapping) Record(msg *kafka.Message, pairs []Pair, buf *RecordBuffer) {
	if buf == nil {
		buf = new(RecordBuffer)
	}
	payload := -1
	for i, p := range pairs {
		if m.payload[string(p.Field)] {
			payload = i
			break
		}
	}
	if payload == 0 && string(pairs[0].Field) == "value" && (len(pairs) == 1 || string(pairs[1].Field) != MarkerHeader) {
		// The entry reads back the same as a plain record: its value, then
		// one pair per header. No marker is needed (and a plain consumer
		// sees no header it did not write).
		msg.Value = pairs[0].Value
		first := len(buf.headers)
		for _, p := range pairs[1:] {
			buf.headers = append(buf.headers, kafka.Header{Key: string(p.Field), Value: p.Value})
		}
		msg.Headers = buf.headers[first:len(buf.headers):len(buf.headers)]
		if len(pairs) == 1 {
			msg.Headers = nil
		}
		return
	}
	mark := len(buf.markers)
	msg.Value = []byte{}
	if payload >= 0 {
		buf.markers = strconv.AppendInt(buf.markers, int64(payload), 10)
		buf.markers = append(buf.markers, ':')
		buf.markers = append(buf.markers, pairs[payload].Field...)
		msg.Value = pairs[payload].Value
	} else {
		buf.markers = append(buf.markers, '-')
	}
	first := len(buf.headers)
	buf.headers = append(buf.headers, kafka.Header{Key: MarkerHeader, Value: buf.markers[mark:len(buf.markers):len(buf.markers)]})
	for i, p := range pairs {
		if i != payload {
			buf.headers = append(buf.headers, kafka.Header{Key: string(p.Field), Value: p.Value})
		}
	}
	msg.Headers = buf.headers[first:len(buf.headers):len(buf.headers)]
}

// RecordBuffer is memory for the headers of records Record makes, kept
// from one batch of entries to the next: the records made since the last
// Reset share it, so a batch allocates none once the buffer has grown.
// The records must not be used after Reset (librdkafka copies a record
// when it is produced).
type RecordBuffer struct {
	headers []kafka.Header
	markers []byte
}

// maxKeptHeaders and maxKeptMarkers bound what a RecordBuffer keeps
// across Reset: a batch of entries with many fields must not leave a
// large buffer behind.
const (
	maxKeptHeaders = 512
	maxKeptMarkers = 8 << 10
)

// Reset forgets the records made since the last Reset and every reference
// to their pairs.
func (b *RecordBuffer) Reset() {
	if cap(b.headers) > maxKeptHeaders || cap(b.markers) > maxKeptMarkers {
		*b = RecordBuffer{}
		return
	}
	clear(b.headers)
	b.headers = b.headers[:0]
	b.markers = b.markers[:0]
}

// Entry is the pairs of a record: the entry XADD wrote, or for any other
// record a field "value" (the record's value, empty for a null one), then
// "key" if the record has a key, then one pair per header.
func (m *Mapping) Entry(msg *kafka.Message) []Pair {
	if pairs, ok := xaddEntry(msg); ok {
		return pairs
	}
	pairs := make([]Pair, 0, 2+len(msg.Headers))
	value := msg.Value
	if value == nil {
		value = []byte{}
	}
	pairs = append(pairs, Pair{Field: []byte("value"), Value: value})
	if msg.Key != nil {
		pairs = append(pairs, Pair{Field: []byte("key"), Value: msg.Key})
	}
	for _, h := range msg.Headers {
		v := h.Value
		if v == nil {
			v = []byte{}
		}
		pairs = append(pairs, Pair{Field: []byte(h.Key), Value: v})
	}
	return pairs
}

// xaddEntry decodes a record XADD wrote (its first header is the marker).
func xaddEntry(msg *kafka.Message) ([]Pair, bool) {
	if len(msg.Headers) == 0 || msg.Headers[0].Key != MarkerHeader {
		return nil, false
	}
	rest := msg.Headers[1:]
	pairs := make([]Pair, 0, len(rest)+1)
	for _, h := range rest {
		v := h.Value
		if v == nil {
			v = []byte{}
		}
		pairs = append(pairs, Pair{Field: []byte(h.Key), Value: v})
	}
	marker := msg.Headers[0].Value
	if bytes.Equal(marker, []byte("-")) {
		return pairs, len(pairs) > 0
	}
	pos, field, ok := bytes.Cut(marker, []byte(":"))
	i, err := strconv.Atoi(string(pos))
	if !ok || err != nil || i < 0 || i > len(pairs) {
		return nil, false // not a marker XADD wrote: read as a plain record
	}
	value := msg.Value
	if value == nil {
		value = []byte{}
	}
	pairs = append(pairs, Pair{})
	copy(pairs[i+1:], pairs[i:])
	pairs[i] = Pair{Field: bytes.Clone(field), Value: value}
	return pairs, true
}
