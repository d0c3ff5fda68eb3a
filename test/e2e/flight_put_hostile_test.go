package e2e

import (
	"bytes"
	"context"
	binenc "encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// lengthPatcher rewrites, in the bodies a DoPut sends, the first 8-byte
// little-endian from into to: the decompressed length a compressed
// buffer declares.
type lengthPatcher struct {
	flight.DataStreamWriter
	from, to uint64
}

func (p *lengthPatcher) Send(fd *flight.FlightData) error {
	var from, to [8]byte
	binenc.LittleEndian.PutUint64(from[:], p.from)
	binenc.LittleEndian.PutUint64(to[:], p.to)
	if i := bytes.Index(fd.DataBody, from[:]); i >= 0 {
		copy(fd.DataBody[i:], to[:])
	}
	return p.DataStreamWriter.Send(fd)
}

// TestFlightHostileCompressedPut: what a compressed DoPut batch decodes to
// is bounded (64 MiB, 262144 rows) and refused with InvalidArgument, and
// zstd is refused, the server unharmed. Before (found by attackers'
// reviews), 184 bytes whose compressed buffer declared 100 GiB ended the
// process (the Go runtime's fatal out of memory), four honest 1 GiB zstd
// columns of 115 KB each took RSS to 4.78 GB, and zstd frames declaring a
// 512 MiB window (which arrow-go's decoder allocates outside the
// allocator it is given) took it to 7.2 GB.
func TestFlightHostileCompressedPut(t *testing.T) {
	p := startBinary(t)
	c := dialFlight(t, p.flight)
	topic := newTopic(t, 1)
	mem := memory.NewGoAllocator()
	base := rssKiB(t, p.pid)

	const width = 1 << 20
	wide := arrow.NewSchema([]arrow.Field{
		{Name: "value", Type: arrow.BinaryTypes.Binary},
		{Name: "topic", Type: &arrow.FixedSizeBinaryType{ByteWidth: width}}, // a column DoPut ignores
	}, nil)
	values := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	fixed := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: width})
	many := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	for range 300_000 {
		many.Append(nil)
	}
	values.Append([]byte("v"))
	fixed.Append(make([]byte, width))
	oneWide := array.NewRecordBatch(wide, []arrow.Array{values.NewArray(), fixed.NewArray()}, 1)
	valueOnly := arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.Binary}}, nil)
	manyRows := array.NewRecordBatch(valueOnly, []arrow.Array{many.NewArray()}, 300_000)

	for _, tc := range []struct {
		name    string
		rec     arrow.RecordBatch
		declare uint64 // the decompressed length the column's buffer declares instead (0: its own)
		zstd    bool   // zstd, not LZ4
		want    string
	}{
		{"a buffer declaring 100 GiB", oneWide, 100 << 30, false, "64 MiB"},
		{"an honest 1 MiB column", oneWide, 0, false, ""},
		{"300000 rows", manyRows, 0, false, "at most 262144 rows"},
		{"zstd", oneWide, 0, true, "not zstd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			stream, err := c.DoPut(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ds flight.DataStreamWriter = stream
			if tc.declare != 0 {
				ds = &lengthPatcher{DataStreamWriter: stream, from: width, to: tc.declare}
			}
			codec := ipc.WithLZ4()
			if tc.zstd {
				codec = ipc.WithZstd()
			}
			w := flight.NewRecordWriter(ds, ipc.WithSchema(tc.rec.Schema()), codec, ipc.WithAllocator(mem))
			w.SetFlightDescriptor(pathDesc(topic))
			_ = w.Write(tc.rec)
			_ = w.Close()
			_ = stream.CloseSend()
			var err2 error
			for err2 == nil {
				_, err2 = stream.Recv()
			}
			if tc.want == "" {
				if !strings.Contains(err2.Error(), "EOF") {
					t.Fatalf("DoPut: %v", err2)
				}
				return
			}
			if status.Code(err2) != codes.InvalidArgument || !strings.Contains(err2.Error(), tc.want) {
				t.Fatalf("DoPut: %v, want InvalidArgument with %q", err2, tc.want)
			}
		})
	}
	// Still serving, without the memory.
	if _, err := c.GetFlightInfo(context.Background(), pathDesc(topic)); err != nil {
		t.Fatalf("GetFlightInfo after the DoPuts: %v", err)
	}
	if grown := rssKiB(t, p.pid) - base; grown > 200<<10 {
		t.Errorf("RSS grew by %d KiB", grown)
	}
}
