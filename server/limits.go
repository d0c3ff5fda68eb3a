package server

import "errors"

// limitError is a request over a limit; its text follows Redis's protocol
// errors and is sent before the connection is closed.
type limitError struct{ text string }

func (e *limitError) Error() string { return e.text }

var (
	errBulkTooBig    = &limitError{"Protocol error: invalid bulk length"}
	errTooManyArgs   = &limitError{"Protocol error: invalid multibulk length"}
	errInlineTooLong = &limitError{"Protocol error: too big inline request"}
)

// maxHeaderLine bounds a `*<n>` or `$<n>` line.
const maxHeaderLine = 32

type scanState uint8

const (
	scanStart      scanState = iota // at the start of a command
	scanInline                      // inside an inline command line
	scanArrayLen                    // inside `*<n>\r\n`
	scanBulkHeader                  // expecting `$<n>\r\n`
	scanBulkLen                     // inside the digits of `$<n>\r\n`
	scanBulkBody                    // skipping a bulk's bytes and its CRLF
	scanOff                         // malformed input: the RESP parser reports it
)

// requestScanner follows the RESP framing of the incoming byte stream
// without buffering it, so that an argument over a limit is refused before
// the parser buffers it.
type requestScanner struct {
	maxBulk, maxArgs, maxInline int64
	state                       scanState
	num                         int64 // the number being read, or the line length so far
	digits                      int
	args                        int64 // bulk arguments left in the current command
	skip                        int64 // bytes left of the current bulk (with its CRLF)
}

// scan advances over p and reports the first limit it breaks, with the
// offset in p of the byte that broke it.
func (s *requestScanner) scan(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch s.state {
		case scanStart:
			switch b {
			case '*':
				s.state, s.num, s.digits = scanArrayLen, 0, 0
			case '\r', '\n':
			default:
				s.state, s.num = scanInline, 1
			}
		case scanInline:
			switch b {
			case '\n':
				s.state = scanStart
				continue
			case '\r':
				continue
			}
			s.num++
			if s.num > s.maxInline {
				return i, errInlineTooLong
			}
		case scanArrayLen, scanBulkLen:
			switch {
			case b >= '0' && b <= '9':
				s.num = s.num*10 + int64(b-'0')
				s.digits++
				if s.digits > maxHeaderLine {
					s.state = scanOff
				}
			case b == '-' && s.digits == 0:
				s.state = scanOff // negative lengths are the parser's to refuse
			case b == '\r':
			case b == '\n':
				if err := s.endNumber(); err != nil {
					return i, err
				}
			default:
				s.state = scanOff
			}
		case scanBulkHeader:
			if b != '$' {
				s.state = scanOff
				continue
			}
			s.state, s.num, s.digits = scanBulkLen, 0, 0
		case scanBulkBody:
			n := int64(len(p) - i)
			if n > s.skip {
				n = s.skip
			}
			s.skip -= n
			i += int(n) - 1
			if s.skip == 0 {
				s.nextArg()
			}
		case scanOff:
			return len(p), nil
		}
	}
	return len(p), nil
}

// malformed reports whether the stream stopped being valid RESP (the
// parser answers that with its own protocol error).
func (s *requestScanner) malformed() bool { return s.state == scanOff }

// endNumber handles the end of a `*<n>` or `$<n>` line.
func (s *requestScanner) endNumber() error {
	if s.state == scanArrayLen {
		if s.num > s.maxArgs {
			return errTooManyArgs
		}
		if s.num <= 0 {
			s.state = scanStart
			return nil
		}
		s.args = s.num
		s.state = scanBulkHeader
		return nil
	}
	if s.num > s.maxBulk {
		return errBulkTooBig
	}
	s.skip = s.num + 2
	s.state = scanBulkBody
	return nil
}

func (s *requestScanner) nextArg() {
	s.args--
	if s.args > 0 {
		s.state = scanBulkHeader
	} else {
		s.state = scanStart
	}
}

// isLimitError reports whether err is a request over a limit.
func isLimitError(err error) bool {
	var le *limitError
	return errors.As(err, &le)
}
