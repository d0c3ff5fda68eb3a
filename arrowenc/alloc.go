package arrowenc

import "github.com/apache/arrow-go/v18/arrow/memory"

// Allocator is the allocator of Arrow buffers for a configured mem: mem
// itself, or memory.DefaultAllocator when mem is nil. The RESP server and
// the Flight service both resolve their Config.Allocator with it.
func Allocator(mem memory.Allocator) memory.Allocator {
	if mem == nil {
		return memory.DefaultAllocator
	}
	return mem
}
