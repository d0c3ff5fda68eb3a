package arrowenc

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Compression names an IPC body compression.
type Compression string

// The compressions; none is the default (compression is slower than a LAN).
const (
	CompressionNone Compression = "none"
	CompressionLZ4  Compression = "lz4"
	CompressionZstd Compression = "zstd"
)

// ParseCompression reads a compression name ("" means none).
func ParseCompression(s string) (Compression, error) {
	switch Compression(s) {
	case "", CompressionNone:
		return CompressionNone, nil
	case CompressionLZ4, CompressionZstd:
		return Compression(s), nil
	}
	return "", fmt.Errorf("unknown compression %q (none, lz4, zstd)", s)
}

// IPCOptions are the ipc writer options for schema, allocator and
// compression.
func IPCOptions(schema *arrow.Schema, mem memory.Allocator, c Compression) []ipc.Option {
	opts := []ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(mem)}
	switch c {
	case CompressionLZ4:
		opts = append(opts, ipc.WithLZ4())
	case CompressionZstd:
		opts = append(opts, ipc.WithZstd())
	}
	return opts
}

// WriteStream writes one complete Arrow IPC stream to w: the schema, rec
// (when not nil) and the end marker.
func WriteStream(w io.Writer, mem memory.Allocator, schema *arrow.Schema, rec arrow.RecordBatch, c Compression) error {
	iw := ipc.NewWriter(w, IPCOptions(schema, mem, c)...)
	if rec != nil {
		if err := iw.Write(rec); err != nil {
			_ = iw.Close()
			return fmt.Errorf("write record batch: %w", err)
		}
	}
	if err := iw.Close(); err != nil {
		return fmt.Errorf("close IPC stream: %w", err)
	}
	return nil
}
