package faults

import (
	"context"
	"testing"
	"time"

	"rafka/test/kafkacluster"
)

// step is a fault injected at a time after the workload starts.
type step struct {
	// at is when the step begins, from the start of the workload.
	at time.Duration
	// what describes the fault in the report.
	what string
	// do injects it.
	do func(ctx context.Context) error
	// members is the size of the group once it has settled after the
	// fault.
	members int
}

// runSchedule runs the steps in order at their times. A step's fault lasts
// until the group is steadily Stable again with the step's member count
// (waitGroupStable); the ledger records it so.
func runSchedule(t *testing.T, ctx context.Context, w *workload, brokers string, start time.Time, steps []step) {
	t.Helper()
	for _, s := range steps {
		if !sleepUntil(ctx, start.Add(s.at)) {
			t.Fatalf("schedule: %v before %q", ctx.Err(), s.what)
		}
		acked, delivered := w.ledger.counts()
		t.Logf("%s: %s (so far %d acknowledged, %d delivered)", time.Since(start).Round(time.Millisecond), s.what, acked, delivered)
		if w.produced() {
			t.Logf("note: %q starts after all messages were acknowledged; it only tests consuming", s.what)
		}
		began := time.Now()
		err := s.do(ctx)
		if err == nil {
			err = waitGroupStable(ctx, brokers, w.group, s.members, time.Minute)
		}
		w.ledger.injected(s.what, began)
		if err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		t.Logf("%s: the group is stable again with %d members", time.Since(start).Round(time.Millisecond), s.members)
	}
}

// check runs the checker: members m1 and m2 form the group, the producers
// start, the steps run at their times, and finish checks the ledger.
func check(t *testing.T, ctx context.Context, w *workload, brokers string, steps []step, members ...string) {
	t.Helper()
	if len(members) == 0 {
		members = []string{"m1", "m2"}
	}
	startGroup(t, ctx, w, brokers, members...)
	start := time.Now()
	w.startProducers(ctx)
	runSchedule(t, ctx, w, brokers, start, steps)
	finish(t, ctx, w, start)
}

// startGroup starts the first members and waits until the group is Stable
// with all of them, so that no message is handed out before the first
// rebalances are over.
func startGroup(t *testing.T, ctx context.Context, w *workload, brokers string, members ...string) {
	t.Helper()
	for _, m := range members {
		w.startConsumer(ctx, m)
	}
	kafkaMembers := len(members)
	if w.streams {
		kafkaMembers = 1 // the Redis consumers of a stream group share the rafka's member
	}
	if err := waitGroupStable(ctx, brokers, w.group, kafkaMembers, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// finish waits for the producers, drains, stops every client and checks the
// ledger: all messages acknowledged, none lost, every duplicate explained.
func finish(t *testing.T, ctx context.Context, w *workload, start time.Time) {
	t.Helper()
	w.waitProduced()
	t.Logf("%s: producers done", time.Since(start).Round(time.Millisecond))
	w.drain(ctx, 2*time.Minute)
	w.stopAll()
	r := w.ledger.verdict()
	t.Logf("%s: %v", time.Since(start).Round(time.Millisecond), r)
	if r.acknowledged != w.messages {
		t.Errorf("rafka acknowledged %d distinct messages, want all %d (producers re-send until acknowledged)", r.acknowledged, w.messages)
	}
	if len(r.lost) > 0 {
		t.Errorf("LOST %d acknowledged messages, first ids %v", len(r.lost), r.lost[:min(10, len(r.lost))])
	}
	if n := len(r.producedTwiceUnexplained); n > 0 {
		t.Errorf("%d messages stored twice that were never re-sent, first ids %v", n, r.producedTwiceUnexplained[:min(10, n)])
	}
	if n := len(r.redeliveredUnexplained); n > 0 {
		t.Errorf("%d redeliveries with no fault since the earlier delivery, first (earlier, later) %v", n, r.redeliveredUnexplained[:min(5, n)])
	}
	if r.unknown > 0 {
		t.Errorf("%d deliveries with a payload the checker never produced", r.unknown)
	}
}

// TestFaultsSingleBroker runs 100,000 messages through rafka against one
// broker while a member joins, the broker stops and starts, rafka is killed
// with SIGKILL and restarted, the broker hangs for a while, and a member
// leaves.
func TestFaultsSingleBroker(t *testing.T) {
	needFaults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cluster := startCluster(t, ctx, 1)
	topic := "faults-single"
	admin := kafkaClient(t, cluster.Bootstrap())
	createTopic(t, ctx, admin, topic, 4, 1, nil)
	rafka := startRafka(t, ctx, cluster.Bootstrap())

	w := newWorkload(t, rafka.addr, topic, 100_000, 1600)
	defer w.stopAll()
	check(t, ctx, w, cluster.Bootstrap(), []step{
		{4 * time.Second, "member m3 joins the group", func(ctx context.Context) error {
			w.startConsumer(ctx, "m3")
			return nil
		}, 3},
		{12 * time.Second, "the Kafka broker stops (SIGTERM) for 4 s", stopNodeFor(cluster, 0, 4*time.Second), 3},
		{28 * time.Second, "rafka is killed (SIGKILL) and restarted", rafka.restart, 3},
		{38 * time.Second, "the Kafka broker hangs (SIGSTOP) for 5 s", func(ctx context.Context) error {
			if err := cluster.PauseNode(0); err != nil {
				return err
			}
			// Less than the broker's own session with its controller
			// (broker.session.timeout.ms, 9 s): the broker is not fenced.
			sleepUntil(ctx, time.Now().Add(5*time.Second))
			return cluster.ResumeNode(0)
		}, 3},
		{50 * time.Second, "member m1 leaves the group", func(context.Context) error {
			w.stopConsumer("m1")
			return nil
		}, 2},
	})
}

// TestFaultsStreams runs 50,000 unique entries through pipelined XADD and
// XREADGROUP/XACK in one stream group (one Kafka member on the rafka,
// shared by two Redis consumers) while rafka is killed with SIGKILL and
// restarted and the broker stops and starts: no acknowledged entry lost,
// every redelivery explained by a fault.
func TestFaultsStreams(t *testing.T) {
	needFaults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cluster := startCluster(t, ctx, 1)
	topic := "faults-streams"
	admin := kafkaClient(t, cluster.Bootstrap())
	createTopic(t, ctx, admin, topic, 4, 1, nil)
	rafka := startRafka(t, ctx, cluster.Bootstrap())

	w := newWorkload(t, rafka.addr, topic, 50_000, 2000)
	w.streams = true
	defer w.stopAll()
	if err := w.client("").XGroupCreate(ctx, topic, w.group, "0").Err(); err != nil {
		t.Fatalf("XGROUP CREATE: %v", err)
	}
	// The Redis consumers s1 and s2 share the rafka's one Kafka member.
	check(t, ctx, w, cluster.Bootstrap(), []step{
		{8 * time.Second, "rafka is killed (SIGKILL) and restarted", rafka.restart, 1},
		{16 * time.Second, "the Kafka broker stops (SIGTERM) for 4 s", stopNodeFor(cluster, 0, 4*time.Second), 1},
	}, "s1", "s2")
}

// TestFaultsReplicatedCluster runs 50,000 messages through rafka against a
// three-node cluster with a replication-factor-3 topic (min.insync.replicas
// 2) while the broker coordinating the consumer group is killed with
// SIGKILL and, later, started again.
func TestFaultsReplicatedCluster(t *testing.T) {
	needFaults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The controller fences a broker that misses heartbeats for 3 s
	// (taking it out of every ISR), and followers lagging 5 s leave the
	// ISR, so producing with acks=all stalls for seconds, not tens.
	cluster := startCluster(t, ctx, 3,
		kafkacluster.Property{Key: "broker.heartbeat.interval.ms", Value: "500"},
		kafkacluster.Property{Key: "broker.session.timeout.ms", Value: "3000"},
		kafkacluster.Property{Key: "replica.lag.time.max.ms", Value: "5000"})
	topic := "faults-replicated"
	admin := kafkaClient(t, cluster.Bootstrap())
	createTopic(t, ctx, admin, topic, 4, 3, map[string]string{"min.insync.replicas": "2"})
	rafka := startRafka(t, ctx, cluster.Bootstrap())

	w := newWorkload(t, rafka.addr, topic, 50_000, 2000)
	defer w.stopAll()
	killed := -1
	check(t, ctx, w, cluster.Bootstrap(), []step{
		{6 * time.Second, "the group coordinator's broker is killed (SIGKILL)", func(ctx context.Context) error {
			id, err := groupCoordinator(ctx, admin, w.group)
			if err != nil {
				return err
			}
			killed = int(id) - 1
			t.Logf("killing node %d (%s)", id, cluster.Addr(killed))
			return cluster.KillNode(killed)
		}, 2},
		{14 * time.Second, "the killed broker starts again", func(ctx context.Context) error {
			return cluster.StartNode(ctx, killed)
		}, 2},
	})
}

// stopNodeFor is a fault step: the node stops (SIGTERM) for d, then starts
// again.
func stopNodeFor(cluster *kafkacluster.Cluster, node int, d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := cluster.StopNode(node); err != nil {
			return err
		}
		sleepUntil(ctx, time.Now().Add(d))
		return cluster.StartNode(ctx, node)
	}
}
