// Package e2e holds rafka's end-to-end tests: a real server on a real TCP
// socket, against real Kafka when KAFKA_BROKERS is set (make test) and
// against the embedded broker otherwise (go test ./...).
package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/embedded"
	"rafka/producer"
	"rafka/server"
	"rafka/stats"
)

// env is the Kafka the tests run against, set up once by TestMain.
var env struct {
	brokers string
	admin   *kafka.AdminClient
	real    bool   // a real Kafka broker (KAFKA_BROKERS), not the embedded one
	dir     string // the run's scratch directory (the built binary)
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rafka-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scratch directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	env.dir = dir
	env.brokers = os.Getenv("KAFKA_BROKERS")
	env.real = env.brokers != ""
	if !env.real {
		b, err := embedded.Start(embedded.Options{Partitions: 4, MinSessionTimeout: time.Second, Log: zerolog.Nop()})
		if err != nil {
			fmt.Fprintln(os.Stderr, "start embedded broker:", err)
			return 1
		}
		defer b.Close()
		env.brokers = b.Addr()
	}
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": env.brokers, "enable.metrics.push": false})
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin client:", err)
		return 1
	}
	defer admin.Close()
	env.admin = admin
	fmt.Fprintf(os.Stderr, "e2e: brokers %s (real Kafka: %v)\n", env.brokers, env.real)
	return m.Run()
}

// testConsumerProps are consumer settings that make rebalances quick.
var testConsumerProps = config.Properties{
	"heartbeat.interval.ms": "300",
	"session.timeout.ms":    "3000",
	"auto.offset.reset":     "earliest",
}

// testServer is a rafka server running in this process on a free port.
type testServer struct {
	srv   *server.Server
	addr  string
	stats *stats.Stats
	done  bool
}

// startServer starts a server with the test configuration; edit may change
// it. The server is shut down when the test ends.
func startServer(t testing.TB, edit ...func(*server.Config)) *testServer {
	t.Helper()
	file := &config.File{General: config.Properties{}, Consumer: testConsumerProps.Clone(), Producer: config.Properties{}}
	settings := config.DefaultSettings()
	settings.Host, settings.Port = "127.0.0.1", 0
	settings.ShutdownTimeout = config.Duration(30 * time.Second)
	cfg := server.Config{
		Settings: settings,
		Consumer: file.ConsumerProperties(env.brokers),
		General:  file.GeneralProperties(env.brokers),
		Version:  "test",
		Stats:    stats.New(),
		Log:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}
	if _, fuzzing := t.(*testing.F); fuzzing {
		cfg.Log = zerolog.Nop() // a fuzz target's inputs may not log through the F
	}
	cfg.Producer = testProducer(cfg, file.ProducerProperties(env.brokers))
	cfg.Transactions = producer.NewTransactions(file.ProducerProperties(env.brokers), uniqueName(t, "txn"), cfg.Stats, cfg.Log)
	for _, e := range edit {
		e(&cfg)
	}
	srv := server.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	ts := &testServer{srv: srv, addr: ln.Addr().String(), stats: cfg.Stats}
	t.Cleanup(func() {
		ts.shutdown(t)
		cfg.Transactions.Close(context.Background())
		cfg.Producer.Close(5 * time.Second)
	})
	return ts
}

// testProducer is the shared producer of a test server with cfg's
// settings, stats and log, producing with props.
func testProducer(cfg server.Config, props config.Properties) *producer.Producer {
	return producer.New(props, producer.LimitsOf(cfg.Settings), cfg.Stats, cfg.Log)
}

// shutdown stops the server (once).
func (ts *testServer) shutdown(t testing.TB) {
	t.Helper()
	if ts.done {
		return
	}
	ts.done = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// dial connects a raw RESP client.
func (ts *testServer) dial(t testing.TB) *respConn { return dialRESP(t, ts.addr) }

// stat reads one counter over HGETALL stats, as a client would.
func (ts *testServer) stat(t testing.TB, name string) string {
	t.Helper()
	c := ts.dial(t)
	defer c.conn.Close()
	return c.do("HGETALL", "stats").Pairs()[name]
}

var nonName = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// uniqueName returns a name unique to this run, for topics and groups.
func uniqueName(t testing.TB, prefix string) string {
	base := strings.ToLower(nonName.ReplaceAllString(t.Name(), "-"))
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	return fmt.Sprintf("%s-%s-%06d", prefix, strings.Trim(base, "-"), rand.IntN(1000000))
}

// newTopic creates a topic with the given partition count and waits until
// every partition has a leader.
func newTopic(t testing.TB, partitions int) string {
	t.Helper()
	topic := uniqueName(t, "t")
	createTopic(t, topic, partitions)
	return topic
}

// createTopic creates a test topic that Kafka's retention never trims:
// several tests write records with 2023 timestamps, which the broker's
// retention check (every 5 minutes, 7 days' retention) would delete
// mid-test — TestClientArrowFlight's "read 0 of 25", watermarks [25,25).
func createTopic(t testing.TB, topic string, partitions int) {
	t.Helper()
	createTopicWith(t, topic, partitions, map[string]string{"retention.ms": "-1"})
}

// createTopicWith creates a topic with the given topic configuration.
func createTopicWith(t testing.TB, topic string, partitions int, topicConfig map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := env.admin.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, Config: topicConfig}})
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		t.Fatalf("create topic %s: %v", topic, res[0].Error)
	}
	waitFor(t, 20*time.Second, "topic "+topic+" has leaders", func() bool {
		md, err := env.admin.GetMetadata(&topic, false, 2000)
		if err != nil {
			return false
		}
		tm, ok := md.Topics[topic]
		if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) != partitions {
			return false
		}
		for _, p := range tm.Partitions {
			if p.Leader < 0 {
				return false
			}
		}
		return true
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// produceDirect writes values to one partition with a plain librdkafka
// producer and waits for every delivery.
func produceDirect(t testing.TB, topic string, partition int32, values ...string) {
	t.Helper()
	if err := produceValues(topic, partition, values...); err != nil {
		t.Fatal(err)
	}
}

// produceValues is produceDirect for other goroutines than the test's
// (which may not call t.Fatal): it returns the failure.
func produceValues(topic string, partition int32, values ...string) error {
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": env.brokers, "enable.metrics.push": false})
	if err != nil {
		return err
	}
	defer p.Close()
	reports := make(chan kafka.Event, len(values))
	for _, v := range values {
		err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: partition},
			Value:          []byte(v),
		}, reports)
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	for range values {
		select {
		case ev := <-reports:
			if m := ev.(*kafka.Message); m.TopicPartition.Error != nil {
				return fmt.Errorf("delivery: %w", m.TopicPartition.Error)
			}
		case <-time.After(30 * time.Second):
			return errors.New("delivery report timed out")
		}
	}
	return nil
}

// assignedReader is a group-less librdkafka consumer assigned every
// partition of topic from its beginning (extra: more properties), and the
// assignment; the caller closes it.
func assignedReader(t testing.TB, topic string, extra kafka.ConfigMap) (*kafka.Consumer, []kafka.TopicPartition) {
	t.Helper()
	conf := kafka.ConfigMap{"bootstrap.servers": env.brokers, "group.id": uniqueName(t, "reader"),
		"enable.auto.commit": false, "enable.metrics.push": false}
	for k, v := range extra {
		conf[k] = v
	}
	c, err := kafka.NewConsumer(&conf)
	if err != nil {
		t.Fatal(err)
	}
	md, err := env.admin.GetMetadata(&topic, false, 5000)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	var parts []kafka.TopicPartition
	for _, p := range md.Topics[topic].Partitions {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(parts); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, parts
}

// readAll reads every message of topic from the beginning with an assigned
// (group-less) librdkafka consumer, stopping after want messages.
func readAll(t testing.TB, topic string, want int) []*kafka.Message {
	t.Helper()
	c, parts := assignedReader(t, topic, nil)
	defer c.Close()
	var out []*kafka.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		if m, ok := c.Poll(100).(*kafka.Message); ok {
			out = append(out, m)
		}
	}
	if len(out) < want {
		// What the broker says, to tell a missing topic or partition from a
		// read that did not progress.
		var marks []string
		for _, p := range parts {
			lo, hi, err := c.QueryWatermarkOffsets(topic, p.Partition, 5000)
			marks = append(marks, fmt.Sprintf("%d:[%d,%d) %v", p.Partition, lo, hi, err))
		}
		t.Fatalf("read %d of %d messages from %s (partitions and watermarks: %v; assignment %v)", len(out), want, topic, marks, parts)
	}
	return out
}

// committed returns the group's committed offsets for topic by partition.
func committed(t testing.TB, group, topic string, partitions int) map[int32]int64 {
	t.Helper()
	var tps []kafka.TopicPartition
	for p := 0; p < partitions; p++ {
		tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: int32(p)})
	}
	// Through a consumer of the group that never joins it, not the admin
	// API: librdkafka 2.11's ListConsumerGroupOffsets crashes the process
	// when the coordinator answers that it is still loading.
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": env.brokers, "group.id": group,
		"enable.auto.commit": false, "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Committed(tps, 10000)
	var kerr kafka.Error
	if errors.As(err, &kerr) && kerr.Code() == kafka.ErrGroupIDNotFound {
		return map[int32]int64{} // the embedded broker knows no group that never committed
	}
	if err != nil {
		t.Fatalf("committed offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for _, tp := range res {
		if tp.Error == nil && tp.Offset >= 0 {
			out[tp.Partition] = int64(tp.Offset)
		}
	}
	return out
}

// assignment returns each member's (client.id) partitions of topic in group,
// once the group is stable.
func assignment(t testing.TB, group string) map[string][]int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := env.admin.DescribeConsumerGroups(ctx, []string{group})
	if err != nil || len(res.ConsumerGroupDescriptions) == 0 {
		return nil
	}
	d := res.ConsumerGroupDescriptions[0]
	if d.State != kafka.ConsumerGroupStateStable {
		return nil
	}
	out := map[string][]int32{}
	for _, m := range d.Members {
		for _, tp := range m.Assignment.TopicPartitions {
			out[m.ClientID] = append(out[m.ClientID], tp.Partition)
		}
	}
	return out
}

// message is a decoded BLPOP reply.
type message struct {
	topic     string
	partition int64
	offset    int64
	value     string
	null      bool
}

// asMessage decodes BLPOP's eight-element reply, failing on anything else.
func asMessage(t testing.TB, r reply) message {
	t.Helper()
	if r.Kind != '*' || len(r.Elems) != 8 {
		t.Fatalf("expected an 8-element BLPOP reply, got %s", r)
	}
	names := []string{r.Elems[0].Str, r.Elems[2].Str, r.Elems[4].Str, r.Elems[6].Str}
	if strings.Join(names, ",") != "topic,partition,offset,value" {
		t.Fatalf("unexpected BLPOP field names %v", names)
	}
	if r.Elems[3].Kind != ':' || r.Elems[5].Kind != ':' {
		t.Fatalf("partition and offset must be integers: %s", r)
	}
	return message{
		topic: r.Elems[1].Str, partition: r.Elems[3].Num, offset: r.Elems[5].Num,
		value: r.Elems[7].Str, null: r.Elems[7].Null,
	}
}

// ack is the RPUSH acks value for a message.
func (m message) ack() string { return fmt.Sprintf("%s:%d:%d", m.topic, m.partition, m.offset) }

// popN BLPOPs until n messages arrived (each call waits up to 1 s), failing
// after deadline.
func popN(t testing.TB, c *respConn, key string, n int, deadline time.Duration) []message {
	t.Helper()
	var out []message
	end := time.Now().Add(deadline)
	for len(out) < n {
		if time.Now().After(end) {
			t.Fatalf("got %d of %d messages from %s", len(out), n, key)
		}
		r := c.do("BLPOP", key, "1")
		if r.Null {
			continue
		}
		out = append(out, asMessage(t, r))
	}
	return out
}
