package bench

import (
	"fmt"
	"strings"
	"time"
)

// result is one row of the report.
type result struct {
	// scenario is the scenario, e.g. "P1 produce".
	scenario string
	// name says what was measured.
	name string
	// count is the fixed number of messages or connections; 0 when none.
	count int
	// elapsed is the measured time; 0 when not timed.
	elapsed time.Duration
	// figure is the measured value with its unit.
	figure string
	// ratio is the figure relative to the scenario's baseline.
	ratio string
	// target is the target for this row, if any.
	target string
	// verdict is PASS or MISS when there is a target.
	verdict string
}

// microResult is one line of `go test -bench`.
type microResult struct {
	pkg, name string
	// iterations is b.N.
	iterations string
	// metrics are the value/unit pairs in order (ns/op, B/op, ...).
	metrics [][2]string
}

// rate is messages per second.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// fmtRate formats a message rate with thousands separators.
func fmtRate(r float64) string { return fmtInt(int64(r+0.5)) + " msg/s" }

// fmtRatio formats a ratio to a baseline, with a third decimal for small
// ratios so that they do not show as 0.00×.
func fmtRatio(x float64) string {
	if x < 0.1 {
		return fmt.Sprintf("%.3f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// fmtInt formats n with thousands separators.
func fmtInt(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// fmtMs formats a duration in milliseconds.
func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// fmtKB formats a size given in KiB.
func fmtKB(kb float64) string {
	if kb >= 1024 {
		return fmt.Sprintf("%.1f MiB", kb/1024)
	}
	return fmt.Sprintf("%.1f KiB", kb)
}

// verdictMin is PASS when x reaches at least want.
func verdictMin(x, want float64) string {
	if x >= want {
		return "PASS"
	}
	return "MISS"
}

// verdictMax is PASS when x stays at or below limit.
func verdictMax(x, limit float64) string {
	if x <= limit {
		return "PASS"
	}
	return "MISS"
}

// render returns the results as Markdown tables, which also read well in a
// terminal.
func (b *bench) render() string {
	var sb strings.Builder
	sb.WriteString("| Scenario | Case | Count | Time | Figure | Ratio to baseline | Target | Verdict |\n")
	sb.WriteString("|---|---|---:|---:|---:|---:|---|---|\n")
	for _, r := range b.results {
		count, elapsed := "", ""
		if r.count > 0 {
			count = fmtInt(int64(r.count))
		}
		if r.elapsed > 0 {
			elapsed = fmt.Sprintf("%.2f s", r.elapsed.Seconds())
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.scenario, r.name, count, elapsed, r.figure, r.ratio, r.target, r.verdict)
	}
	if len(b.micro) > 0 {
		sb.WriteString("\nGo micro-benchmarks (`go test -run xxx -bench . -benchmem ./arrowenc ./server`):\n\n")
		sb.WriteString("| Package | Benchmark | Iterations | Metrics |\n|---|---|---:|---|\n")
		for _, m := range b.micro {
			var parts []string
			for _, kv := range m.metrics {
				parts = append(parts, kv[0]+" "+kv[1])
			}
			fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", m.pkg, m.name, m.iterations, strings.Join(parts, " · "))
		}
	}
	if len(b.errors) > 0 {
		sb.WriteString("\nFailures:\n\n")
		for _, e := range b.errors {
			fmt.Fprintf(&sb, "- %s\n", e)
		}
	}
	if len(b.notes) > 0 {
		sb.WriteString("\nNotes from this run:\n\n")
		for _, n := range b.notes {
			fmt.Fprintf(&sb, "- %s\n", n)
		}
	}
	return sb.String()
}

// document is the whole BENCHMARKS.md: how it was made, the machine, the
// table and how each scenario measures.
func (b *bench) document(table string) string {
	var sb strings.Builder
	sb.WriteString("# rafka benchmarks\n\n")
	sb.WriteString("Written by `make bench` (test/bench). Every scenario ran in one run against one Kafka broker " +
		"(the single-node KRaft broker of test/kafkaharness), with 4-partition topics and 100-byte values. " +
		"Ratios are to the scenario's baseline (the first row of each scenario); targets are those of issue 4 (P1-P5) and issue 13 (P6).\n\n")
	if b.opts.scale != 1 {
		fmt.Fprintf(&sb, "**Scaled run (-scale %g): counts are smaller than the standard run's.**\n\n", b.opts.scale)
	}
	sb.WriteString("## Machine\n\n")
	for _, kv := range describeMachine(b.opts) {
		fmt.Fprintf(&sb, "- %s: %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(&sb, "- run: %s, %s\n", b.started.UTC().Format(time.RFC3339), time.Since(b.started).Round(time.Second))
	sb.WriteString("\n## Results\n\n")
	sb.WriteString(table)
	sb.WriteString("\n## Method\n\n")
	sb.WriteString(method)
	return sb.String()
}

// method describes how each scenario measures, for BENCHMARKS.md.
const method = `- **P1 produce.** Baseline: one confluent-kafka-go producer with exactly rafka's producer
  configuration (config.ProducerProperties: librdkafka defaults, acks=all, plus rafka's
  defaults) producing N keyless messages and waiting for every delivery report. rafka: N
  RPUSHX commands of one message each over 50 connections (all through rafka's one shared
  producer), in rounds of 100 pipelined commands per connection, or one command at a time;
  then DUMP 60000 on every connection, which must answer 0. Time is from the first command to
  the last DUMP reply. Latency: the time of each round, from sending its commands to reading
  its last reply (percentiles over all rounds of all connections). Every topic is checked to
  hold exactly N messages afterwards.
- **P2 RESP overhead.** redis-benchmark -c 50 -P 16 -n N --csv, once against a throw-away
  redis-server (RPUSH benchlist <100 bytes>) and once against rafka (RPUSHX topics:<t> <100
  bytes>). RPUSHX replies when the message is in the local librdkafka queue.
- **P3 consume.** A topic pre-filled with N messages by the raw producer. Every reader starts
  from the beginning with a fresh group and stops once it has seen every (partition, offset)
  at least once (BLPOP: a fixed number of distinct ones). Time and rate run from the first
  message to the last, since joining a group takes 0.1 to several seconds; the figure also
  gives the rate counting the time to the first message. Baseline: one confluent-kafka-go
  group consumer with exactly rafka's consumer configuration (config.ConsumerProperties:
  1 MiB prefetch, offsets stored by the application); a second one with librdkafka's
  defaults is shown for comparison. BLPOP: k connections in one group, each sending RPUSH
  acks for every message, pipelined with its next BLPOP; pipelined d deep: d BLPOPs sent at
  once (timeout 0.05 s), then one RPUSH acks with an ack of every message they returned,
  pipelined with the next d BLPOPs. ARROW.BLPOP: k connections,
  COUNT 1000, decoding each Arrow batch, then one RPUSH acks with the highest offset of each
  partition of the batch, pipelined with the next ARROW.BLPOP. Flight: GetFlightInfo PATH
  [topic], then DoGet of every endpoint (one per partition) in parallel with the arrow-go
  Flight client. Duplicates (redeliveries after rebalances) are counted.
- **P4 latency.** 5,000 msg/s for 10 s; every value carries its send time. rafka: one
  connection sends RPUSHX (replies read concurrently), one consumer connection runs BLPOP with
  the ack of the previous message pipelined. Baseline: a confluent-kafka-go producer and
  group consumer, both with rafka's settings. Measuring starts only after the consumer
  received a warm-up message. Added p99 = rafka p99 − raw p99.
- **P5 memory.** Each part on a fresh rafka process (--max-clients 20000). VmRSS from
  /proc/<pid>/status before, and after the connections were made and sat idle: 1000
  connections each with CLIENT SETNAME g<i>:w and one BLPOP topics:<t> 0.1 (1000 groups, each
  with its own librdkafka consumer), 10,000 plain connections that sent one PING, and 1000
  connections that each produced one message with RPUSHX (each with its account on the shared
  producer, which the first of them creates). Per
  connection = (RSS − baseline) / count; for the producing connections also Go heap in use
  (go_memstats_heap_inuse_bytes from /metrics) and threads, the same way.
- **P6 streams.** On a fresh rafka. Producing, both sides timed warm: the raw producer (one
  confluent-kafka-go producer with rafka's settings, as in P1) first delivers one message
  to a warm-up topic, then produces N keyless messages and waits for every report (then,
  for comparison only, the same with the records XADD writes: the payload as the value and
  the mapping's marker header); rafka's
  50 connections first each get the reply of one XADD to the warm-up topic, then send N
  XADD <t> * payload <100 bytes> in rounds of 100 pipelined per connection, each reply an
  entry ID (Kafka acknowledged the entry). Time is from the first produce or command to
  the last report or reply; the topic is checked to hold N records. The three producing
  cases run in turn, 3 rounds, each round on new topics; each figure is the median round
  (the figure lists every round's rate in the order run) and the ratio is the median
  XADD round's rate to the median raw round's. Consuming the last XADD topic from its
  start with a fresh group: the raw group consumer with rafka's consumer
  settings, then 4 connections of one stream group looping XREADGROUP GROUP g c<i> COUNT
  100 BLOCK 1000 STREAMS <t> > and one XACK of the batch's IDs, until every (partition,
  offset) was seen; time from the first entry to the last. Memory: a fresh rafka with one
  group, then 1000 connections each reading once as its own consumer name of that group.
- **Micro-benchmarks.** ` + "`go test -run xxx -bench . -benchmem ./arrowenc ./server`" + `, as printed.
`
