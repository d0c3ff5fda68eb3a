package config

import (
	"strconv"
	"strings"
	"time"
)

// consumerDefaults apply to every consumer unless the configuration sets them.
var consumerDefaults = Properties{
	"auto.offset.reset":    "latest",
	"enable.partition.eof": "false",
	// Bounded prefetch: librdkafka's default (64 MB per consumer) would let a
	// thousand idle consumers hold 64 GB.
	"queued.max.messages.kbytes": "1024",
	"queued.min.messages":        "1000",
	// Catch-up reading of a backlog is otherwise throttled by the default
	// 1000 ms back-off whenever the small prefetch queue is full.
	"fetch.queue.backoff.ms": "10",
	"enable.metrics.push":    "false",
}

// consumerForced are set by the server whatever the configuration says:
// offsets are stored only by acks, and stored offsets are committed by
// librdkafka's timer and on close.
var consumerForced = Properties{
	"enable.auto.offset.store": "false",
	"enable.auto.commit":       "true",
}

// producerForced are set whatever the configuration says: the shared
// producer accounts every connection's messages by their delivery reports,
// so without them no connection's messages would ever count as delivered.
var producerForced = Properties{
	"go.delivery.reports": "true",
}

// producerDefaults apply to every producer unless the configuration sets them.
var producerDefaults = Properties{
	// One producer serves every connection; brokers see it under this name
	// (so a client quota on it applies to the whole server).
	"client.id": "rafka",
	// Fail fast on a missing topic: with 0, librdkafka reports a produce to an
	// unknown topic within tens of milliseconds and then rejects further
	// produces synchronously. The trade-off: a topic created a moment ago that
	// this client's metadata has not seen yet can be reported missing.
	"topic.metadata.propagation.max.ms": "0",
	"enable.metrics.push":               "false",
	// Idempotent producing, as in Kafka's own clients since 3.0: when a
	// broker fails after storing a request but before answering, the retry
	// is not stored twice, and retries keep the order within a partition.
	"enable.idempotence": "true",
	// Delivery reports are only counted and logged: do not copy every
	// message's key and value back into Go memory for them.
	"go.delivery.report.fields": "none",
	// confluent-kafka-go allocates both channels whole, 1,000,000 entries
	// by default: ~32 MB of Go heap per producer, scanned by every GC.
	// The event drain keeps up with 1000; Produce() bypasses the produce
	// channel, so it needs none.
	"go.events.channel.size":  "1000",
	"go.produce.channel.size": "1",
	// Keys land where Kafka's Java producer puts them (murmur2 of the key;
	// librdkafka's own default, consistent_random, uses CRC32), so messages
	// produced through rafka and by Java producers keep one order per key.
	"partitioner": "murmur2_random",
}

// ConsumerProperties returns the properties for a consumer: defaults, then
// general, then consumer, then the forced settings, with bootstrap servers
// set to brokers when brokers is not empty.
func (f *File) ConsumerProperties(brokers string) Properties {
	p := merge(consumerDefaults, f.General, f.Consumer, brokersProps(brokers))
	for k, v := range consumerForced {
		p[k] = v
	}
	return p
}

// ProducerProperties returns the properties for a producer: defaults, then
// general, then producer, then the forced settings, with bootstrap servers
// set to brokers when brokers is not empty.
func (f *File) ProducerProperties(brokers string) Properties {
	p := merge(producerDefaults, f.General, f.Producer, brokersProps(brokers))
	for k, v := range producerForced {
		p[k] = v
	}
	return p
}

// GeneralProperties returns the general section, with bootstrap servers set
// to brokers when brokers is not empty: the properties of the server's shared
// metadata handle.
func (f *File) GeneralProperties(brokers string) Properties {
	return merge(Properties{"enable.metrics.push": "false"}, f.General, brokersProps(brokers))
}

// Brokers returns the bootstrap servers named in the file, if any.
func (f *File) Brokers() string {
	for _, p := range []Properties{f.General, f.Consumer, f.Producer} {
		for _, k := range []string{"bootstrap.servers", "metadata.broker.list"} {
			if v := p[k]; v != "" {
				return v
			}
		}
	}
	return ""
}

// ForceConsumerSettings applies the settings the server enforces on every
// consumer; callers merging per-connection overrides call it last.
func ForceConsumerSettings(p Properties) {
	for k, v := range consumerForced {
		p[k] = v
	}
}

// StatsIntervalProperty is librdkafka's statistics interval property.
const StatsIntervalProperty = "statistics.interval.ms"

// SetStatsInterval sets statistics.interval.ms in p to d (whole
// milliseconds) when d is positive; otherwise p is left as it is.
func SetStatsInterval(p Properties, d time.Duration) {
	if d > 0 {
		p[StatsIntervalProperty] = strconv.FormatInt(max(d.Milliseconds(), 1), 10)
	}
}

func brokersProps(brokers string) Properties {
	if brokers == "" {
		return nil
	}
	return Properties{"bootstrap.servers": brokers}
}

func merge(layers ...Properties) Properties {
	out := Properties{}
	for _, l := range layers {
		for k, v := range l {
			out[k] = v
		}
	}
	return out
}

// IsSecret reports whether a property holds a secret that must never be
// logged or shown: passwords, SASL settings and SSL keys.
func IsSecret(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".password") ||
		strings.HasPrefix(n, "sasl.") ||
		strings.HasPrefix(n, "ssl.key") ||
		strings.Contains(n, "secret")
}

// Masked returns a copy of p with every secret value replaced by "*****".
func Masked(p Properties) Properties {
	out := make(Properties, len(p))
	for k, v := range p {
		if IsSecret(k) {
			v = "*****"
		}
		out[k] = v
	}
	return out
}
