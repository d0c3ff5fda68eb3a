package stats

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// commandBuckets are the latency buckets of command durations, in seconds.
var commandBuckets = []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}

// flightBuckets are the buckets of Flight call durations, in seconds: from
// metadata calls to follow streams that last hours.
var flightBuckets = []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30, 120, 600, 3600}

// Metrics exports the counters (the same snapshot as HGETALL stats), and
// per-command counts and latencies, in the Prometheus text format.
type Metrics struct {
	stats    *Stats
	registry *prometheus.Registry
	commands *prometheus.HistogramVec
	flight   *prometheus.HistogramVec
	descs    [numCounters + 1]*prometheus.Desc
	// From librdkafka's statistics (--kafka-stats-interval).
	consumerLag, queueMessages, queueBytes *prometheus.Desc
}

// NewMetrics builds the Prometheus view of s.
func NewMetrics(s *Stats) *Metrics {
	m := &Metrics{
		stats:    s,
		registry: prometheus.NewRegistry(),
		commands: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rafka_command_duration_seconds",
			Help:    "Time to run a RESP command (blocking commands include their wait), by command.",
			Buckets: commandBuckets,
		}, []string{"command"}),
		flight: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rafka_flight_rpc_duration_seconds",
			Help:    "Time to serve an Arrow Flight call (a stream: until it ended), by method and gRPC status code; _count counts the calls.",
			Buckets: flightBuckets,
		}, []string{"method", "code"}),
	}
	for i := range numCounters {
		m.descs[i] = prometheus.NewDesc(metricName(Counter(i)), "rafka stat "+names[i]+" (HGETALL stats)", nil, nil)
	}
	m.descs[numCounters] = prometheus.NewDesc("rafka_uptime_seconds", "Seconds since the server started.", nil, nil)
	m.consumerLag = prometheus.NewDesc("rafka_kafka_consumer_lag",
		"Messages between a partition's high watermark and its group's committed offset, as last reported by the librdkafka statistics of the rafka consumer that owns the partition.",
		[]string{"group", "topic", "partition"}, nil)
	m.queueMessages = prometheus.NewDesc("rafka_kafka_producer_queue_messages",
		"Messages waiting in the librdkafka queues of all producers (msg_cnt), as last reported by their statistics.", nil, nil)
	m.queueBytes = prometheus.NewDesc("rafka_kafka_producer_queue_bytes",
		"Bytes of the messages waiting in the librdkafka queues of all producers (msg_size), as last reported by their statistics.", nil, nil)
	m.registry.MustRegister(m, m.commands, m.flight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// metricName is the Prometheus name of a counter: rafka_ and its stat name
// with dots as underscores, counters ending in _total.
func metricName(c Counter) string {
	n := "rafka_" + strings.NewReplacer(".", "_").Replace(names[c])
	if !gauges[c] {
		n += "_total"
	}
	return n
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
	ch <- m.consumerLag
	ch <- m.queueMessages
	ch <- m.queueBytes
}

// Collect implements prometheus.Collector from one snapshot.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for i, f := range m.stats.Snapshot() {
		kind := prometheus.CounterValue
		if i == int(numCounters) || gauges[i] {
			kind = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(m.descs[i], kind, float64(f.Value))
	}
	lags, messages, bytes := m.stats.KafkaSnapshot()
	for _, l := range lags {
		ch <- prometheus.MustNewConstMetric(m.consumerLag, prometheus.GaugeValue, float64(l.Lag),
			l.Group, l.Topic, strconv.Itoa(int(l.Partition)))
	}
	ch <- prometheus.MustNewConstMetric(m.queueMessages, prometheus.GaugeValue, float64(messages))
	ch <- prometheus.MustNewConstMetric(m.queueBytes, prometheus.GaugeValue, float64(bytes))
}

// CommandObserver returns the recorder of one command's durations,
// looked up once so that recording costs no label lookup per command.
func (m *Metrics) CommandObserver(command string) func(time.Duration) {
	o := m.commands.WithLabelValues(command)
	return func(d time.Duration) { o.Observe(d.Seconds()) }
}

// ObserveFlightRPC records one finished Flight call (arrowflight.RPCObserver).
func (m *Metrics) ObserveFlightRPC(method, code string, d time.Duration) {
	m.flight.WithLabelValues(method, code).Observe(d.Seconds())
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
