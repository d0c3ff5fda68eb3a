package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// producerRSSTargetKB is issue 10's bound on the RSS of one idle producing
// connection (with the shared producers, no threads of its own): 20 KB.
const producerRSSTargetKB = 20e3 / 1024

// sharedProducerThreads bounds the threads the shared pair of librdkafka
// producers adds (each its main, broker and internal threads, for a
// one-broker cluster: 4 each).
const sharedProducerThreads = 12

// memoryProducers measures n connections that each produced one message
// with RPUSHX (so each has its account on the shared producers) and then
// sit idle: RSS, Go heap in use (from /metrics) and threads, per connection.
func (b *bench) memoryProducers(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	topic, err := b.topic(ctx, "p5p")
	if err != nil {
		return err
	}
	s, _, err := b.startRafka(ctx, "--max-clients", memoryMaxClient, "--metrics-addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	metrics := s.Addrs.Metrics
	defer b.stopServer(s)
	base, err := settledMemory(ctx, s, memoryBaseWait)
	if err != nil {
		return err
	}
	baseHeap, err := heapInuse(ctx, metrics)
	if err != nil {
		return err
	}
	b.add(result{scenario: "P5 memory", name: "fresh rafka, no connections (producer part)",
		figure: fmt.Sprintf("%s, Go heap %s", fmtMemory(base), fmtKB(baseHeap/1024)), ratio: "1.00 (baseline)"})
	conns, err := openConns(ctx, s.addr, n, func(_ int, c *respConn) error {
		r, err := c.Call("RPUSHX", "topics:"+topic, "p5-message")
		if err != nil {
			return fmt.Errorf("RPUSHX: %w", err)
		}
		if r.Kind != ':' || r.Num != 1 {
			return fmt.Errorf("RPUSHX replied %s", r)
		}
		return nil
	})
	defer closeAll(conns)
	if err != nil {
		return err
	}
	m, err := settledMemory(ctx, s, memorySettle)
	if err != nil {
		return err
	}
	heap, err := heapInuse(ctx, metrics)
	if err != nil {
		return err
	}
	rssPer := float64(m.rssKB-base.rssKB) / float64(n)
	heapPer := (heap - baseHeap) / 1024 / float64(n)
	threadsPer := float64(m.threads-base.threads) / float64(n)
	b.add(result{scenario: "P5 memory", name: "idle producing connections (each produced once)", count: n,
		figure: fmt.Sprintf("%s, Go heap %s; per connection: RSS %s, Go heap %s, %.2f threads",
			fmtMemory(m), fmtKB(heap/1024), fmtKB(rssPer), fmtKB(heapPer), threadsPer),
		ratio:  fmtRatio(float64(m.rssKB) / float64(base.rssKB)),
		target: "≤ 20 KB RSS per connection, threads constant", verdict: verdictProducers(rssPer, m.threads-base.threads)})
	return nil
}

// verdictProducers is the P5 producing verdict: RSS per connection within
// the target and no threads per connection (the shared producers' few
// threads, made by the first produces, are all that may be added).
func verdictProducers(rssPerKB float64, addedThreads int64) string {
	if verdictMax(rssPerKB, producerRSSTargetKB) != "PASS" || addedThreads > sharedProducerThreads {
		return "MISS"
	}
	return "PASS"
}

// heapInuse reads go_memstats_heap_inuse_bytes from rafka's /metrics.
func heapInuse(ctx context.Context, addr string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no go_memstats_heap_inuse_bytes in %s/metrics", addr)
}
