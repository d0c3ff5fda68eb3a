package arrowflight

import (
	"strings"
	"testing"
)

// TestNewRefusesMaxStreams: MaxStreams has no default of its own (the
// settings' default is config.Settings.FlightMaxStreams); below 1 is refused.
func TestNewRefusesMaxStreams(t *testing.T) {
	for _, n := range []int{0, -1} {
		_, err := New(Config{MaxStreams: n})
		if err == nil || !strings.Contains(err.Error(), "flight max streams must be at least 1") {
			t.Fatalf("New(MaxStreams: %d): %v", n, err)
		}
	}
}
