package faults

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestLedgerVerdict checks that the checker catches what it must: lost
// messages, unexplained double storage and unexplained redeliveries.
func TestLedgerVerdict(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	d := func(id int64, p int32, off int64, sec float64) delivery {
		return delivery{id: id, pos: position{p, off}, member: "m", at: at(sec)}
	}
	tests := []struct {
		name         string
		acknowledged []int64
		retried      []int64
		deliveries   []delivery
		faults       []fault
		wantLost     []int64
		wantTwice    []int64 // unexplained double storage
		wantRedeliv  int     // unexplained redeliveries
		wantDups     int
	}{
		{
			name:         "clean",
			acknowledged: []int64{1, 2},
			deliveries:   []delivery{d(1, 0, 0, 1), d(2, 0, 1, 2)},
		},
		{
			name:         "lost",
			acknowledged: []int64{1, 2, 3},
			deliveries:   []delivery{d(1, 0, 0, 1), d(3, 0, 2, 2)},
			wantLost:     []int64{2},
		},
		{
			name:         "redelivered across a fault",
			acknowledged: []int64{1},
			deliveries:   []delivery{d(1, 0, 0, 1), d(1, 0, 0, 30)},
			faults:       []fault{{what: "kill", at: at(20), end: at(21)}},
			wantDups:     1,
		},
		{
			name:         "redelivered while a fault settles",
			acknowledged: []int64{1},
			deliveries:   []delivery{d(1, 0, 0, 22), d(1, 0, 0, 24)},
			faults:       []fault{{what: "broker restart", at: at(10), end: at(20)}},
			wantDups:     1,
		},
		{
			name:         "redelivered with no fault",
			acknowledged: []int64{1},
			deliveries:   []delivery{d(1, 0, 0, 40), d(1, 0, 0, 41)},
			faults:       []fault{{what: "kill", at: at(20), end: at(21)}},
			wantRedeliv:  1,
			wantDups:     1,
		},
		{
			name:         "stored twice after a re-send",
			acknowledged: []int64{1},
			retried:      []int64{1},
			deliveries:   []delivery{d(1, 0, 0, 1), d(1, 1, 7, 2)},
			wantDups:     1,
		},
		{
			name:         "stored twice without a re-send, even during a fault",
			acknowledged: []int64{1},
			deliveries:   []delivery{d(1, 0, 0, 13), d(1, 1, 7, 14)},
			faults:       []fault{{what: "broker killed", at: at(10), end: at(11)}},
			wantTwice:    []int64{1},
			wantDups:     1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLedger()
			l.produced(tt.acknowledged)
			if tt.retried != nil {
				l.produceFailed(tt.retried, errors.New("EOF"))
			}
			l.deliveries = tt.deliveries
			l.faults = tt.faults
			r := l.verdict()
			if !slices.Equal(r.lost, tt.wantLost) {
				t.Errorf("lost = %v, want %v", r.lost, tt.wantLost)
			}
			if !slices.Equal(r.producedTwiceUnexplained, tt.wantTwice) {
				t.Errorf("unexplained double storage = %v, want %v", r.producedTwiceUnexplained, tt.wantTwice)
			}
			if len(r.redeliveredUnexplained) != tt.wantRedeliv {
				t.Errorf("unexplained redeliveries = %v, want %d", r.redeliveredUnexplained, tt.wantRedeliv)
			}
			if r.duplicates != tt.wantDups {
				t.Errorf("duplicates = %d, want %d", r.duplicates, tt.wantDups)
			}
		})
	}
}

// TestMessageValue checks that payloads round-trip to their ids.
func TestMessageValue(t *testing.T) {
	for _, id := range []int64{1, 42, 3_000_012_345} {
		v := messageValue(id)
		if len(v) != 100 {
			t.Errorf("messageValue(%d) is %d bytes, want 100", id, len(v))
		}
		if got, ok := parseMessageValue(v); !ok || got != id {
			t.Errorf("parseMessageValue(messageValue(%d)) = %d, %v", id, got, ok)
		}
	}
	for _, v := range []string{"", "faults-", "faults-x-", "other-1-"} {
		if _, ok := parseMessageValue(v); ok {
			t.Errorf("parseMessageValue(%q) accepted", v)
		}
	}
}
