// Package kafkacluster fetches Apache Kafka with Maven and runs throw-away
// KRaft clusters of one or more nodes on loopback for tests: nodes can be
// stopped, killed and started again with their data, so tests can take
// brokers away under load. test/kafkaharness and test/faults use it.
package kafkacluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startAttempts is how often start-up is tried when a picked port was taken
// by someone else in the meantime.
const startAttempts = 3

// errPortInUse means a node could not bind a picked port.
var errPortInUse = errors.New("a picked port was taken before a node bound it")

// Config says how to start a cluster.
type Config struct {
	// Nodes is the number of nodes, each broker and controller; 0 means 1.
	Nodes int
	// Props add to or override every node's default server.properties.
	Props []Property
	// KeepFiles keeps the cluster's directory after Close or a failed
	// start.
	KeepFiles bool
	// Logf receives progress messages; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is a running KRaft cluster on 127.0.0.1. Its methods are safe for
// concurrent use.
type Cluster struct {
	dir   string
	nodes []*node
	cfg   Config
	logf  func(format string, args ...any)

	closeOnce sync.Once
	closeErr  error
}

// Start formats and starts a cluster of cfg.Nodes nodes in a new temporary
// directory and returns once every node is registered and a controller is
// elected. On failure the nodes are stopped, the end of their logs is
// printed to stderr, and the directory is removed unless cfg.KeepFiles.
func Start(ctx context.Context, dist Distribution, cfg Config) (*Cluster, error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 1
	}
	logf := orDiscard(cfg.Logf)
	dir, err := os.MkdirTemp("", "kafkacluster-")
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	for attempt := 1; ; attempt++ {
		c, err := startAttempt(ctx, dist, cfg, dir, logf)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, errPortInUse) && attempt < startAttempts && ctx.Err() == nil {
			logf("%v; retrying with other ports", err)
			continue
		}
		if cfg.KeepFiles {
			logf("cluster files kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
		return nil, err
	}
}

// startAttempt makes one attempt of Start in dir, from empty node
// directories.
func startAttempt(ctx context.Context, dist Distribution, cfg Config, dir string, logf func(string, ...any)) (*Cluster, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read cluster directory: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return nil, fmt.Errorf("clean cluster directory: %w", err)
		}
	}
	picked, err := freePorts(2 * cfg.Nodes)
	if err != nil {
		return nil, err
	}
	ports := make([]nodePorts, cfg.Nodes)
	for i := range ports {
		ports[i] = nodePorts{broker: picked[2*i], controller: picked[2*i+1]}
	}
	c := &Cluster{dir: dir, cfg: cfg, logf: logf}
	for id := 1; id <= cfg.Nodes; id++ {
		n, err := newNode(id, dir, dist, ports, cfg.Props)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}

	clusterID, err := randomClusterID()
	if err != nil {
		return nil, err
	}
	if err := c.eachNode(func(n *node) error { return n.format(ctx, clusterID) }); err != nil {
		return nil, err
	}
	err = c.eachNode(func(n *node) error {
		if err := n.start(); err != nil {
			return err
		}
		return c.waitReady(ctx, n, c.nodeIDs())
	})
	if err == nil {
		return c, nil
	}
	if ctx.Err() == nil {
		logf("cluster did not become ready; last lines of its logs:")
		c.PrintLogTail(os.Stderr, 50)
	}
	portTaken := false
	for _, n := range c.nodes {
		if stopErr := n.stop(true, logf); stopErr != nil {
			logf("%v", stopErr)
		}
		portTaken = portTaken || n.logContains("Address already in use")
	}
	if ctx.Err() == nil && portTaken {
		return nil, fmt.Errorf("start Kafka cluster: %w", errPortInUse)
	}
	return nil, fmt.Errorf("start Kafka cluster: %w", err)
}

// eachNode runs fn for every node in parallel and returns the first error.
func (c *Cluster) eachNode(fn func(*node) error) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = fn(n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// nodeIDs returns the ids of all nodes.
func (c *Cluster) nodeIDs() []int32 {
	ids := make([]int32, len(c.nodes))
	for i, n := range c.nodes {
		ids[i] = int32(n.id)
	}
	return ids
}

// Bootstrap returns the comma-separated PLAINTEXT addresses of all nodes.
func (c *Cluster) Bootstrap() string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr
	}
	return strings.Join(addrs, ",")
}

// Size returns the number of nodes.
func (c *Cluster) Size() int { return len(c.nodes) }

// Addr returns the PLAINTEXT address of node i (0-based; node.id i+1).
func (c *Cluster) Addr(i int) string { return c.nodes[i].addr }

// Dir returns the cluster's directory (node-<id>/ with each node's
// configuration, data and logs).
func (c *Cluster) Dir() string { return c.dir }

// StopNode stops node i (0-based) gracefully: SIGTERM, SIGKILL if it is
// still running after 20 s. Its data stays for StartNode.
func (c *Cluster) StopNode(i int) error { return c.nodes[i].stop(false, c.logf) }

// KillNode kills node i (0-based) with SIGKILL, as a crash would. Its data
// stays for StartNode.
func (c *Cluster) KillNode(i int) error { return c.nodes[i].stop(true, c.logf) }

// PauseNode freezes node i (0-based) with SIGSTOP: its connections stay
// open but nothing answers, as with a hung machine. ResumeNode thaws it.
func (c *Cluster) PauseNode(i int) error { return c.nodes[i].signal(syscall.SIGSTOP) }

// ResumeNode thaws node i (0-based) after PauseNode with SIGCONT.
func (c *Cluster) ResumeNode(i int) error { return c.nodes[i].signal(syscall.SIGCONT) }

// StartNode starts stopped node i (0-based) again on its old ports and data
// and returns once it is registered with the cluster.
func (c *Cluster) StartNode(ctx context.Context, i int) error {
	n := c.nodes[i]
	if err := n.start(); err != nil {
		return err
	}
	if err := c.waitReady(ctx, n, []int32{int32(n.id)}); err != nil {
		return fmt.Errorf("restart node %d: %w", n.id, err)
	}
	return nil
}

// Close stops every node and removes the cluster's directory unless
// Config.KeepFiles was set. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.eachNode(func(n *node) error { return n.stop(false, c.logf) })
		if c.cfg.KeepFiles {
			c.logf("cluster files kept in %s", c.dir)
		} else if err := os.RemoveAll(c.dir); err != nil {
			c.closeErr = errors.Join(c.closeErr, fmt.Errorf("remove cluster directory: %w", err))
		}
	})
	return c.closeErr
}

// PrintLogTail writes the last lines of every node's logs to w.
func (c *Cluster) PrintLogTail(w io.Writer, lines int) {
	for _, n := range c.nodes {
		n.printLogTail(w, lines)
	}
}

// waitReady polls node n with Metadata requests until it lists every broker
// in want and a controller, the process exits, ctx is done or readyTimeout
// passes.
func (c *Cluster) waitReady(ctx context.Context, n *node, want []int32) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	exited, waitErr := n.exited()
	client, err := kgo.NewClient(
		kgo.SeedBrokers(n.addr),
		kgo.DialTimeout(time.Second),
		kgo.RetryTimeout(time.Second),
	)
	if err != nil {
		return fmt.Errorf("create Kafka client: %w", err)
	}
	defer client.Close()

	for {
		attemptCtx, attemptCancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr := metadataReady(attemptCtx, client, want)
		attemptCancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("node %d exited before it was ready (%v)", n.id, waitErr())
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("node %d not ready after %s: %w", n.id, readyTimeout, lastErr)
			}
			return fmt.Errorf("waiting for node %d: %w", n.id, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// metadataReady sends one Metadata request for no topics and checks that it
// lists every broker in want and a controller.
func metadataReady(ctx context.Context, client *kgo.Client, want []int32) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none; nil would mean all
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return fmt.Errorf("metadata request: %w", err)
	}
	if resp.ControllerID < 0 {
		return errors.New("metadata names no controller yet")
	}
	for _, id := range want {
		if !slices.ContainsFunc(resp.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == id }) {
			return fmt.Errorf("metadata does not list broker %d yet", id)
		}
	}
	return nil
}

// orDiscard returns logf, or a function that discards when logf is nil.
func orDiscard(logf func(string, ...any)) func(string, ...any) {
	if logf == nil {
		return func(string, ...any) {}
	}
	return logf
}
