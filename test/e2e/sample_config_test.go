package e2e

import (
	"testing"

	"rafka/config"
	"rafka/consumer"
	"rafka/producer"
)

// TestSampleConfig: kafka.json.sample parses and librdkafka accepts every
// property in it.
func TestSampleConfig(t *testing.T) {
	f, err := config.Load("../../kafka.json.sample")
	if err != nil {
		t.Fatal(err)
	}
	if err := config.DefaultSettings().Overlay(f.Rafka).Validate(); err != nil {
		t.Errorf("rafka section: %v", err)
	}
	if err := consumer.Validate(f.ConsumerProperties(env.brokers)); err != nil {
		t.Errorf("consumer section: %v", err)
	}
	if err := producer.Validate(f.ProducerProperties(env.brokers)); err != nil {
		t.Errorf("producer section: %v", err)
	}
}
