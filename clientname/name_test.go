package clientname

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"g:m", true},
		{"group-1:member:with:colons", true},
		{"", true}, // the caller decides what an empty name means
		{"g:m m", false},
		{"g:m\r\nid=1", false},
		{"bob-g\x00-carol:m", false},
		{"g:\x7f", false},
		{"g:\xc3\xa9", false},
		{"g:\t", false},
		{strings.Repeat("a", MaxName), true},
		{strings.Repeat("a", MaxName+1), false},
	} {
		if err := Check(c.name); (err == nil) != c.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestCheckGroup(t *testing.T) {
	for _, c := range []struct {
		group string
		ok    bool
	}{
		{"g", true},
		{"team-a.workers_1", true},
		{"", false},
		{"a:b", false},
		{"bob-g\x00-carol", false},
		{"a b", false},
		{strings.Repeat("g", MaxGroup), true},
		{strings.Repeat("g", MaxGroup+1), false},
	} {
		if err := CheckGroup(c.group); (err == nil) != c.ok {
			t.Errorf("CheckGroup(%q) = %v, want ok=%v", c.group, err, c.ok)
		}
	}
}
