package server

import (
	"testing"
	"time"

	"rafka/config"
)

// TestMetadataCallsDoNotQueue: a slow metadata request (KEYS against an
// unreachable Kafka: its 5 s timeout) does not hold up /readyz's ping (2 s
// timeout), which used to wait for the lock KEYS held across its request.
func TestMetadataCallsDoNotQueue(t *testing.T) {
	m := newMetadata(config.Properties{"bootstrap.servers": "127.0.0.1:1", "enable.metrics.push": "false", "log_level": "0"})
	defer m.close()
	keys := make(chan error, 1)
	go func() {
		_, err := m.topics(0)
		keys <- err
	}()
	time.Sleep(200 * time.Millisecond) // KEYS is waiting on Kafka now
	if err := m.ping(); err == nil {
		t.Fatal("ping of an unreachable Kafka succeeded")
	}
	select {
	case err := <-keys:
		t.Fatalf("KEYS finished (%v) before the ping: the ping waited for it", err)
	default:
	}
	if err := <-keys; err == nil {
		t.Fatal("KEYS against an unreachable Kafka succeeded")
	}
}
