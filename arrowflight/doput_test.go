package arrowflight

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/arrowenc"
)

// TestRecordBytes: the size counted for flight.put.bytes covers dictionary
// (topic), nested list (headers) and plain columns without tripping on
// arrays that have no dictionary.
func TestRecordBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	topic := "orders"
	msg := &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 1, Offset: 7},
		Key:            []byte("k"), Value: []byte("a value of some length"),
		Headers: []kafka.Header{{Key: "h", Value: []byte("v")}},
	}
	cases := []struct {
		name    string
		columns []string
	}{
		{"value only", []string{"value"}},
		{"dictionary topic", []string{"topic"}},
		{"headers list", []string{"headers"}},
		{"every column", nil},
	}
	sizes := map[string]int64{}
	for _, c := range cases {
		schema, err := arrowenc.Schema(c.columns, "test")
		if err != nil {
			t.Fatal(err)
		}
		enc := arrowenc.NewEncoder(mem, schema)
		for range 3 {
			enc.Append(msg)
		}
		rec := enc.NewRecordBatch()
		sizes[c.name] = recordBytes(rec)
		rec.Release()
		enc.Release()
		if sizes[c.name] <= 0 {
			t.Errorf("%s: %d bytes", c.name, sizes[c.name])
		}
	}
	if all := sizes["every column"]; all < sizes["value only"]+sizes["dictionary topic"]+sizes["headers list"] {
		t.Errorf("every column: %d bytes, less than its parts %v", all, sizes)
	}
}

// TestRPCCode: plain errors of a cancelled or timed-out stream are counted
// as Canceled and DeadlineExceeded, not Unknown; status errors keep their
// code.
func TestRPCCode(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{status.Error(codes.NotFound, "x"), codes.NotFound},
		{fmt.Errorf("send flight info: %w", context.Canceled), codes.Canceled},
		{fmt.Errorf("write batch: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{errors.New("something else"), codes.Unknown},
	}
	for _, tt := range tests {
		if got := rpcCode(tt.err); got != tt.want {
			t.Errorf("rpcCode(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
