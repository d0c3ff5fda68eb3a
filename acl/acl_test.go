package acl

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAndCheck(t *testing.T) {
	l, err := Parse([]byte(`{"users": {"alice": {"password": "` + HashPassword("pw") + `",
		"produce": ["orders", "logs-*"], "consume": ["orders"], "groups": ["billing*"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if l.Authenticate("alice", []byte("nope")) != nil || l.Authenticate("bob", []byte("pw")) != nil {
		t.Fatal("wrong credentials accepted")
	}
	u := l.Authenticate("alice", []byte("pw"))
	if u == nil {
		t.Fatal("right credentials refused")
	}
	checks := []struct {
		got, want bool
		what      string
	}{
		{u.CanProduce("orders"), true, "produce orders"},
		{u.CanProduce("logs-app"), true, "produce logs-app"},
		{u.CanProduce("payments"), false, "produce payments"},
		{u.CanConsume("orders"), true, "consume orders"},
		{u.CanConsume("logs-app"), false, "consume logs-app"},
		{u.CanJoin("billing-eu"), true, "join billing-eu"},
		{u.CanJoin("etl"), false, "join etl"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v", c.what, c.got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"users": {}}`: "no users",
		`{"users": {"a": {"password": "plain"}}}`:     "sha256",
		`{"users": {"a": {"password": "sha256:00"}}}`: "sha256",
		`{"nope": 1}`: "unknown field",
		`{"users": {"a": {"password": "` + HashPassword("x") + `", "produce": ["[a"]}}}`: "bad pattern",
		`{"users": {"default": {"password": "` + HashPassword("x") + `"}}}`:              "reserved",
		`{"users": {"": {"password": "` + HashPassword("x") + `"}}}`:                     "needs a name",
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestCheck(t *testing.T) {
	l, err := Parse([]byte(`{"users": {"alice": {"password": "` + HashPassword("pw") + `",
		"produce": ["orders"], "consume": ["orders", "logs-*"], "groups": ["billing"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	alice := l.Authenticate("alice", []byte("pw"))
	var unrestricted *User
	cases := []struct {
		name   string
		user   *User
		check  func(u *User) error
		denied string // "" when allowed
	}{
		{"produce allowed", alice, func(u *User) error { return u.Check(ProduceTopic, "orders") }, ""},
		{"produce denied", alice, func(u *User) error { return u.Check(ProduceTopic, "logs-app") },
			"User alice has no permissions to produce to topic 'logs-app'"},
		{"consume by glob", alice, func(u *User) error { return u.Check(ConsumeTopic, "logs-app") }, ""},
		{"consume denied", alice, func(u *User) error { return u.Check(ConsumeTopic, "payments") },
			"User alice has no permissions to consume topic 'payments'"},
		{"join denied", alice, func(u *User) error { return u.Check(JoinGroup, "etl") },
			"User alice has no permissions to join group 'etl'"},
		{"read without group", alice, func(u *User) error { return u.CheckRead("orders", "") }, ""},
		{"read in allowed group", alice, func(u *User) error { return u.CheckRead("orders", "billing") }, ""},
		{"read in denied group", alice, func(u *User) error { return u.CheckRead("orders", "etl") },
			"User alice has no permissions to join group 'etl'"},
		{"read of denied topic", alice, func(u *User) error { return u.CheckRead("payments", "billing") },
			"User alice has no permissions to consume topic 'payments'"},
		{"nil user produces", unrestricted, func(u *User) error { return u.Check(ProduceTopic, "anything") }, ""},
		{"nil user reads", unrestricted, func(u *User) error { return u.CheckRead("anything", "any-group") }, ""},
	}
	for _, c := range cases {
		err := c.check(c.user)
		switch {
		case c.denied == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.denied != "" && (err == nil || err.Error() != c.denied):
			t.Errorf("%s: %v, want %q", c.name, err, c.denied)
		case c.denied != "":
			var de *DeniedError
			if !errors.As(err, &de) || de.User != "alice" {
				t.Errorf("%s: %T is not a *DeniedError for alice", c.name, err)
			}
		}
	}
	if !l.Has("alice") || l.Has("bob") {
		t.Error("Has")
	}
}
