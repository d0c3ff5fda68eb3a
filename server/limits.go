package server

import (
	"errors"
	"math"
	"strconv"
	"sync/atomic"
)

// limitError is a request over a limit; its text follows Redis's protocol
// errors and is sent, with the ERR code (errorReply), before the connection
// is closed.
type limitError struct {
	text string
	// untilAuth marks the limits of a connection that has not
	// authenticated yet: the commands before the one that broke it run
	// first, and if one of them authenticated, the normal limits apply.
	untilAuth bool
}

func (e *limitError) Error() string { return e.text }

var (
	errBulkTooBig    = &limitError{text: "Protocol error: invalid bulk length"}
	errTooManyArgs   = &limitError{text: "Protocol error: invalid multibulk length"}
	errInlineTooLong = &limitError{text: "Protocol error: too big inline request"}
	errCommandTooBig = &limitError{text: "Protocol error: command is larger than the server's max command bytes"}
	// Redis 7's texts and limits for clients that have not authenticated.
	errUnauthArgs = &limitError{text: "Protocol error: unauthenticated multibulk length", untilAuth: true}
	errUnauthBulk = &limitError{text: "Protocol error: unauthenticated bulk length", untilAuth: true}
	// redcon's text for an inline command it cannot split.
	errUnbalancedQuotes = &limitError{text: "Protocol error: unbalanced quotes in request"}
	// An inline line too long for its number of arguments (inlineWork).
	errInlineWork       = &limitError{text: "Protocol error: too many arguments in a long inline request: send it as a multibulk command"}
	errUnauthInlineWork = &limitError{text: "Protocol error: unauthenticated inline request with too many arguments", untilAuth: true}
)

// maxInlineWork and unauthMaxInlineWork bound what redcon allocates to
// split one inline line (inlineWork), before and after AUTH.
const (
	maxInlineWork       = 8 << 20
	unauthMaxInlineWork = 1 << 20
)

// Before AUTH, when authentication is required, a command may have at most
// unauthMaxArgs arguments of at most unauthMaxBulk bytes each (as in Redis).
const (
	unauthMaxArgs = 10
	unauthMaxBulk = 16384
)

// maxHeaderLine bounds a `*<n>` or `$<n>` line (sign, digits and CR).
const maxHeaderLine = 32

// maxHeaderValue is the largest length a header may state: past it the
// next digit could overflow.
const maxHeaderValue = (math.MaxInt64 - 9) / 10

type scanState uint8

const (
	scanStart      scanState = iota // at the start of a command
	scanInline                      // inside an inline command line
	scanArrayLen                    // inside `*<n>\r\n`
	scanBulkHeader                  // expecting `$<n>\r\n`
	scanBulkLen                     // inside the digits of `$<n>\r\n`
	scanBulkBody                    // skipping a bulk's bytes and its CRLF
)

// requestScanner follows the RESP framing of the incoming byte stream
// without buffering it, so that an argument over a limit is refused before
// the parser buffers it. It reads headers as redcon does (strconv.Atoi of
// the line, so a sign and leading zeros are allowed) and refuses, as a
// protocol error, whatever it cannot follow: a stream it stopped following
// would reach redcon with no limit at all.
type requestScanner struct {
	maxBulk, maxArgs, maxInline int64
	// maxCommand bounds the sum of one command's bulk lengths.
	maxCommand int64
	// authed, when not nil, is the connection's authentication state:
	// until it is set the unauthenticated limits apply.
	authed   *atomic.Bool
	state    scanState
	cmdBytes int64 // bulk bytes of the current command so far
	num      int64 // the number being read, or the line length so far
	line     int   // bytes of the header line so far
	digits   int   // digits of the header line so far
	negative bool  // the header has a '-' sign
	cr       bool  // the header line's CR was seen
	args     int64 // bulk arguments left in the current command
	skip     int64 // bytes left of the current bulk (with its CRLF)
	quotes   inlineQuotes
	// restarts and restartSum are, for the inline line being read, how
	// many times redcon's splitting starts a new argument buffer and the
	// sum of the line lengths where it does (inlineWork).
	restarts, restartSum int64
	// ended is the offset in the bytes last scanned just past the last
	// command that ended in them (a line's end, or a command's last bulk),
	// or 0 when none did.
	ended int
}

// inlineQuotes follows the quoting of an inline command line as redcon
// splits it, so that the scanner refuses what redcon would: redcon drops
// the commands read with the line it refuses, while the scanner hands
// them over to run first, as Redis runs them.
type inlineQuotes struct {
	open     byte // the quote of an open quoted argument, or 0
	escape   bool // a backslash inside quotes: the next byte is taken as it is
	argStart bool // the next byte starts an argument: the line's start, or after a space
	closed   bool // a quote just closed: a space or the line's end must follow
	cr       bool // a CR whose next byte says whether it ends the line
}

// take follows one byte of the line (not the CR of its CRLF): restart says
// redcon starts a new argument after it, and !ok means its "unbalanced
// quotes".
func (q *inlineQuotes) take(b byte) (restart, ok bool) {
	if q.closed {
		if b != ' ' {
			return false, false
		}
		q.closed = false
	}
	if q.open != 0 {
		switch {
		case q.escape:
			q.escape = false
		case b == q.open:
			q.open, q.closed = 0, true
			return true, true
		case b == '\\':
			q.escape = true
		}
		return false, true
	}
	switch b {
	case ' ':
		q.argStart = true
		return true, true
	case '"', '\'':
		if !q.argStart {
			return false, false
		}
		q.open, q.argStart = b, false
		return true, true
	default:
		q.argStart = false
	}
	return false, true
}

// scan advances over p and reports the first limit it breaks, with the
// offset in p of the byte that broke it.
func (s *requestScanner) scan(p []byte) (int, error) {
	s.ended = 0
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch s.state {
		case scanStart:
			switch b {
			case '*':
				s.startHeader(scanArrayLen)
				s.cmdBytes = 0
			case '\n':
				s.ended = i + 1 // an empty line, which redcon skips
			default: // an inline command, as redcon reads any other byte
				s.state, s.num, s.quotes = scanInline, 0, inlineQuotes{argStart: true}
				s.restarts, s.restartSum = 0, 0
				i-- // the line's first byte
			}
		case scanInline:
			if s.quotes.cr {
				// A CR ends the line only before its LF; elsewhere it is
				// one of the line's bytes.
				s.quotes.cr = false
				if b != '\n' {
					if err := s.inlineByte('\r'); err != nil {
						return i, err
					}
				}
			}
			switch b {
			case '\n':
				if s.quotes.open != 0 {
					return i, errUnbalancedQuotes
				}
				if err := s.checkInlineWork(); err != nil {
					return i, err
				}
				s.state, s.ended = scanStart, i+1
				continue
			case '\r':
				s.quotes.cr = true
				continue
			}
			if err := s.inlineByte(b); err != nil {
				return i, err
			}
		case scanArrayLen, scanBulkLen:
			if err := s.headerByte(b); err != nil {
				return i, err
			}
		case scanBulkHeader:
			if b != '$' {
				return i, &limitError{text: "Protocol error: expected '$', got " + strconv.QuoteRuneToASCII(rune(b))}
			}
			s.startHeader(scanBulkLen)
		case scanBulkBody:
			if s.skip > 2 { // the bulk's bytes
				n := min(int64(len(p)-i), s.skip-2)
				s.skip -= n
				i += int(n) - 1
				continue
			}
			if want := "\r\n"[2-s.skip]; b != want {
				return i, errBulkTooBig // redcon's text for a bulk not ended by CRLF
			}
			s.skip--
			if s.skip == 0 {
				s.nextArg()
				if s.state == scanStart {
					s.ended = i + 1
				}
			}
		}
	}
	return len(p), nil
}

// inlineByte takes one byte of an inline line (a CR only when it does not
// end the line): it counts against the line's limit and its quoting.
func (s *requestScanner) inlineByte(b byte) error {
	s.num++
	if s.num > s.maxInline {
		return errInlineTooLong
	}
	restart, ok := s.quotes.take(b)
	if !ok {
		return errUnbalancedQuotes
	}
	if restart {
		s.restarts++
		s.restartSum += s.num
	}
	return nil
}

// inlineWork is what redcon allocates to split the inline line just read:
// it starts each argument in a new buffer as long as the rest of the line
// (at the line's start, after every space outside quotes, at a quote's
// start and end), so a 64 KiB line of "a a a ..." cost it 1 GB.
func (s *requestScanner) inlineWork() int64 {
	return (s.restarts+1)*s.num - s.restartSum
}

// checkInlineWork refuses, at its end, an inline line whose splitting
// would cost over the bound.
func (s *requestScanner) checkInlineWork() error {
	work := s.inlineWork()
	switch {
	case work > unauthMaxInlineWork && s.locked():
		return errUnauthInlineWork
	case work > maxInlineWork:
		return errInlineWork
	}
	return nil
}

// startHeader begins a `*<n>` or `$<n>` line.
func (s *requestScanner) startHeader(state scanState) {
	s.state, s.num, s.line, s.digits, s.negative, s.cr = state, 0, 0, 0, false, false
}

// headerByte takes one byte of a header line after its '*' or '$'.
func (s *requestScanner) headerByte(b byte) error {
	s.line++
	switch {
	case s.line > maxHeaderLine:
		return s.malformed()
	case s.cr && b != '\n':
		return s.malformed()
	case b >= '0' && b <= '9':
		if s.num > maxHeaderValue {
			return s.malformed()
		}
		s.num = s.num*10 + int64(b-'0')
		s.digits++
	case (b == '+' || b == '-') && s.line == 1:
		s.negative = b == '-'
	case b == '\r':
		s.cr = true
	case b == '\n':
		if !s.cr || s.digits == 0 {
			return s.malformed()
		}
		if err := s.endNumber(); err != nil {
			s.line-- // the line's end is scanned again after AUTH
			return err
		}
	default:
		return s.malformed()
	}
	return nil
}

// malformed is the protocol error of a header the scanner cannot follow,
// in redcon's words.
func (s *requestScanner) malformed() error {
	if s.state == scanArrayLen {
		return errTooManyArgs
	}
	return errBulkTooBig
}

// locked reports whether the connection has yet to authenticate.
func (s *requestScanner) locked() bool { return s.authed != nil && !s.authed.Load() }

// endNumber handles the end of a `*<n>` or `$<n>` line. On an error the
// state is left as it was, so that the line's end can be scanned again
// (after AUTH, for the unauthenticated limits).
func (s *requestScanner) endNumber() error {
	if s.negative && s.num != 0 {
		return s.malformed()
	}
	if s.state == scanArrayLen {
		if s.num > s.maxArgs {
			return errTooManyArgs
		}
		if s.num <= 0 {
			return errTooManyArgs // redcon refuses an empty command
		}
		if s.num > unauthMaxArgs && s.locked() {
			return errUnauthArgs
		}
		s.args = s.num
		s.state = scanBulkHeader
		return nil
	}
	if s.num > s.maxBulk {
		return errBulkTooBig
	}
	if s.num > unauthMaxBulk && s.locked() {
		return errUnauthBulk
	}
	if s.maxCommand > 0 && s.cmdBytes+s.num > s.maxCommand {
		return errCommandTooBig
	}
	s.cmdBytes += s.num
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

// isUntilAuth reports whether err is an unauthenticated limit, which AUTH
// earlier in the stream may lift.
func isUntilAuth(err error) bool {
	var le *limitError
	return errors.As(err, &le) && le.untilAuth
}
