// Package faults runs rafka under faults against real Kafka clusters that
// the tests start themselves (test/kafkacluster): brokers stopped and
// restarted, rafka killed with SIGKILL and restarted, consumer-group members
// joining and leaving, a broker of a three-node cluster killed. A checker
// produces unique messages with durable RPUSH while consumers BLPOP and ack,
// and asserts that every message rafka acknowledged is consumed at least
// once.
//
// The tests need Java and Maven and take a few minutes, so they run only
// with RAFKA_FAULTS=1 (make test sets it).
package faults

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"rafka/test/kafkacluster"
	"rafka/test/rafkatest"
)

// suite is what every fault test shares: the Kafka distribution and the
// rafka binary.
type suite struct {
	// root is the repository root.
	root string
	// dist is the fetched Kafka release.
	dist kafkacluster.Distribution
	// rafkaBin is the rafka binary built for the run.
	rafkaBin string
}

// env is set up once by TestMain when RAFKA_FAULTS=1.
var env *suite

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests fetches Kafka and builds rafka when the fault tests are enabled,
// then runs them.
func runTests(m *testing.M) int {
	if os.Getenv("RAFKA_FAULTS") != "1" {
		return m.Run() // every test skips
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := kafkacluster.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dist, err := kafkacluster.Fetch(ctx, kafkacluster.FetchConfig{Root: root})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir, err := os.MkdirTemp("", "rafka-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	bin, err := rafkatest.Build(ctx, binDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env = &suite{root: root, dist: dist, rafkaBin: bin}
	return m.Run()
}

// needFaults skips t unless the fault tests are enabled.
func needFaults(t *testing.T) {
	t.Helper()
	if env == nil {
		t.Skip("fault tests start their own Kafka clusters (Java, Maven, minutes): run with RAFKA_FAULTS=1 (make test does)")
	}
}

// startCluster starts a Kafka cluster of n nodes with extra broker
// properties for t, closed when t ends (its logs are printed first if t
// failed).
func startCluster(t *testing.T, ctx context.Context, n int, props ...kafkacluster.Property) *kafkacluster.Cluster {
	t.Helper()
	start := time.Now()
	c, err := kafkacluster.Start(ctx, env.dist, kafkacluster.Config{Nodes: n, Props: props, Logf: t.Logf})
	if err != nil {
		t.Fatalf("start %d-node Kafka cluster: %v", n, err)
	}
	t.Logf("%d-node Kafka cluster ready at %s after %s", n, c.Bootstrap(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			c.PrintLogTail(os.Stderr, 30)
		}
		if err := c.Close(); err != nil {
			t.Errorf("close Kafka cluster: %v", err)
		}
	})
	return c
}
