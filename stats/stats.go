// Package stats holds the server's counters: the numbers behind
// `HGETALL stats` and the Prometheus endpoint. Every counter is an atomic
// integer, so the hot path pays one atomic add per event. It also keeps
// what librdkafka's periodic statistics report (kafka.go), for Prometheus
// only.
package stats

import (
	"sync/atomic"
	"time"
)

// Counter names one statistic. The order of the constants is the order in
// which `HGETALL stats` lists them: the three classic rafka fields first.
type Counter int

// The counters. Gauges (values that go up and down) are marked as such and
// survive a reset.
const (
	ProducerUnflushed         Counter = iota // producer.unflushed.messages
	ProducerDeliveryErrors                   // producer.delivery.errors
	ProducerUnknownEvents                    // producer.unknown.events
	ConnectionsCurrent                       // connections.current (gauge)
	ConnectionsTotal                         // connections.total
	ConnectionsRejected                      // connections.rejected
	ConsumersCurrent                         // consumers.current (gauge)
	ConsumersCreated                         // consumers.created
	ProducersCurrent                         // producers.current (gauge)
	ProducersCreated                         // producers.created
	ProducerMessages                         // producer.messages
	ProducerBytes                            // producer.bytes
	ProducerDelivered                        // producer.delivered
	ProducerEnqueueErrors                    // producer.enqueue.errors
	ConsumerMessages                         // consumer.messages
	ConsumerBytes                            // consumer.bytes
	ConsumerAcks                             // consumer.acks
	ConsumerAckErrors                        // consumer.ack.errors
	BlpopCalls                               // blpop.calls
	BlpopTimeouts                            // blpop.timeouts
	Commands                                 // commands
	NetBytesIn                               // net.bytes.in
	NetBytesOut                              // net.bytes.out
	ErrorsProtocol                           // errors.protocol
	ErrorsCommand                            // errors.command
	ErrorsConsumer                           // errors.consumer
	ErrorsProducer                           // errors.producer
	ErrorsPanic                              // errors.panic
	MonitorDropped                           // monitor.dropped
	ArrowBlpopCalls                          // arrow.blpop.calls
	ArrowBlpopRows                           // arrow.blpop.rows
	ArrowBlpopTimeouts                       // arrow.blpop.timeouts
	FlightCalls                              // flight.calls
	FlightRows                               // flight.rows
	FlightBytes                              // flight.bytes
	FlightStreams                            // flight.streams.current (gauge)
	FlightRejected                           // flight.rejected
	FlightGetBatches                         // flight.get.batches
	FlightPutRows                            // flight.put.rows
	FlightPutBytes                           // flight.put.bytes
	FlightPutBatches                         // flight.put.batches
	ProducerBackpressureWaits                // producer.backpressure.waits
	ConsumerFetchPauses                      // consumer.fetch.pauses
	TransactionsCommitted                    // transactions.committed
	TransactionsAborted                      // transactions.aborted
	numCounters
)

var names = [numCounters]string{
	"producer.unflushed.messages",
	"producer.delivery.errors",
	"producer.unknown.events",
	"connections.current",
	"connections.total",
	"connections.rejected",
	"consumers.current",
	"consumers.created",
	"producers.current",
	"producers.created",
	"producer.messages",
	"producer.bytes",
	"producer.delivered",
	"producer.enqueue.errors",
	"consumer.messages",
	"consumer.bytes",
	"consumer.acks",
	"consumer.ack.errors",
	"blpop.calls",
	"blpop.timeouts",
	"commands",
	"net.bytes.in",
	"net.bytes.out",
	"errors.protocol",
	"errors.command",
	"errors.consumer",
	"errors.producer",
	"errors.panic",
	"monitor.dropped",
	"arrow.blpop.calls",
	"arrow.blpop.rows",
	"arrow.blpop.timeouts",
	"flight.calls",
	"flight.rows",
	"flight.bytes",
	"flight.streams.current",
	"flight.rejected",
	"flight.get.batches",
	"flight.put.rows",
	"flight.put.bytes",
	"flight.put.batches",
	"producer.backpressure.waits",
	"consumer.fetch.pauses",
	"transactions.committed",
	"transactions.aborted",
}

// gauges are not reset by Reset: they describe what exists right now.
var gauges = [numCounters]bool{
	ConnectionsCurrent: true,
	ConsumersCurrent:   true,
	ProducersCurrent:   true,
	FlightStreams:      true,
}

// String returns the counter's stable, documented name.
func (c Counter) String() string { return names[c] }

// Stats is the set of counters of one server. The zero value is not ready to
// use; call New.
type Stats struct {
	start  time.Time
	values [numCounters]atomic.Int64
	kafka  *kafkaClients // librdkafka statistics (kafka.go)
}

// New returns counters that start at zero, with uptime counted from now.
func New() *Stats { return &Stats{start: time.Now(), kafka: newKafkaClients()} }

// Add adds n (which may be negative for gauges) to counter c.
func (s *Stats) Add(c Counter, n int64) { s.values[c].Add(n) }

// Inc adds one to counter c.
func (s *Stats) Inc(c Counter) { s.values[c].Add(1) }

// Get returns the current value of counter c.
func (s *Stats) Get(c Counter) int64 { return s.values[c].Load() }

// Reset sets every counter except the gauges back to zero (`DEL stats`).
func (s *Stats) Reset() {
	for i := range s.values {
		if !gauges[i] {
			s.values[i].Store(0)
		}
	}
}

// Field is one name/value pair of a snapshot.
type Field struct {
	Name  string
	Value int64
}

// Snapshot returns every counter in its documented order, followed by
// uptime.seconds.
func (s *Stats) Snapshot() []Field {
	out := make([]Field, 0, numCounters+1)
	for i := range s.values {
		out = append(out, Field{Name: names[i], Value: s.values[i].Load()})
	}
	out = append(out, Field{Name: "uptime.seconds", Value: int64(time.Since(s.start).Seconds())})
	return out
}

// Uptime returns how long ago these counters were created.
func (s *Stats) Uptime() time.Duration { return time.Since(s.start) }
