// Package acl reads rafka's users file: each user's hashed password and the
// topics it may produce to and consume from, and the consumer groups it may
// join (glob patterns).
package acl

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strings"
)

// User is one user's password hash and permissions.
type User struct {
	// Name is the user's name (the key in the file).
	Name string `json:"-"`
	// Password is "sha256:<hex of the SHA-256 of the password>".
	Password string `json:"password"`
	// Produce, Consume and Groups are glob patterns (path.Match syntax) of
	// the topics the user may produce to or consume from and the consumer
	// groups it may join. "*" allows all.
	Produce []string `json:"produce"`
	Consume []string `json:"consume"`
	Groups  []string `json:"groups"`

	hash []byte
}

// List is the parsed users file.
type List struct {
	users map[string]*User
}

// Load reads a users file:
//
//	{"users": {"alice": {"password": "sha256:…", "produce": ["orders"],
//	  "consume": ["orders"], "groups": ["billing"]}}}
func Load(file string) (*List, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read ACL file %s: %w", file, err)
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("ACL file %s: %w", file, err)
	}
	return l, nil
}

// DefaultUser is the user that AUTH <password> and --requirepass stand
// for; the users file cannot define it.
const DefaultUser = "default"

// Parse parses a users file's contents.
func Parse(data []byte) (*List, error) {
	var doc struct {
		Users map[string]*User `json:"users"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(doc.Users) == 0 {
		return nil, fmt.Errorf("no users")
	}
	for name, u := range doc.Users {
		if u == nil {
			return nil, fmt.Errorf("user %q: empty entry", name)
		}
		if name == DefaultUser {
			return nil, fmt.Errorf("user %q is reserved: its password is --requirepass", name)
		}
		if name == "" {
			return nil, fmt.Errorf("a user needs a name") // "" stands for the unrestricted user in the per-user bounds
		}
		hexHash, ok := strings.CutPrefix(u.Password, "sha256:")
		h, err := hex.DecodeString(hexHash)
		if !ok || err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("user %q: password must be \"sha256:<64 hex digits>\"", name)
		}
		u.hash = h
		u.Name = name
		for _, p := range append(append(append([]string{}, u.Produce...), u.Consume...), u.Groups...) {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("user %q: bad pattern %q", name, p)
			}
		}
	}
	return &List{users: doc.Users}, nil
}

// HashPassword returns the "sha256:<hex>" form of a password, for the file.
func HashPassword(password string) string {
	sum := sha256.Sum256([]byte(password))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Authenticate returns the user when the password matches, nil otherwise.
func (l *List) Authenticate(name string, password []byte) *User {
	u, ok := l.users[name]
	sum := sha256.Sum256(password)
	if !ok {
		return nil
	}
	if subtle.ConstantTimeCompare(sum[:], u.hash) != 1 {
		return nil
	}
	return u
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// CanProduce reports whether the user may produce to topic.
func (u *User) CanProduce(topic string) bool { return matchAny(u.Produce, topic) }

// CanConsume reports whether the user may consume topic.
func (u *User) CanConsume(topic string) bool { return matchAny(u.Consume, topic) }

// CanJoin reports whether the user may join consumer group.
func (u *User) CanJoin(group string) bool { return matchAny(u.Groups, group) }

// Action is what a user asks to do with a topic or a group.
type Action int

// The actions a users file grants, by pattern list.
const (
	ProduceTopic Action = iota // a "produce" pattern must match the topic
	ConsumeTopic               // a "consume" pattern must match the topic
	JoinGroup                  // a "groups" pattern must match the group
)

// String returns the action as the denial messages word it.
func (a Action) String() string {
	switch a {
	case ProduceTopic:
		return "produce to topic"
	case ConsumeTopic:
		return "consume topic"
	case JoinGroup:
		return "join group"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// DeniedError is the refusal of an action to a user.
type DeniedError struct {
	User   string
	Action Action
	Name   string // the topic or group
}

// Error returns Redis's NOPERM wording without its code:
// "User alice has no permissions to consume topic 'orders'".
func (e *DeniedError) Error() string {
	return fmt.Sprintf("User %s has no permissions to %s '%s'", e.User, e.Action, e.Name)
}

// Check returns nil when the user may do action on name (a topic or a
// group), else a *DeniedError. A nil *User is unrestricted: callers use nil
// for full-access identities (the default user, static tokens).
func (u *User) Check(action Action, name string) error {
	if u == nil {
		return nil
	}
	var ok bool
	switch action {
	case ProduceTopic:
		ok = u.CanProduce(name)
	case ConsumeTopic:
		ok = u.CanConsume(name)
	case JoinGroup:
		ok = u.CanJoin(name)
	}
	if ok {
		return nil
	}
	return &DeniedError{User: u.Name, Action: action, Name: name}
}

// CheckRead checks a read of topic, in consumer group when group is not
// empty: the group must be allowed as well as the topic. The group is
// checked first, as BLPOP does.
func (u *User) CheckRead(topic, group string) error {
	if group != "" {
		if err := u.Check(JoinGroup, group); err != nil {
			return err
		}
	}
	return u.Check(ConsumeTopic, topic)
}

// Has reports whether the list holds a user of that name.
func (l *List) Has(name string) bool {
	_, ok := l.users[name]
	return ok
}
