package kafkacluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Timing of a node's life cycle.
const (
	// readyTimeout bounds the wait for a node to answer Metadata.
	readyTimeout = 90 * time.Second
	// stopTimeout is how long a node may take to shut down after SIGTERM
	// before it is killed.
	stopTimeout = 20 * time.Second
)

// node is one Kafka process of a cluster (broker and controller). Its
// directory holds server.properties, data/ and logs/ and survives restarts.
type node struct {
	// id is the node.id, 1-based.
	id int
	// addr is the PLAINTEXT listener, host:port.
	addr string
	// dir is the node's directory.
	dir string
	// jvm are the JVM options (class path, logging).
	jvm []string

	// life serialises start and stop, so that a start never overlaps the
	// exit of the previous process (same ports, same data).
	life sync.Mutex
	// mu guards proc.
	mu sync.Mutex
	// proc is the running java process, nil while stopped.
	proc *process
}

// process is one run of a node's java process.
type process struct {
	// cmd is the java process; it leads its own process group.
	cmd *exec.Cmd
	// exited is closed once the process has exited; waitErr is set before.
	exited  chan struct{}
	waitErr error
	// output receives the JVM's stdout and stderr.
	output *os.File
}

// newNode lays out node id's directory under clusterDir and writes its
// server.properties.
func newNode(id int, clusterDir string, dist Distribution, ports []nodePorts, extra []Property) (*node, error) {
	dir := filepath.Join(clusterDir, "node-"+strconv.Itoa(id))
	logsDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logsDir, 0o755); err != nil {
		return nil, fmt.Errorf("create node %d directory: %w", id, err)
	}
	props := mergeProperties(nodeProperties(id, ports, filepath.Join(dir, "data")), extra)
	if err := os.WriteFile(filepath.Join(dir, "server.properties"), []byte(renderProperties(props)), 0o644); err != nil {
		return nil, fmt.Errorf("write node %d server.properties: %w", id, err)
	}
	return &node{
		id:   id,
		addr: "127.0.0.1:" + strconv.Itoa(ports[id-1].broker),
		dir:  dir,
		jvm: []string{
			"-Dlog4j2.configurationFile=" + dist.Log4jFile,
			"-Dkafka.logs.dir=" + logsDir,
			"-cp", filepath.Join(dist.Libs, "*"),
		},
	}, nil
}

// propsFile is the node's server.properties.
func (n *node) propsFile() string { return filepath.Join(n.dir, "server.properties") }

// format formats the node's KRaft storage for the cluster clusterID.
func (n *node) format(ctx context.Context, clusterID string) error {
	args := append(append([]string(nil), n.jvm...),
		"kafka.tools.StorageTool", "format", "-t", clusterID, "-c", n.propsFile())
	cmd := exec.CommandContext(ctx, "java", args...)
	cmd.Dir = n.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("format node %d storage: %w\n%s", n.id, err, bytes.TrimSpace(out))
	}
	return nil
}

// start starts the node's java process; it does not wait for readiness.
func (n *node) start() error {
	n.life.Lock()
	defer n.life.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		return fmt.Errorf("start node %d: already running", n.id)
	}
	output, err := os.OpenFile(filepath.Join(n.dir, "logs", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create node %d output log: %w", n.id, err)
	}
	args := append([]string{"-Xms256m", "-Xmx1g"}, n.jvm...)
	args = append(args, "kafka.Kafka", n.propsFile())
	cmd := exec.Command("java", args...)
	cmd.Dir = n.dir
	cmd.Stdout = output
	cmd.Stderr = output
	// Own process group, so a terminal's Ctrl-C does not reach the node
	// before its owner has stopped it; and it dies with its owner. (The
	// death signal follows the OS thread that started it; Go keeps its
	// threads, so this is a safety net, not the way nodes are stopped.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		output.Close()
		return fmt.Errorf("start node %d: %w", n.id, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), output: output}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	n.proc = p
	return nil
}

// exited returns a channel closed when the current process exits; nil
// (never ready) when the node is stopped.
func (n *node) exited() (<-chan struct{}, func() error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return nil, func() error { return errors.New("not running") }
	}
	p := n.proc
	return p.exited, func() error { return p.waitErr }
}

// stop ends the node's process: SIGTERM to its process group (SIGKILL at
// once when kill is set, or after stopTimeout), then waits for it. The
// logf function reports slow stops. Stopping a stopped node does nothing.
func (n *node) stop(kill bool, logf func(string, ...any)) error {
	n.life.Lock()
	defer n.life.Unlock()
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		return nil
	}
	defer p.output.Close()
	pgid := p.cmd.Process.Pid
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	select {
	case <-p.exited:
	default:
		start := time.Now()
		if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal node %d: %w", n.id, err)
		}
		// A paused node handles SIGTERM only once it runs again.
		_ = syscall.Kill(-pgid, syscall.SIGCONT)
		select {
		case <-p.exited:
			logf("node %d stopped (%v) in %s", n.id, sig, time.Since(start).Round(time.Millisecond))
		case <-time.After(stopTimeout):
			logf("node %d still running %s after SIGTERM; killing it", n.id, stopTimeout)
			if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("kill node %d: %w", n.id, err)
			}
			<-p.exited
		}
	}
	// Java starts no children, but make sure nothing of the group is left.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill node %d process group: %w", n.id, err)
	}
	return nil
}

// signal sends sig to the node's process group, if it is running.
func (n *node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return fmt.Errorf("signal node %d: not running", n.id)
	}
	if err := syscall.Kill(-n.proc.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal node %d with %v: %w", n.id, sig, err)
	}
	return nil
}

// logFiles are the node's log files: log4j's log and the JVM's output.
func (n *node) logFiles() []string {
	return []string{
		filepath.Join(n.dir, "logs", "server.log"),
		filepath.Join(n.dir, "logs", "stdout.log"),
	}
}

// printLogTail writes the last lines of each non-empty log of the node to w.
func (n *node) printLogTail(w io.Writer, lines int) {
	for _, path := range n.logFiles() {
		if info, err := os.Stat(path); err != nil || info.Size() == 0 {
			continue
		}
		fmt.Fprintf(w, "--- %s ---\n", path)
		printTail(w, path, lines)
	}
}

// logContains reports whether any log of the node contains s.
func (n *node) logContains(s string) bool {
	for _, path := range n.logFiles() {
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}
