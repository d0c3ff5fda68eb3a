package arrowenc

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestAllocator(t *testing.T) {
	if got := Allocator(nil); got != memory.DefaultAllocator {
		t.Fatalf("Allocator(nil) = %v, want memory.DefaultAllocator", got)
	}
	mem := memory.NewGoAllocator()
	if got := Allocator(mem); got != mem {
		t.Fatalf("Allocator(mem) = %v, want mem", got)
	}
}
