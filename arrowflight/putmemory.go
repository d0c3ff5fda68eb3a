package arrowflight

import (
	"errors"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"
)

// maxPutMemory bounds the memory one DoPut's IPC reader may hold, and
// maxPutRows the rows of one of its batches.
//
// A compressed buffer declares its length once decompressed, and arrow-go
// allocates that much before decompressing: 184 bytes declaring 100 GiB
// ended the process with the Go runtime's fatal out of memory, which no
// recover catches, and an honest zstd buffer of a 1 GiB column is 115 KB.
// A batch's rows become one Kafka message each, so they are bounded too
// (a compressed column of empty values costs almost nothing per row).
const (
	maxPutMemory = 64 << 20
	maxPutRows   = 1 << 18
)

// errPutMemory is how a DoPut over maxPutMemory ends.
var errPutMemory = errors.New("the batch takes more than 64 MiB once decoded: send smaller batches")

// putAllocator is the memory of one DoPut's reader: an allocation past
// maxPutMemory panics with errPutMemory, which the IPC reader recovers
// into its error, before anything is allocated.
type putAllocator struct {
	mem  memory.Allocator
	used atomic.Int64
}

func (a *putAllocator) take(n int) {
	if a.used.Add(int64(n)) > maxPutMemory {
		a.used.Add(-int64(n))
		panic(errPutMemory)
	}
}

func (a *putAllocator) Allocate(size int) []byte {
	a.take(size)
	return a.mem.Allocate(size)
}

func (a *putAllocator) Reallocate(size int, b []byte) []byte {
	a.take(size - len(b))
	return a.mem.Reallocate(size, b)
}

func (a *putAllocator) Free(b []byte) {
	a.used.Add(-int64(len(b)))
	a.mem.Free(b)
}

// The Arrow IPC flatbuffer fields (format/Message.fbs) that say how a
// batch's body is compressed: vtable offsets, a union's types, a codec.
const (
	fbMessageHeaderType  = 6  // Message.header_type
	fbMessageHeader      = 8  // Message.header
	fbDictionaryData     = 6  // DictionaryBatch.data
	fbBatchCompression   = 10 // RecordBatch.compression
	fbCompressionCodec   = 4  // BodyCompression.codec
	fbHeaderDictionary   = 2  // MessageHeader.DictionaryBatch
	fbHeaderRecordBatch  = 3  // MessageHeader.RecordBatch
	fbCodecZstd          = 1  // CompressionType.ZSTD
	fbMinimumMessageSize = 12 // a root offset and the smallest table
)

// errZstdPut refuses a zstd batch: arrow-go decompresses each buffer with
// a decoder whose window is what the frame declares (up to 512 MiB),
// allocated outside any allocator it is given, so 17 bytes of frame
// allocated 512 MiB and eight DoPuts took RSS to 7.2 GB.
var errZstdPut = errors.New("DoPut takes uncompressed or LZ4 batches, not zstd")

// errPutHeader is the answer to a batch header DoPut cannot read.
var errPutHeader = errors.New("malformed IPC message header")

// checkPutCodec refuses a batch (or dictionary batch) whose IPC message
// header declares a zstd body.
func checkPutCodec(header []byte) (err error) {
	if len(header) < fbMinimumMessageSize {
		return nil // nothing a decoder would see; the IPC reader judges it
	}
	defer func() {
		if recover() != nil { // an offset out of the header's bytes
			err = errPutHeader
		}
	}()
	msg := flatbuffers.Table{Bytes: header, Pos: flatbuffers.GetUOffsetT(header)}
	var kind byte
	if o := flatbuffers.UOffsetT(msg.Offset(fbMessageHeaderType)); o != 0 {
		kind = msg.GetByte(o + msg.Pos)
	}
	o := flatbuffers.UOffsetT(msg.Offset(fbMessageHeader))
	if o == 0 || kind != fbHeaderRecordBatch && kind != fbHeaderDictionary {
		return nil
	}
	var batch flatbuffers.Table
	msg.Union(&batch, o)
	if kind == fbHeaderDictionary {
		o := flatbuffers.UOffsetT(batch.Offset(fbDictionaryData))
		if o == 0 {
			return nil
		}
		batch.Pos = batch.Indirect(o + batch.Pos)
	}
	o = flatbuffers.UOffsetT(batch.Offset(fbBatchCompression))
	if o == 0 {
		return nil
	}
	comp := flatbuffers.Table{Bytes: header, Pos: batch.Indirect(o + batch.Pos)}
	codec := byte(0) // LZ4_FRAME, the default
	if o := flatbuffers.UOffsetT(comp.Offset(fbCompressionCodec)); o != 0 {
		codec = comp.GetByte(o + comp.Pos)
	}
	if codec == fbCodecZstd {
		return errZstdPut
	}
	return nil
}
