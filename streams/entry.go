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
// every pair is a header.
func (m *Mapping) Record(msg *kafka.Message, pairs []Pair) {
	payload := -1
	for i, p := range pairs {
		if m.payload[string(p.Field)] {
			payload = i
			break
		}
	}
	marker := []byte("-")
	msg.Value = []byte{}
	if payload >= 0 {
		marker = append(strconv.AppendInt(nil, int64(payload), 10), ':')
		marker = append(marker, pairs[payload].Field...)
		msg.Value = pairs[payload].Value
	}
	msg.Headers = make([]kafka.Header, 0, len(pairs))
	msg.Headers = append(msg.Headers, kafka.Header{Key: MarkerHeader, Value: marker})
	for i, p := range pairs {
		if i != payload {
			msg.Headers = append(msg.Headers, kafka.Header{Key: string(p.Field), Value: p.Value})
		}
	}
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
