package server

import (
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
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
		// What the scanner cannot follow is refused, never passed on
		// unchecked (found in review: redcon's Atoi takes a sign and
		// leading zeros, and a stream left unscanned had no limit).
		{"malformed header", "*x\r\n$99999\r\n", errTooManyArgs},
		{"negative length", "*1\r\n$-5\r\n", errBulkTooBig},
		{"huge digit run", "*1\r\n$" + strings.Repeat("9", 40) + "\r\n", errBulkTooBig},
		{"overflowing length", "*1\r\n$9223372036854775808\r\nx", errBulkTooBig},
		{"plus sign is followed", "*1\r\n$+11\r\n", errBulkTooBig},
		{"plus sign within limits", "*1\r\n$+4\r\nPING\r\n", nil},
		{"leading zeros are followed", "*1\r\n$000000000000000011\r\n", errBulkTooBig},
		{"minus zero is an empty bulk", "*2\r\n$4\r\nECHO\r\n$-0\r\n\r\n", nil},
		{"plus sign on the count", "*+9223372036854775807\r\n", errTooManyArgs},
		{"empty command", "*0\r\n", errTooManyArgs},
		{"header without digits", "*\r\n", errTooManyArgs},
		{"LF without CR", "*1\n", errTooManyArgs},
		{"endless header", "*" + strings.Repeat("0", 100), errTooManyArgs},
		{"not a bulk", "*1\r\nPING\r\n", &limitError{text: "Protocol error: expected '$', got 'P'"}},
		// What redcon refuses is refused here first, so that the commands
		// before it run (redcon drops those read with it).
		{"bulk not ended by CRLF", "*1\r\n$4\r\nPINGxx\r\n", errBulkTooBig},
		{"bulk ended by LF alone", "*1\r\n$4\r\nPING\n", errBulkTooBig},
		{"empty lines", "\r\n\n\r\nPING\r\n", nil},
		{"quoted inline arguments", "E \"a b\" 'c\\'d'\r\n", nil},
		{"unbalanced quotes", "PING \"open\r\n", errUnbalancedQuotes},
		{"a quote inside an argument", "PING a\"b\"\r\n", errUnbalancedQuotes},
		{"text after a closing quote", "PING \"a\"b\r\n", errUnbalancedQuotes},
		{"a CR inside the line is a byte of it", "PING \r'x'\r\n", errUnbalancedQuotes},
		{"a line of CRs", strings.Repeat("\r", 40), errInlineTooLong},
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
			if !sameLimit(got, tc.want) {
				t.Errorf("%s (chunks of %d): got %v, want %v", tc.name, chunk, got, tc.want)
			}
		}
	}
}

// sameLimit reports whether two scanner verdicts are the same error text.
func sameLimit(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func TestRequestScannerCommandAndAuthLimits(t *testing.T) {
	bulk := func(n int) string { return "$" + strconv.Itoa(n) + "\r\n" + strings.Repeat("x", n) + "\r\n" }
	tests := []struct {
		name   string
		in     string
		locked bool
		want   error
	}{
		{"command at the limit", "*3\r\n" + bulk(40) + bulk(40) + bulk(20), false, nil},
		{"command over the limit", "*3\r\n" + bulk(40) + bulk(40) + bulk(21), false, errCommandTooBig},
		{"limit is per command", "*2\r\n" + bulk(50) + bulk(50) + "*2\r\n" + bulk(50) + bulk(50), false, nil},
		{"10 arguments before AUTH", "*10\r\n", true, nil},
		{"11 arguments before AUTH", "*11\r\n", true, errUnauthArgs},
		{"11 arguments after AUTH", "*11\r\n", false, nil},
		{"small bulk before AUTH", "*1\r\n$100\r\n", true, nil},
		{"bulk over 16 KiB before AUTH", "*1\r\n$16385\r\n", true, errUnauthBulk},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 7, 1 << 20} {
			var authed atomic.Bool
			authed.Store(!tc.locked)
			s := requestScanner{maxBulk: 1 << 20, maxArgs: 100, maxInline: 16, maxCommand: 100, authed: &authed}
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

// TestRequestScannerResumesAfterAuth: the line that broke an
// unauthenticated limit is scanned again once the connection authenticated.
func TestRequestScannerResumesAfterAuth(t *testing.T) {
	var authed atomic.Bool
	s := requestScanner{maxBulk: 1 << 20, maxArgs: 100, maxInline: 16, maxCommand: 1 << 20, authed: &authed}
	in := []byte("*1\r\n$20000\r\n")
	ok, err := s.scan(in)
	if err != errUnauthBulk {
		t.Fatalf("before AUTH: %v", err)
	}
	authed.Store(true)
	if _, err := s.scan(in[ok:]); err != nil {
		t.Fatalf("after AUTH: %v", err)
	}
	if s.state != scanBulkBody || s.skip != 20002 {
		t.Fatalf("after AUTH the scanner is in state %d skipping %d, want the bulk's body", s.state, s.skip)
	}
}

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
