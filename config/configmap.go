package config

import (
	"strconv"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// goProperties are confluent-kafka-go's own properties and the Go type each
// must have in a kafka.ConfigMap (a string is refused there, unlike
// librdkafka's properties, which all take strings).
var goProperties = map[string]string{
	"go.events.channel.size":          "int",
	"go.produce.channel.size":         "int",
	"go.logs.channel.size":            "int",
	"go.batch.producer":               "bool",
	"go.delivery.reports":             "bool",
	"go.events.channel.enable":        "bool",
	"go.application.rebalance.enable": "bool",
	"go.logs.channel.enable":          "bool",
}

// ConfigMap returns p as a kafka.ConfigMap, with confluent-kafka-go's go.*
// properties converted to the Go type it expects (a value that does not
// convert is passed as it is, for the client library to refuse with its own
// message).
func (p Properties) ConfigMap() *kafka.ConfigMap {
	m := make(kafka.ConfigMap, len(p))
	for k, v := range p {
		m[k] = v
		switch goProperties[k] {
		case "int":
			if n, err := strconv.Atoi(v); err == nil {
				m[k] = n
			}
		case "bool":
			if b, err := strconv.ParseBool(v); err == nil {
				m[k] = b
			}
		}
	}
	return &m
}
