// Package topicname checks Kafka topic names that clients send, before they
// reach librdkafka: there a subscription to a name starting with '^' is a
// regular expression, which would let a client read topics that neither it
// nor an ACL pattern named.
package topicname

import (
	"fmt"
	"path"
	"strings"
)

// MaxLength is the longest topic name Kafka accepts.
const MaxLength = 249

// Check returns an error unless name is a legal Kafka topic name: 1 to 249
// characters from [a-zA-Z0-9._-], and neither "." nor "..". name does not
// escape (the errors quote a copy), so a caller's string(bytes) conversion
// costs no allocation on the produce path.
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("topic name is empty")
	case len(name) > MaxLength:
		return fmt.Errorf("topic name is longer than %d characters", MaxLength)
	case name == "." || name == "..":
		return fmt.Errorf("topic name cannot be %q", strings.Clone(name))
	}
	for i := 0; i < len(name); i++ {
		if !legal(name[i]) {
			return fmt.Errorf("topic name %q has an illegal character %q (legal: a-z A-Z 0-9 . _ -)", strings.Clone(name), name[i])
		}
	}
	return nil
}

// legal reports whether b may appear in a topic name.
func legal(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}

// MaxGlob is the longest topic pattern a client may send (KEYS, Flight
// ListFlights): matching costs about the pattern's length times the name's
// for every topic, so a pattern of megabytes would be a cheap way to burn
// the server's CPU. Four times the longest name leaves room for escapes and
// character classes.
const MaxGlob = 4 * MaxLength

// CheckGlob returns an error unless glob is a well-formed pattern (path.Match
// syntax: `*`, `?`, `[...]`, `\` escapes) of at most MaxGlob bytes.
func CheckGlob(glob string) error {
	if len(glob) > MaxGlob {
		return fmt.Errorf("pattern is longer than %d bytes", MaxGlob)
	}
	if _, err := path.Match(glob, ""); err != nil {
		return fmt.Errorf("bad pattern %q: %w", glob, err)
	}
	return nil
}
