package config

import (
	"strings"
	"testing"
)

func TestCheckClientProperties(t *testing.T) {
	server := Properties{"queued.max.messages.kbytes": "1024", "fetch.max.bytes": "1048576"}
	tests := []struct {
		props   Properties
		wantErr string // "" for none
	}{
		{Properties{"auto.offset.reset": "earliest", "log.connection.close": "false"}, ""},
		{Properties{"isolation.level": "read_committed", "session.timeout.ms": "6000", "heartbeat.interval.ms": "300"}, ""},
		{Properties{"partition.assignment.strategy": "range,roundrobin"}, ""},
		{Properties{"queued.max.messages.kbytes": "512", "fetch.max.bytes": "1048576"}, ""},
		{Properties{"max.partition.fetch.bytes": "1048576"}, ""}, // librdkafka's default bounds it
		// Not on the list: where it connects, secrets, signals, identity, plumbing.
		{Properties{"bootstrap.servers": "evil:9092"}, `"bootstrap.servers" may not be set per connection`},
		{Properties{"bootstrap.servers\x00": "evil:9092"}, `"bootstrap.servers\x00" may not be set per connection`},
		{Properties{"group.id\x00": "other"}, `"group.id\x00" may not be set`},
		{Properties{"group.id": "other"}, `"group.id" may not be set`},
		{Properties{"group.instance.id": "i"}, `"group.instance.id" may not be set`},
		{Properties{"enable.auto.commit": "false"}, `"enable.auto.commit" may not be set`},
		{Properties{"enable.auto.offset.store\x00": "true"}, `"enable.auto.offset.store\x00" may not be set`},
		{Properties{"internal.termination.signal": "9"}, `"internal.termination.signal" may not be set`},
		{Properties{"debug\x00": "all"}, `"debug\x00" may not be set`},
		{Properties{"Auto.Offset.Reset": "earliest"}, `"Auto.Offset.Reset" may not be set`},
		{Properties{"sasl.password": "x"}, `"sasl.password" may not be set`},
		{Properties{"go.events.channel.size": "1"}, `"go.events.channel.size" may not be set`},
		{Properties{"statistics.interval.ms": "1"}, `"statistics.interval.ms" may not be set`},
		// On the list, value out of bounds.
		{Properties{"queued.max.messages.kbytes": "2097151"}, "queued.max.messages.kbytes must be an integer from 1 to 1024"},
		{Properties{"fetch.max.bytes": "2147483135"}, "fetch.max.bytes must be an integer from 1 to 1048576"},
		{Properties{"queued.min.messages": "10000000"}, "queued.min.messages must be an integer from 1 to 100000"},
		{Properties{"auto.offset.reset": "earliest\x00"}, "auto.offset.reset must be one of"},
		{Properties{"log.connection.close": "0"}, "log.connection.close must be true or false"},
		{Properties{"session.timeout.ms": "1e3"}, "session.timeout.ms must be an integer"},
		{Properties{"auto.commit.interval.ms": "1"}, "auto.commit.interval.ms must be an integer from 100"},
		{Properties{"partition.assignment.strategy": "range,evil"}, "partition.assignment.strategy must be one of"},
		{Properties{"heartbeat.interval.ms": "1"}, "heartbeat.interval.ms must be an integer from 100"},
		// Aliases share one bound and may not both be set (found in review).
		{Properties{"max.partition.fetch.bytes": "1048576", "fetch.message.max.bytes": "1"}, "are one property"},
	}
	for _, tt := range tests {
		err := CheckClientProperties(tt.props, server)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tt.props, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tt.props, err, tt.wantErr)
		}
	}
}

// TestClientPropertiesCanonical: integers reach librdkafka in canonical
// decimal; librdkafka reads "0180" as octal 1 (found in review).
func TestClientPropertiesCanonical(t *testing.T) {
	props := Properties{"auto.commit.interval.ms": "0180", "fetch.wait.max.ms": "0900", "partition.assignment.strategy": "range, roundrobin"}
	if err := CheckClientProperties(props, Properties{}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"auto.commit.interval.ms": "180", "fetch.wait.max.ms": "900", "partition.assignment.strategy": "range,roundrobin"} {
		if props[k] != want {
			t.Errorf("%s = %q, want %q", k, props[k], want)
		}
	}
	// The alias's server value bounds it.
	err := CheckClientProperties(Properties{"max.partition.fetch.bytes": "1048576"}, Properties{"fetch.message.max.bytes": "65536"})
	if err == nil || !strings.Contains(err.Error(), "from 1 to 65536") {
		t.Errorf("alias bound: %v", err)
	}
}

func TestClientPropertiesBoundedByDefaults(t *testing.T) {
	// Every size a client may set has a ceiling, from the server or from
	// librdkafka's defaults.
	for name := range clientProperties {
		if _, err := clientProperties[name](name, "999999999999", Properties{}); err == nil {
			t.Errorf("%s accepts 999999999999 with no server setting", name)
		}
	}
}
