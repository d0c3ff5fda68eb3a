package server

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// TestInlineWork: the scanner's estimate of what redcon allocates to
// split an inline line follows what it does allocate, and lines over the
// bound are refused at their end, before AUTH by the lower one. Before, a
// 64 KiB line of "a a a ..." made redcon allocate about 1 GB.
func TestInlineWork(t *testing.T) {
	for _, tc := range []struct {
		name   string
		line   string
		locked bool
		want   error
	}{
		{"a short command", "SET k v", false, nil},
		{"one long argument", "ECHO " + strings.Repeat("x", 60000), false, nil},
		{"quoted arguments", `SET "a b" 'c d' ` + strings.Repeat("y", 1000), false, nil},
		{"many arguments in a long line", strings.Repeat("a ", 32700), false, errInlineWork},
		{"spaces alone", strings.Repeat(" ", 65000), false, errInlineWork},
		{"quotes", strings.Repeat(`"" `, 21000), false, errInlineWork},
		{"before AUTH", strings.Repeat("a ", 600) + strings.Repeat("x", 3000), true, errUnauthInlineWork},
		{"the same after AUTH", strings.Repeat("a ", 600) + strings.Repeat("x", 3000), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := requestScanner{maxBulk: 1 << 20, maxArgs: 1 << 20, maxInline: 64 << 10}
			if tc.locked {
				s.authed = new(atomic.Bool)
			}
			stream := []byte(tc.line + "\r\n")
			_, err := s.scan(stream[:len(stream)-1])
			if err != nil {
				t.Fatalf("before the line's end: %v", err)
			}
			work := s.inlineWork()
			_, err = s.scan(stream[len(stream)-1:])
			if err != tc.want {
				t.Fatalf("the line's end: %v, want %v", err, tc.want)
			}
			// What redcon allocates splitting it: within the estimate
			// (and its own copies of the arguments besides).
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n, _ := redconCommands(stream)
			runtime.ReadMemStats(&after)
			if n > 1 {
				t.Fatalf("redcon parsed %d commands", n)
			}
			got := int64(after.TotalAlloc - before.TotalAlloc)
			if got > 2*work+8*int64(len(stream))+64<<10 || work > 2*got+64<<10 {
				t.Errorf("redcon allocated %d bytes, the estimate is %d", got, work)
			}
		})
	}
}
