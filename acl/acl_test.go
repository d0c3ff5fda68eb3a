package acl

import (
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
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
