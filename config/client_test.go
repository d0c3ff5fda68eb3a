package config

import "testing"

func TestServerOnly(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"bootstrap.servers", true},
		{"metadata.broker.list", true},
		{"security.protocol", true},
		{"sasl.password", true},
		{"sasl.oauthbearer.token.endpoint.url", true},
		{"ssl.ca.location", true},
		{"ssl_key", true},
		{"enable.ssl.certificate.verification", true},
		{"plugin.library.paths", true},
		{"debug", true},
		{"log.queue", true},
		{"log_level", true},
		{"statistics.interval.ms", true},
		{"go.events.channel.enable", true},
		{"auto.offset.reset", false},
		{"fetch.max.bytes", false},
		{"session.timeout.ms", false},
		{"debugging", false}, // not a librdkafka property, but not "debug"
		{"isolation.level", false},
	}
	for _, tt := range tests {
		if got := ServerOnly(tt.name); got != tt.want {
			t.Errorf("ServerOnly(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
