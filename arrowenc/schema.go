// Package arrowenc turns Kafka messages into Arrow record batches with one
// schema everywhere (the column names of Spark's Kafka source), and writes
// them as Arrow IPC streams.
package arrowenc

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Column names, in schema order.
const (
	ColKey           = "key"
	ColValue         = "value"
	ColTopic         = "topic"
	ColPartition     = "partition"
	ColOffset        = "offset"
	ColTimestamp     = "timestamp"
	ColTimestampType = "timestampType"
	ColHeaders       = "headers"
)

// HeaderType is the type of one header: a struct of a utf8 key and a
// nullable binary value.
var HeaderType = arrow.StructOf(
	arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true},
)

// TopicType is the dictionary type of the topic column.
var TopicType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}

// TimestampType is the type of the timestamp column.
var TimestampType = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// fields are every column of the full schema, in order.
var fields = []arrow.Field{
	{Name: ColKey, Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: ColValue, Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: ColTopic, Type: TopicType},
	{Name: ColPartition, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColOffset, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColTimestamp, Type: TimestampType, Nullable: true},
	{Name: ColTimestampType, Type: arrow.PrimitiveTypes.Int8},
	{Name: ColHeaders, Type: arrow.ListOf(HeaderType)},
}

// Columns returns the names of all columns in schema order.
func Columns() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// Schema returns the schema of the given columns (all when none are given),
// in schema order whatever the order asked for. version is recorded in the
// schema metadata as rafka.version.
func Schema(columns []string, version string) (*arrow.Schema, error) {
	want := map[string]bool{}
	for _, c := range columns {
		c = strings.TrimSpace(c)
		found := false
		for _, f := range fields {
			if f.Name == c {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown column %q (columns: %s)", c, strings.Join(Columns(), ", "))
		}
		want[c] = true
	}
	var out []arrow.Field
	for _, f := range fields {
		if len(want) == 0 || want[f.Name] {
			out = append(out, f)
		}
	}
	md := arrow.NewMetadata([]string{"rafka.version"}, []string{version})
	return arrow.NewSchema(out, &md), nil
}
