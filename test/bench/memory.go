package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// P5 parameters.
const (
	memoryDialers   = 50               // connections opened in parallel
	memoryBaseWait  = 2 * time.Second  // settle time of a fresh server
	memorySettle    = 10 * time.Second // idle time before measuring
	memoryMaxClient = "20000"          // --max-clients of the P5 servers
	// Targets, in KiB: 1 MB and 20 KB.
	consumerTargetKB = 1e6 / 1024
	plainTargetKB    = 20e3 / 1024
)

// benchMemory is P5: rafka's RSS per idle consumer connection, per idle
// plain connection and per idle producing connection (with its Go heap),
// each on a fresh rafka process.
func (b *bench) benchMemory(ctx context.Context) error {
	if err := b.memoryConsumers(ctx, b.count(1000)); err != nil {
		return fmt.Errorf("consumer connections: %w", err)
	}
	if err := b.memoryPlain(ctx, b.count(10_000)); err != nil {
		return fmt.Errorf("plain connections: %w", err)
	}
	if err := b.memoryProducers(ctx, b.count(1000)); err != nil {
		return fmt.Errorf("producing connections: %w", err)
	}
	return nil
}

// memoryConsumers measures n connections that each joined its own group
// with one short BLPOP and then sit idle.
func (b *bench) memoryConsumers(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	topic, err := b.topic(ctx, "p5")
	if err != nil {
		return err
	}
	s, _, err := b.startRafka(ctx, "--max-clients", memoryMaxClient)
	if err != nil {
		return err
	}
	defer b.stopServer(s)
	base, err := settledMemory(ctx, s, memoryBaseWait)
	if err != nil {
		return err
	}
	b.add(result{scenario: "P5 memory", name: "fresh rafka, no connections (consumer part)", figure: fmtMemory(base), ratio: "1.00 (baseline)"})

	groups := make([]string, n)
	for i := range groups {
		groups[i] = b.name(fmt.Sprintf("p5-g%d", i))
	}
	conns, err := openConns(ctx, s.addr, n, func(i int, c *respConn) error {
		if _, err := c.Call("CLIENT", "SETNAME", groups[i]+":w"); err != nil {
			return fmt.Errorf("CLIENT SETNAME: %w", err)
		}
		r, err := c.Call("BLPOP", "topics:"+topic, "0.1")
		if err != nil {
			return fmt.Errorf("BLPOP: %w", err)
		}
		if !r.Null {
			return fmt.Errorf("BLPOP on an empty topic replied %s", r)
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
	joined, err := b.kafka.joinedGroups(ctx, groups)
	if err != nil {
		return err
	}
	per := float64(m.rssKB-base.rssKB) / float64(n)
	b.add(result{scenario: "P5 memory",
		name:  fmt.Sprintf("idle consumer connections (SETNAME + one BLPOP, own group each; %d of %d groups stable with the member assigned)", joined, n),
		count: n, figure: fmt.Sprintf("%s; %s per connection", fmtMemory(m), fmtKB(per)),
		ratio: fmtRatio(float64(m.rssKB) / float64(base.rssKB)), target: "≤ 1 MB per connection", verdict: verdictMax(per, consumerTargetKB)})
	return nil
}

// memoryPlain measures n connections that sent one PING and sit idle.
func (b *bench) memoryPlain(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, _, err := b.startRafka(ctx, "--max-clients", memoryMaxClient)
	if err != nil {
		return err
	}
	defer b.stopServer(s)
	base, err := settledMemory(ctx, s, memoryBaseWait)
	if err != nil {
		return err
	}
	b.add(result{scenario: "P5 memory", name: "fresh rafka, no connections (plain part)", figure: fmtMemory(base), ratio: "1.00 (baseline)"})
	conns, err := openConns(ctx, s.addr, n, func(_ int, c *respConn) error {
		if _, err := c.Call("PING"); err != nil {
			return fmt.Errorf("PING: %w", err)
		}
		return nil
	})
	defer closeAll(conns)
	if err != nil {
		return err
	}
	m, err := settledMemory(ctx, s, memorySettle/2)
	if err != nil {
		return err
	}
	per := float64(m.rssKB-base.rssKB) / float64(n)
	b.add(result{scenario: "P5 memory", name: "idle plain connections (one PING each)", count: n,
		figure: fmt.Sprintf("%s; %s per connection", fmtMemory(m), fmtKB(per)),
		ratio:  fmtRatio(float64(m.rssKB) / float64(base.rssKB)), target: "≤ 20 KB per connection", verdict: verdictMax(per, plainTargetKB)})
	return nil
}

// settledMemory waits d, then reads the server's RSS and thread count.
func settledMemory(ctx context.Context, s *server, d time.Duration) (procMemory, error) {
	select {
	case <-ctx.Done():
		return procMemory{}, ctx.Err()
	case <-time.After(d):
	}
	return readProcMemory(s.pid())
}

func fmtMemory(m procMemory) string {
	return fmt.Sprintf("RSS %s, %d threads", fmtKB(float64(m.rssKB)), m.threads)
}

// openConns opens n connections, memoryDialers at a time, running setup
// on each. It returns the connections opened so far, also on error.
func openConns(ctx context.Context, addr string, n int, setup func(int, *respConn) error) ([]*respConn, error) {
	conns := make([]*respConn, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < memoryDialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := dialRESP(ctx, addr)
				if err != nil {
					errs <- err
					continue
				}
				conns[i] = c
				if err := setup(i, c); err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	opened := conns[:0]
	for _, c := range conns {
		if c != nil {
			opened = append(opened, c)
		}
	}
	if err := <-errs; err != nil {
		return opened, err
	}
	return opened, nil
}

// closeAll closes every connection.
func closeAll(conns []*respConn) {
	for _, c := range conns {
		c.Close()
	}
}

// joinedGroups counts the groups that are stable with one member that was
// assigned every partition.
func (k *kafkaEnv) joinedGroups(ctx context.Context, groups []string) (int, error) {
	joined := 0
	for start := 0; start < len(groups); start += 100 {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := k.admin.DescribeConsumerGroups(ctx, groups[start:min(start+100, len(groups))])
		cancel()
		if err != nil {
			return 0, fmt.Errorf("describe consumer groups: %w", err)
		}
		for _, g := range res.ConsumerGroupDescriptions {
			if g.Error.Code() == kafka.ErrNoError && g.State == kafka.ConsumerGroupStateStable &&
				len(g.Members) == 1 && len(g.Members[0].Assignment.TopicPartitions) == partitions {
				joined++
			}
		}
	}
	return joined, nil
}
