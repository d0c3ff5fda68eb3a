package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// A connection's BLPOP JSON is a trust boundary: it may set only the
// consumer properties below, spelled exactly as librdkafka spells them,
// each with its value checked. Anything else — where the consumer connects
// and with which credentials, what librdkafka loads, logs or signals, the
// group identity, the Go client's plumbing — is the operator's. (A
// kafka.ConfigMap key is cut at its first NUL byte by the C layer, so only
// exact matching is safe: "debug\x00" reaches librdkafka as "debug".)

// valueCheck checks one property's value and returns it as librdkafka is to
// receive it (integers in canonical decimal: librdkafka reads "0180" as
// octal); server holds the server's own consumer properties, which bound
// the memory a client may ask for.
type valueCheck func(name, value string, server Properties) (string, error)

// clientProperties is the allow-list of the per-connection JSON.
var clientProperties = map[string]valueCheck{
	"auto.offset.reset":             oneOf("smallest", "earliest", "beginning", "largest", "latest", "end", "error"),
	"isolation.level":               oneOf("read_committed", "read_uncommitted"),
	"log.connection.close":          boolean,
	"check.crcs":                    boolean,
	"partition.assignment.strategy": listOf("range", "roundrobin", "cooperative-sticky"),
	"session.timeout.ms":            intRange(1, 3_600_000),
	// Heartbeats go to the shared cluster: not more often than ten a second.
	"heartbeat.interval.ms": intRange(100, 3_600_000),
	"max.poll.interval.ms":  intRange(1, 86_400_000),
	// Commits go to the shared cluster: not more often than ten a second.
	"auto.commit.interval.ms": intRange(100, 86_400_000),
	"fetch.wait.max.ms":       intRange(10, 10_000),
	// Memory: a connection may lower the server's prefetch bounds, never
	// raise them.
	"fetch.min.bytes":            atMostServer(1),
	"fetch.max.bytes":            atMostServer(1),
	"max.partition.fetch.bytes":  atMostServer(1),
	"fetch.message.max.bytes":    atMostServer(1),
	"queued.max.messages.kbytes": atMostServer(1),
	"queued.min.messages":        atMostServer(1),
}

// librdkafkaDefaults are librdkafka's defaults of the bounded properties,
// the ceiling when the server's configuration does not set them.
var librdkafkaDefaults = Properties{
	"fetch.min.bytes":            "1",
	"fetch.max.bytes":            "52428800",
	"max.partition.fetch.bytes":  "1048576",
	"fetch.message.max.bytes":    "1048576",
	"queued.max.messages.kbytes": "65536",
	"queued.min.messages":        "100000",
}

// ClientPropertyNames returns the properties a connection's JSON may set,
// sorted (for the README and error messages).
func ClientPropertyNames() []string { return slices.Sorted(maps.Keys(clientProperties)) }

// aliases are librdkafka's other names of the same property: a bound on
// one is a bound on both.
var aliases = map[string]string{
	"max.partition.fetch.bytes": "fetch.message.max.bytes",
	"fetch.message.max.bytes":   "max.partition.fetch.bytes",
}

// CheckClientProperties returns an error for the first property (in name
// order) of a connection's JSON that is not on the allow-list or whose value
// is out of bounds; server are the server's consumer properties. The values
// of props are rewritten as librdkafka is to read them.
func CheckClientProperties(props, server Properties) error {
	for _, name := range slices.Sorted(maps.Keys(props)) {
		check, ok := clientProperties[name]
		if !ok {
			return fmt.Errorf("%q may not be set per connection (allowed: %s)", name, strings.Join(ClientPropertyNames(), ", "))
		}
		if alias, ok := aliases[name]; ok && props[alias] != "" {
			return fmt.Errorf("%s and %s are one property: set one", name, alias)
		}
		v, err := check(name, props[name], server)
		if err != nil {
			return err
		}
		props[name] = v
	}
	return nil
}

func oneOf(values ...string) valueCheck {
	return func(name, v string, _ Properties) (string, error) {
		if !slices.Contains(values, v) {
			return "", fmt.Errorf("%s must be one of %s, got %q", name, strings.Join(values, ", "), v)
		}
		return v, nil
	}
}

func listOf(values ...string) valueCheck {
	one := oneOf(values...)
	return func(name, v string, server Properties) (string, error) {
		items := strings.Split(v, ",")
		for i, item := range items {
			item, err := one(name, strings.TrimSpace(item), server)
			if err != nil {
				return "", err
			}
			items[i] = item
		}
		return strings.Join(items, ","), nil
	}
}

func boolean(name, v string, _ Properties) (string, error) {
	if v != "true" && v != "false" {
		return "", fmt.Errorf("%s must be true or false, got %q", name, v)
	}
	return v, nil
}

// parseInt reads a decimal integer in [lo, hi] and returns it in canonical
// form.
func parseInt(name, v string, lo, hi int64) (string, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return "", fmt.Errorf("%s must be an integer from %d to %d, got %q", name, lo, hi, v)
	}
	return strconv.FormatInt(n, 10), nil
}

func intRange(lo, hi int64) valueCheck {
	return func(name, v string, _ Properties) (string, error) { return parseInt(name, v, lo, hi) }
}

// atMostServer bounds a size by the server's own value of the property, or
// of its alias (librdkafka's default when the server sets neither).
func atMostServer(lo int64) valueCheck {
	return func(name, v string, server Properties) (string, error) {
		ceiling := server[name]
		if ceiling == "" {
			ceiling = server[aliases[name]]
		}
		if ceiling == "" {
			ceiling = librdkafkaDefaults[name]
		}
		hi, err := strconv.ParseInt(ceiling, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%s may not be set per connection: the server's value %q is not an integer", name, ceiling)
		}
		out, err := parseInt(name, v, lo, hi)
		if err != nil {
			return "", fmt.Errorf("%w (the server's bound)", err)
		}
		return out, nil
	}
}
