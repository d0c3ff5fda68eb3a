package arrowflight

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/config"
)

// validTicket is the JSON of a ticket GetFlightInfo would issue.
func validTicket() map[string]any {
	return map[string]any{
		"v": ticketVersion, "topic": "t", "partition": 0, "start": 0, "end": 10,
		"max_batch_rows": defaultBatchRows, "max_batch_bytes": defaultBatchBytes,
	}
}

// TestDecodeTicketLimits: a ticket is client-held, so every field is checked
// again when it is redeemed, against the ceilings descriptors get.
func TestDecodeTicketLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		edit map[string]any // fields set on a valid ticket; nil deletes
		ok   bool
	}{
		{"as issued", nil, true},
		{"16 MiB batches", map[string]any{"max_batch_bytes": 16 << 20}, true},
		{"group mode", map[string]any{"group": "g", "max_records": 10, "idle_ms": 600000, "end": 0}, true},
		{"follow", map[string]any{"end": followEnd}, true},
		{"huge rows", map[string]any{"max_batch_rows": int64(1e12)}, false},
		{"huge bytes", map[string]any{"max_batch_bytes": int64(1e15)}, false},
		{"bytes over 16 MiB", map[string]any{"max_batch_bytes": 16<<20 + 1}, false},
		{"bytes under 1024", map[string]any{"max_batch_bytes": 1023}, false},
		{"no rows", map[string]any{"max_batch_rows": nil}, false},
		{"negative rows", map[string]any{"max_batch_rows": -1}, false},
		{"unknown column", map[string]any{"columns": []string{"value", "nope"}}, false},
		{"unknown compression", map[string]any{"compression": "brotli"}, false},
		{"negative max_records", map[string]any{"group": "g", "max_records": -1}, false},
		{"huge max_records", map[string]any{"group": "g", "max_records": int64(1)<<53 + 1}, false},
		{"negative idle_ms", map[string]any{"group": "g", "idle_ms": -1}, false},
		{"idle_ms over 10 minutes", map[string]any{"group": "g", "idle_ms": 600001}, false},
		{"max_records without group", map[string]any{"max_records": 5}, false},
		{"NUL in the group", map[string]any{"group": "bob-g\x00-carol", "end": 0}, false},
		{"space in the group", map[string]any{"group": "bob-g -carol", "end": 0}, false},
		{"':' in the group", map[string]any{"group": "g:m", "end": 0}, false},
		{"regex topic", map[string]any{"topic": "^.*"}, false},
		{"no topic", map[string]any{"topic": nil}, false},
		{"negative start", map[string]any{"start": -5}, false},
		{"end before start", map[string]any{"start": 5, "end": 4}, false},
		{"unknown field", map[string]any{"max_batch_rowz": 1}, false},
		{"other version", map[string]any{"v": 2}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fields := validTicket()
			for k, v := range c.edit {
				if v == nil {
					delete(fields, k)
				} else {
					fields[k] = v
				}
			}
			b, err := json.Marshal(fields)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeTicket(b, config.DefaultSettings().MaxBatchBytes)
			if c.ok && err != nil {
				t.Fatalf("decodeTicket(%s): %v", b, err)
			}
			if !c.ok && status.Code(err) != codes.InvalidArgument {
				t.Fatalf("decodeTicket(%s) = %v, want InvalidArgument", b, err)
			}
		})
	}
}

// TestParseDescriptorLimits: the ceilings of a CMD descriptor.
func TestParseDescriptorLimits(t *testing.T) {
	for _, c := range []struct {
		name   string
		fields map[string]any
		ok     bool
	}{
		{"defaults", nil, true},
		{"16 MiB batches", map[string]any{"max_batch_bytes": 16 << 20}, true},
		{"bytes over 16 MiB", map[string]any{"max_batch_bytes": 16<<20 + 1}, false},
		{"rows over the ceiling", map[string]any{"max_batch_rows": maxBatchRows + 1}, false},
		{"idle_ms of 10 minutes", map[string]any{"group": "g", "idle_ms": 600000}, true},
		{"idle_ms over 10 minutes", map[string]any{"group": "g", "idle_ms": 600001}, false},
		{"huge max_records", map[string]any{"group": "g", "max_records": int64(1)<<53 + 1}, false},
		{"partitions", map[string]any{"partitions": []int{2, 0}}, true},
		{"group", map[string]any{"group": "team-a.workers_1"}, true},
		{"NUL in the group", map[string]any{"group": "bob-g\x00-carol"}, false},
		{"newline in the group", map[string]any{"group": "bob-g\n-carol"}, false},
		{"a group of 256 bytes", map[string]any{"group": strings.Repeat("g", 256)}, false},
		{"a partition twice", map[string]any{"partitions": []int{0, 1, 0}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fields := map[string]any{"topic": "t"}
			maps.Copy(fields, c.fields)
			b, err := json.Marshal(fields)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b}, config.DefaultSettings().MaxBatchBytes)
			if c.ok && err != nil {
				t.Fatalf("parseDescriptor(%s): %v", b, err)
			}
			if !c.ok && status.Code(err) != codes.InvalidArgument {
				t.Fatalf("parseDescriptor(%s) = %v, want InvalidArgument", b, err)
			}
		})
	}
}
