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
