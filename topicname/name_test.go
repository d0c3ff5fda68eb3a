package topicname

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"Orders.v2_final-1", true},
		{strings.Repeat("a", MaxLength), true},
		{strings.Repeat("a", MaxLength+1), false},
		{"", false},
		{".", false},
		{"..", false},
		{"^.*", false},
		{"^orders", false},
		{"a b", false},
		{"a/b", false},
		{"a:b", false},
		{"a,b", false},
		{"caf\xc3\xa9", false},
	}
	for _, tt := range tests {
		err := Check(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestCheckGlob(t *testing.T) {
	for _, c := range []struct {
		glob string
		ok   bool
	}{
		{"*", true},
		{"orders-[a-c]?", true},
		{`logs\*`, true},
		{"[", false},
		{strings.Repeat("*a", MaxGlob/2), true},
		{strings.Repeat("*a", MaxGlob/2+1), false},
	} {
		if err := CheckGlob(c.glob); (err == nil) != c.ok {
			t.Errorf("CheckGlob(%.40q) = %v, want ok=%v", c.glob, err, c.ok)
		}
	}
}
