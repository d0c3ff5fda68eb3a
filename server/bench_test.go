package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"
	"github.com/tidwall/redcon"

	"rafka/config"
	"rafka/embedded"
	"rafka/producer"
	"rafka/stats"
)

// benchConn is a redcon.Conn whose replies go to a redcon.Writer on
// io.Discard, flushed like redcon does after each read batch.
type benchConn struct {
	*redcon.Writer
	ctx      any
	pipeline []redcon.Command // what ReadPipeline hands out
}

func (c *benchConn) RemoteAddr() string             { return "127.0.0.1:1" }
func (c *benchConn) Close() error                   { return nil }
func (c *benchConn) Context() any                   { return c.ctx }
func (c *benchConn) SetContext(v any)               { c.ctx = v }
func (c *benchConn) SetReadBuffer(int)              {}
func (c *benchConn) Detach() redcon.DetachedConn    { panic("not in benchmarks") }
func (c *benchConn) PeekPipeline() []redcon.Command { return c.pipeline }
func (c *benchConn) ReadPipeline() []redcon.Command {
	p := c.pipeline
	c.pipeline = nil
	return p
}
func (c *benchConn) NetConn() net.Conn                  { return nil }
func (c *benchConn) WriteBulkFrom(n int64, r io.Reader) { c.Writer.WriteBulkFrom(n, r) }
func (c *benchConn) WriteAny(v any)                     { c.Writer.WriteAny(v) }
func (c *benchConn) WriteUint64(v uint64)               { c.Writer.WriteUint64(v) }

// benchServer returns a server and one registered connection.
func benchServer(b *testing.B, brokers string) (*Server, *benchConn) {
	b.Helper()
	// librdkafka logs straight to stderr, into go test's output: its lines
	// about the embedded broker's connections split a benchmark's result
	// line in two (in BENCHMARKS.md too).
	file := &config.File{General: config.Properties{"log_level": "0"}, Consumer: config.Properties{}, Producer: config.Properties{}}
	settings := config.DefaultSettings()
	st := stats.New()
	prod := producer.New(file.ProducerProperties(brokers), producer.LimitsOf(settings), st, zerolog.Nop())
	s := New(Config{
		Settings: settings,
		Consumer: file.ConsumerProperties(brokers),
		Producer: prod,
		General:  file.GeneralProperties(brokers),
		Version:  "bench",
		Stats:    st,
		Log:      zerolog.Nop(),
	})
	conn := &benchConn{Writer: redcon.NewWriter(io.Discard)}
	if !s.accept(conn) {
		b.Fatal("accept refused")
	}
	b.Cleanup(func() {
		s.teardown(conn.ctx.(*client))
		s.background.Wait()
		prod.Close(0)
	})
	return s, conn
}

// BenchmarkDispatchPing measures command lookup, dispatch and a reply.
func BenchmarkDispatchPing(b *testing.B) {
	s, conn := benchServer(b, "127.0.0.1:1")
	cmd := redcon.Command{Args: [][]byte{[]byte("PING")}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.handle(conn, cmd)
		if i%100 == 99 {
			_ = conn.Flush()
		}
	}
}

// BenchmarkBLPOPReply measures writing BLPOP's eight-element reply for a
// 100-byte message.
func BenchmarkBLPOPReply(b *testing.B) {
	_, conn := benchServer(b, "127.0.0.1:1")
	c := conn.ctx.(*client)
	topic := "bench"
	m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 3, Offset: 123456}, Value: bytes.Repeat([]byte("v"), 100)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		writeMessage(c, m)
		if i%100 == 99 {
			_ = conn.Flush()
		}
	}
}

// BenchmarkRPUSHX measures RPUSHX of one 100-byte message into the
// producer's queue (an embedded broker takes the deliveries).
func BenchmarkRPUSHX(b *testing.B) {
	broker, err := embedded.Start(embedded.Options{AutoCreateTopics: true, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(broker.Close) // runs after the connection's teardown
	s, conn := benchServer(b, broker.Addr())
	cmd := redcon.Command{Args: [][]byte{[]byte("RPUSHX"), []byte("topics:bench"), bytes.Repeat([]byte("v"), 100)}}
	s.handle(conn, cmd) // create the producer and the topic
	c := conn.ctx.(*client)
	c.account.Wait(context.Background(), 10*time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.handle(conn, cmd)
		if i%100 == 99 {
			_ = conn.Flush()
		}
		if i%5000 == 4999 {
			b.StopTimer() // stay under the outstanding limit (no backpressure waits)
			c.account.Wait(context.Background(), 10*time.Second)
			b.StartTimer()
		}
	}
	b.StopTimer()
	if left := c.account.Wait(context.Background(), 10*time.Second); left != 0 {
		b.Fatalf("%d messages undelivered", left)
	}
	if errs := s.stats.Get(stats.ErrorsProducer); errs != 0 {
		b.Fatalf("%d produce errors", errs)
	}
}

// BenchmarkXAddBatch measures pipelined XADD: one XADD with 99 more
// pipelined after it, each of one 100-byte payload field, produced
// together and replied once all are delivered (to the embedded broker).
// ns/op and allocs/op are per batch of 100.
func BenchmarkXAddBatch(b *testing.B) {
	broker, err := embedded.Start(embedded.Options{AutoCreateTopics: true, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(broker.Close)
	s, conn := benchServer(b, broker.Addr())
	args := [][]byte{[]byte("XADD"), []byte("xbench"), []byte("*"), []byte("payload"), bytes.Repeat([]byte("v"), 100)}
	cmd := redcon.Command{Args: args}
	s.handle(conn, cmd) // create the topic and the producer
	rest := make([]redcon.Command, 99)
	for i := range rest {
		rest[i] = cmd
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		conn.pipeline = rest
		s.handle(conn, cmd)
		_ = conn.Flush()
	}
	b.StopTimer()
	if errs := s.stats.Get(stats.ErrorsProducer) + s.stats.Get(stats.ErrorsPanic); errs != 0 {
		b.Fatalf("%d produce errors and panics", errs)
	}
}
