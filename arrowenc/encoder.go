package arrowenc

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// rowOverhead estimates the fixed bytes of one row in the Arrow buffers:
// offsets, partition, offset, timestamp, type, validity and index.
const rowOverhead = 4 + 4 + 2 + 4 + 8 + 8 + 1 + 4 + 2

// Encoder appends Kafka messages to reusable builders and cuts them into
// record batches. It is not safe for concurrent use.
type Encoder struct {
	schema *arrow.Schema
	bldr   *array.RecordBuilder

	key, value *array.BinaryBuilder
	topic      *array.BinaryDictionaryBuilder
	partition  *array.Int32Builder
	offset     *array.Int64Builder
	timestamp  *array.TimestampBuilder
	tsType     *array.Int8Builder
	headers    *array.ListBuilder
	hdrStruct  *array.StructBuilder
	hdrKey     *array.StringBuilder
	hdrValue   *array.BinaryBuilder

	rows  int
	bytes int
}

// NewEncoder returns an encoder for schema (from Schema), allocating from
// mem. Release it when done.
func NewEncoder(mem memory.Allocator, schema *arrow.Schema) *Encoder {
	e := &Encoder{schema: schema, bldr: array.NewRecordBuilder(mem, schema)}
	for i, f := range schema.Fields() {
		b := e.bldr.Field(i)
		switch f.Name {
		case ColKey:
			e.key = b.(*array.BinaryBuilder)
		case ColValue:
			e.value = b.(*array.BinaryBuilder)
		case ColTopic:
			e.topic = b.(*array.BinaryDictionaryBuilder)
		case ColPartition:
			e.partition = b.(*array.Int32Builder)
		case ColOffset:
			e.offset = b.(*array.Int64Builder)
		case ColTimestamp:
			e.timestamp = b.(*array.TimestampBuilder)
		case ColTimestampType:
			e.tsType = b.(*array.Int8Builder)
		case ColHeaders:
			e.headers = b.(*array.ListBuilder)
			e.hdrStruct = e.headers.ValueBuilder().(*array.StructBuilder)
			e.hdrKey = e.hdrStruct.FieldBuilder(0).(*array.StringBuilder)
			e.hdrValue = e.hdrStruct.FieldBuilder(1).(*array.BinaryBuilder)
		default:
			panic(fmt.Sprintf("arrowenc: unknown column %q", f.Name))
		}
	}
	return e
}

// Schema returns the encoder's schema.
func (e *Encoder) Schema() *arrow.Schema { return e.schema }

// Rows returns how many messages wait in the builders.
func (e *Encoder) Rows() int { return e.rows }

// Bytes estimates the size of the waiting rows in Arrow buffers.
func (e *Encoder) Bytes() int { return e.bytes }

// RowBytes estimates what one message adds to Bytes.
func RowBytes(m *kafka.Message) int {
	n := rowOverhead + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// Append adds one message.
func (e *Encoder) Append(m *kafka.Message) {
	appendNullable(e.key, m.Key)
	appendNullable(e.value, m.Value)
	if e.topic != nil {
		topic := ""
		if m.TopicPartition.Topic != nil {
			topic = *m.TopicPartition.Topic
		}
		// The memo table copies what it keeps; no need to copy here.
		_ = e.topic.Append(unsafe.Slice(unsafe.StringData(topic), len(topic)))
	}
	if e.partition != nil {
		e.partition.Append(m.TopicPartition.Partition)
	}
	if e.offset != nil {
		e.offset.Append(int64(m.TopicPartition.Offset))
	}
	tsType := timestampType(m.TimestampType)
	if e.timestamp != nil {
		if tsType < 0 {
			e.timestamp.AppendNull()
		} else {
			e.timestamp.Append(arrow.Timestamp(m.Timestamp.UnixMilli()))
		}
	}
	if e.tsType != nil {
		e.tsType.Append(tsType)
	}
	if e.headers != nil {
		e.headers.Append(true)
		for _, h := range m.Headers {
			e.hdrStruct.Append(true)
			e.hdrKey.Append(h.Key)
			appendNullable(e.hdrValue, h.Value)
		}
	}
	e.rows++
	e.bytes += RowBytes(m)
}

// appendNullable appends v to b (when the column is projected), nil as null.
func appendNullable(b *array.BinaryBuilder, v []byte) {
	switch {
	case b == nil:
	case v == nil:
		b.AppendNull()
	default:
		b.Append(v)
	}
}

// timestampType maps librdkafka's timestamp type to the schema's: 0 create
// time, 1 log-append time, -1 unavailable.
func timestampType(t kafka.TimestampType) int8 {
	switch t {
	case kafka.TimestampCreateTime:
		return 0
	case kafka.TimestampLogAppendTime:
		return 1
	default:
		return -1
	}
}

// NewRecordBatch returns the waiting rows as a record batch (the caller
// releases it) and empties the builders for reuse.
func (e *Encoder) NewRecordBatch() arrow.RecordBatch {
	rec := e.bldr.NewRecordBatch()
	e.rows, e.bytes = 0, 0
	return rec
}

// Release frees the builders.
func (e *Encoder) Release() { e.bldr.Release() }
