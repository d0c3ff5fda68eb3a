package server

import (
	"strings"
	"testing"
)

func TestRequestScanner(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"ordinary command", "*3\r\n$6\r\nRPUSHX\r\n$8\r\ntopics:t\r\n$5\r\nhello\r\n", nil},
		{"pipelined commands", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\nPING\r\n", nil},
		{"bulk at the limit", "*1\r\n$10\r\n0123456789\r\n", nil},
		{"bulk over the limit", "*1\r\n$11\r\n", errBulkTooBig},
		{"too many arguments", "*5\r\n", errTooManyArgs},
		{"inline at the limit", strings.Repeat("x", 16) + "\r\n", nil},
		{"inline over the limit", strings.Repeat("x", 17), errInlineTooLong},
		{"malformed header is the parser's", "*x\r\n$99999\r\n", nil},
		{"negative length is the parser's", "*1\r\n$-5\r\n", nil},
		{"huge digit run", "*1\r\n$" + strings.Repeat("9", 40) + "\r\n", nil},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 3, 1 << 20} { // whole, and split in pieces
			s := requestScanner{maxBulk: 10, maxArgs: 4, maxInline: 16}
			var got error
			for in := tc.in; len(in) > 0 && got == nil; {
				n := min(chunk, len(in))
				_, got = s.scan([]byte(in[:n]))
				in = in[n:]
			}
			if got != tc.want {
				t.Errorf("%s (chunks of %d): got %v, want %v", tc.name, chunk, got, tc.want)
			}
		}
	}
}
