package arrowflight

import (
	"errors"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
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
