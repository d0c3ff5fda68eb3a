package config

import (
	"strings"
	"testing"
	"time"
)

func TestKafkaStatsInterval(t *testing.T) {
	cases := []struct {
		interval time.Duration
		prop     string // statistics.interval.ms set in properties that had "7"
		err      string
	}{
		{0, "7", ""},
		{time.Millisecond, "1", ""},
		{10 * time.Second, "10000", ""},
		{1500 * time.Microsecond, "1", ""},
		{24 * time.Hour, "86400000", ""},
		{-time.Second, "", "kafka stats interval"},
		{time.Microsecond, "", "kafka stats interval"},
		{25 * time.Hour, "", "kafka stats interval"},
	}
	for _, c := range cases {
		s := DefaultSettings()
		s.KafkaStatsInterval = Duration(c.interval)
		err := s.Validate()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.interval, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.interval, err)
			continue
		}
		p := Properties{StatsIntervalProperty: "7"}
		SetStatsInterval(p, c.interval)
		if p[StatsIntervalProperty] != c.prop {
			t.Errorf("%v: %s=%q, want %q", c.interval, StatsIntervalProperty, p[StatsIntervalProperty], c.prop)
		}
	}
	f, err := Parse([]byte(`{"rafka": {"kafka_stats_interval": "15s"}}`))
	if err != nil || f.Rafka.KafkaStatsInterval != Duration(15*time.Second) {
		t.Errorf("rafka section kafka_stats_interval: %v", err)
	}
}
