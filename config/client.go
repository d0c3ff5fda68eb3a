package config

import "strings"

// serverOnly are the consumer properties, and prefixes of them, that a
// client's per-connection JSON may not set: where the consumer connects and
// with which credentials (a client could otherwise send the server's SASL
// secrets to a broker of its own), what code librdkafka loads, what it logs
// and reports, and the Go client's channel plumbing that rafka's poll loop
// relies on.
var serverOnly = []string{
	"bootstrap.servers", "metadata.broker.list",
	"security.", "sasl.", "ssl.", "ssl_", "enable.ssl.", "enable.sasl.", "https.",
	"plugin.", "debug", "log.", "log_", "statistics.", "go.",
}

// ServerOnly reports whether a client may not set consumer property name
// in its per-connection JSON.
func ServerOnly(name string) bool {
	for _, p := range serverOnly {
		if name == p || (strings.HasSuffix(p, ".") || strings.HasSuffix(p, "_")) && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
