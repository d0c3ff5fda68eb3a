// Package clientname checks the names clients give themselves before they
// reach Kafka or an ACL pattern: the `<group>:<member>` id of CLIENT SETNAME
// and HELLO SETNAME, and the group of a Flight group-mode read. librdkafka
// cuts a string at its first NUL byte, so a name with one would be checked
// against ACL patterns as one name and used in Kafka as another.
package clientname

import "fmt"

// Bounds on the parts of a name.
const (
	// MaxGroup is the longest consumer group name accepted.
	MaxGroup = 255
	// MaxName is the longest whole `<group>:<member>` id accepted.
	MaxName = 512
)

// ErrCharacters is the error for a name with a space, a control character
// or a byte outside printable ASCII; its text is Redis's for CLIENT SETNAME.
var ErrCharacters = fmt.Errorf("Client names cannot contain spaces, newlines or special characters.")

// Check returns an error unless the whole id is at most MaxName bytes of
// printable ASCII without spaces ('!' to '~'). It does not split the id.
func Check(name string) error {
	if len(name) > MaxName {
		return fmt.Errorf("Client name is longer than %d bytes", MaxName)
	}
	for i := 0; i < len(name); i++ {
		if !printable(name[i]) {
			return ErrCharacters
		}
	}
	return nil
}

// CheckGroup returns an error unless group is a usable consumer group name:
// 1 to MaxGroup bytes of printable ASCII without spaces or ':' (the
// separator of a `<group>:<member>` id).
func CheckGroup(group string) error {
	switch {
	case group == "":
		return fmt.Errorf("group name is empty")
	case len(group) > MaxGroup:
		return fmt.Errorf("group name is longer than %d bytes", MaxGroup)
	}
	for i := 0; i < len(group); i++ {
		if !printable(group[i]) || group[i] == ':' {
			return fmt.Errorf("group name %q has an illegal character %q (legal: printable ASCII except space and ':')", group, group[i])
		}
	}
	return nil
}

// printable reports whether b is printable ASCII other than space.
func printable(b byte) bool { return b > ' ' && b <= '~' }
