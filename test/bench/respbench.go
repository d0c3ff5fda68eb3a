package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// P2 flags, the same for redis-server and rafka.
const (
	respClients  = 50
	respPipeline = 16
)

// benchRESP is P2: redis-benchmark against a local redis-server doing RPUSH
// vs. against rafka doing RPUSHX, with the same flags and value.
func (b *bench) benchRESP(ctx context.Context) error {
	const scenario = "P2 RESP overhead"
	n := b.count(500_000)
	value := string(payload(valueSize))

	redis, err := startRedis(ctx, b.logDir)
	if err != nil {
		return err
	}
	defer b.stopServer(redis)
	base, elapsed, err := redisBenchmark(ctx, redis.addr, n, "RPUSH", "benchlist", value)
	if err != nil {
		return fmt.Errorf("against redis-server: %w", err)
	}
	b.add(result{scenario: scenario, name: fmt.Sprintf("redis-server RPUSH (redis-benchmark -c %d -P %d)", respClients, respPipeline),
		count: n, elapsed: elapsed, figure: fmtRate(base), ratio: "1.00 (baseline)"})
	redis.stop() // free the CPU and the list's memory

	topic, err := b.topic(ctx, "p2")
	if err != nil {
		return err
	}
	before, err := rafkaStats(ctx, b.rafka.addr)
	if err != nil {
		return err
	}
	got, elapsed, err := redisBenchmark(ctx, b.rafka.addr, n, "RPUSHX", "topics:"+topic, value)
	if err != nil {
		return fmt.Errorf("against rafka: %w", err)
	}
	b.add(result{scenario: scenario, name: fmt.Sprintf("rafka RPUSHX (redis-benchmark -c %d -P %d)", respClients, respPipeline),
		count: n, elapsed: elapsed, figure: fmtRate(got), ratio: fmtRatio(got / base),
		target: "≥ 0.45× redis-server", verdict: verdictMin(got/base, 0.45)})
	if b.rawProduceRate > 0 {
		b.note(fmt.Sprintf("P2: one raw librdkafka producer (P1's baseline, %s) is %.2f× this redis-server: the ceiling of any gateway in front of it here; rafka's RPUSHX reached %.2f× of that producer",
			fmtRate(b.rawProduceRate), b.rawProduceRate/base, got/b.rawProduceRate))
	}
	// redis-benchmark does not wait for deliveries: each connection's
	// producer flushes when the connection closes. Wait for them, then check
	// nothing was lost.
	return b.awaitProduced(ctx, topic, int64(n), before)
}

// awaitProduced waits up to a minute until topic holds want messages, then
// notes any loss rafka counted: redis-benchmark closes its connections
// without waiting for deliveries, so rafka's close timeout may drop some.
func (b *bench) awaitProduced(ctx context.Context, topic string, want int64, before map[string]int64) error {
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := b.kafka.storedCount(topic)
		if err != nil {
			return err
		}
		if got >= want {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b.note(fmt.Sprintf("P2: topic %s holds only %d of the %d messages rafka accepted", topic, got, want))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := b.checkProducerStats(ctx, before, "P2"); err != nil {
		b.note(fmt.Sprintf("P2 (fire-and-forget RPUSHX, connections closed by redis-benchmark): %v", err))
	}
	return nil
}

// redisBenchmark runs redis-benchmark with one custom command n times and
// returns the requests per second it reports and the wall time.
func redisBenchmark(ctx context.Context, addr string, n int, args ...string) (float64, time.Duration, error) {
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	argv := append([]string{"-h", host, "-p", port, "-c", strconv.Itoa(respClients), "-P", strconv.Itoa(respPipeline),
		"-n", strconv.Itoa(n), "--csv"}, args...)
	cmd := exec.CommandContext(ctx, "redis-benchmark", argv...)
	start := time.Now()
	out, err := cmd.Output()
	elapsed := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("redis-benchmark: %w", err)
	}
	rps, err := parseBenchmarkCSV(out)
	if err != nil {
		return 0, 0, fmt.Errorf("redis-benchmark output %q: %w", out, err)
	}
	return rps, elapsed, nil
}

// parseBenchmarkCSV reads the rps column of redis-benchmark --csv's single
// test line.
func parseBenchmarkCSV(out []byte) (float64, error) {
	records, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("parse CSV: %w", err)
	}
	if len(records) < 2 || len(records[0]) < 2 || records[0][1] != "rps" {
		return 0, fmt.Errorf("want a header with rps and one line, got %d lines", len(records))
	}
	last := records[len(records)-1]
	rps, err := strconv.ParseFloat(last[1], 64)
	if err != nil {
		return 0, fmt.Errorf("parse rps %q: %w", last[1], err)
	}
	return rps, nil
}
