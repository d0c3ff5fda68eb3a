package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"rafka/config"
	"rafka/consumer"
	"rafka/producer"
)

// TestSampleConfig: kafka.json.sample parses and librdkafka accepts every
// property in it.
func TestSampleConfig(t *testing.T) {
	f, err := config.LoadFile("../../kafka.json.sample")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Rafka.Validate(); err != nil {
		t.Errorf("rafka section: %v", err)
	}
	if err := consumer.Validate(f.ConsumerProperties(env.brokers)); err != nil {
		t.Errorf("consumer section: %v", err)
	}
	if err := producer.Validate(f.ProducerProperties(env.brokers)); err != nil {
		t.Errorf("producer section: %v", err)
	}
}

// TestConfigFileTypes: JSON numbers and booleans in the file reach
// confluent-kafka-go's go.* properties as the ints and bools it needs (a
// string is refused there) and librdkafka's own properties as it reads them.
// Before, `"go.events.channel.size": 1000` stopped start-up with "expects type
// int, not string".
func TestConfigFileTypes(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "kafka.json")
	if err := os.WriteFile(cfg, []byte(`{
		"producer": {"go.events.channel.size": 500, "go.produce.channel.size": 10, "go.batch.producer": false,
			"linger.ms": 2, "enable.idempotence": true},
		"consumer": {"go.events.channel.size": 100, "session.timeout.ms": 6000, "enable.partition.eof": false}
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, "--config", cfg, "--flight-addr", "off")
	topic := newTopic(t, 1)
	c := dialRESP(t, p.resp)
	c.expect("(integer) 2", "RPUSHX", "topics:"+topic, "a", "b")
	c.expect("(integer) 0", "DUMP", "10000")
	c.expect("OK", "CLIENT", "SETNAME", uniqueName(t, "g")+":w")
	if m := popN(t, c, `topics:`+topic+`:{"auto.offset.reset":"earliest"}`, 1, 30*time.Second)[0]; m.value != "a" {
		t.Fatalf("consumed %+v", m)
	}
}
