package main

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

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Timing of the broker's life cycle.
const (
	// readyTimeout bounds the wait for the broker to answer Metadata.
	readyTimeout = 90 * time.Second
	// stopTimeout is how long the broker may take to shut down after
	// SIGTERM before it is killed.
	stopTimeout = 20 * time.Second
	// startAttempts is how often start-up is tried when a picked port was
	// taken by someone else in the meantime.
	startAttempts = 3
)

// errPortInUse means the broker could not bind a picked port.
var errPortInUse = errors.New("a picked port was taken before the broker bound it")

// brokerConfig says how to start the broker.
type brokerConfig struct {
	// libsDir holds the Kafka jars.
	libsDir string
	// log4jFile is the log4j2 configuration for the broker.
	log4jFile string
	// extraProps add to or override the default server.properties.
	extraProps []property
	// keepFiles keeps the temporary directory when start-up fails.
	keepFiles bool
}

// broker is a running Kafka broker process.
type broker struct {
	// addr is the PLAINTEXT listener, host:port.
	addr string
	// dir is the temporary directory with the config, data and logs.
	dir string
	// cmd is the java process; it leads its own process group.
	cmd *exec.Cmd
	// exited is closed once the java process has exited; waitErr is set
	// before that.
	exited  chan struct{}
	waitErr error
	// output receives the JVM's stdout and stderr.
	output *os.File
	// stopOnce makes stop idempotent; stopErr is its result.
	stopOnce sync.Once
	stopErr  error
}

// startBroker formats storage and starts a broker in a new temporary
// directory, returning once it answers a Metadata request. On failure the
// broker is stopped, the end of its log is printed, and the directory is
// removed unless cfg.keepFiles is set.
func startBroker(ctx context.Context, cfg brokerConfig) (*broker, error) {
	dir, err := os.MkdirTemp("", "kafkaharness-")
	if err != nil {
		return nil, fmt.Errorf("create broker directory: %w", err)
	}
	for attempt := 1; ; attempt++ {
		b, err := startAttempt(ctx, cfg, dir)
		if err == nil {
			return b, nil
		}
		if errors.Is(err, errPortInUse) && attempt < startAttempts && ctx.Err() == nil {
			logf("%v; retrying with other ports", err)
			continue
		}
		if cfg.keepFiles {
			logf("broker files kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
		return nil, err
	}
}

// startAttempt makes one attempt of startBroker in dir, starting from empty
// data and log directories.
func startAttempt(ctx context.Context, cfg brokerConfig, dir string) (*broker, error) {
	dataDir := filepath.Join(dir, "data")
	logsDir := filepath.Join(dir, "logs")
	for _, d := range []string{dataDir, logsDir} {
		if err := os.RemoveAll(d); err != nil {
			return nil, fmt.Errorf("clean broker directory: %w", err)
		}
	}
	if err := os.MkdirAll(logsDir, 0o755); err != nil {
		return nil, fmt.Errorf("create broker log directory: %w", err)
	}

	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	props := mergeProperties(brokerProperties(ports[0], ports[1], dataDir), cfg.extraProps)
	propsFile := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(propsFile, []byte(renderProperties(props)), 0o644); err != nil {
		return nil, fmt.Errorf("write server.properties: %w", err)
	}

	jvm := []string{
		"-Dlog4j2.configurationFile=" + cfg.log4jFile,
		"-Dkafka.logs.dir=" + logsDir,
		"-cp", filepath.Join(cfg.libsDir, "*"),
	}
	if err := formatStorage(ctx, jvm, propsFile, dir); err != nil {
		return nil, err
	}

	output, err := os.Create(filepath.Join(logsDir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("create broker output log: %w", err)
	}
	args := append([]string{"-Xms256m", "-Xmx1g"}, jvm...)
	args = append(args, "kafka.Kafka", propsFile)
	cmd := exec.Command("java", args...)
	cmd.Dir = dir
	cmd.Stdout = output
	cmd.Stderr = output
	// Own process group, so a terminal's Ctrl-C does not reach the broker
	// before the harness has stopped it; and it dies with the harness if
	// the harness itself is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		output.Close()
		return nil, fmt.Errorf("start Kafka broker: %w", err)
	}
	b := &broker{
		addr:   "127.0.0.1:" + strconv.Itoa(ports[0]),
		dir:    dir,
		cmd:    cmd,
		exited: make(chan struct{}),
		output: output,
	}
	go func() {
		b.waitErr = cmd.Wait()
		close(b.exited)
	}()

	if err := b.waitReady(ctx, readyTimeout); err != nil {
		if ctx.Err() == nil {
			logf("broker did not become ready; last lines of its log:")
			b.printLogTail(os.Stderr, 50)
		}
		if stopErr := b.stop(); stopErr != nil {
			logf("%v", stopErr)
		}
		if ctx.Err() == nil && b.logContains("Address already in use") {
			return nil, fmt.Errorf("start Kafka broker: %w", errPortInUse)
		}
		return nil, fmt.Errorf("start Kafka broker: %w", err)
	}
	return b, nil
}

// formatStorage formats the KRaft storage of a new standalone cluster with a
// random cluster id. jvm are the JVM options (class path, logging).
func formatStorage(ctx context.Context, jvm []string, propsFile, dir string) error {
	id, err := randomClusterID()
	if err != nil {
		return err
	}
	args := append(append([]string(nil), jvm...),
		"kafka.tools.StorageTool", "format", "-t", id, "-c", propsFile, "--standalone")
	cmd := exec.CommandContext(ctx, "java", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("format Kafka storage: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

// waitReady polls the broker with Metadata requests until it lists a broker
// and a controller, the process exits, ctx is done or timeout passes.
func (b *broker) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := kgo.NewClient(
		kgo.SeedBrokers(b.addr),
		kgo.DialTimeout(time.Second),
		kgo.RetryTimeout(time.Second),
	)
	if err != nil {
		return fmt.Errorf("create Kafka client: %w", err)
	}
	defer client.Close()

	for {
		attemptCtx, attemptCancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr := metadataReady(attemptCtx, client)
		attemptCancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-b.exited:
			return fmt.Errorf("broker exited before it was ready (%v)", b.waitErr)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("broker not ready after %s: %w", timeout, lastErr)
			}
			return fmt.Errorf("waiting for the broker: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// metadataReady sends one Metadata request for no topics and checks that the
// cluster has a registered broker and a controller.
func metadataReady(ctx context.Context, client *kgo.Client) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none; nil would mean all
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return fmt.Errorf("metadata request: %w", err)
	}
	if len(resp.Brokers) == 0 {
		return errors.New("metadata lists no brokers yet")
	}
	if resp.ControllerID < 0 {
		return errors.New("metadata names no controller yet")
	}
	return nil
}

// stop ends the broker: SIGTERM to its process group, SIGKILL if it has not
// exited after stopTimeout. It is safe to call more than once.
func (b *broker) stop() error {
	b.stopOnce.Do(func() {
		defer b.output.Close()
		pgid := b.cmd.Process.Pid
		select {
		case <-b.exited:
		default:
			start := time.Now()
			if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
				logf("send SIGTERM to the broker: %v", err)
			}
			select {
			case <-b.exited:
				logf("broker stopped in %s", time.Since(start).Round(time.Millisecond))
			case <-time.After(stopTimeout):
				logf("broker still running %s after SIGTERM; killing it", stopTimeout)
				if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
					b.stopErr = fmt.Errorf("kill the broker: %w", err)
					return
				}
				<-b.exited
			}
		}
		// Java starts no children, but make sure nothing of the group is left.
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			b.stopErr = fmt.Errorf("kill the broker's process group: %w", err)
		}
	})
	return b.stopErr
}

// logFiles are the broker's log files: log4j's log and the JVM's output.
func (b *broker) logFiles() []string {
	return []string{
		filepath.Join(b.dir, "logs", "server.log"),
		filepath.Join(b.dir, "logs", "stdout.log"),
	}
}

// printLogTail writes the last n lines of each non-empty broker log to w.
func (b *broker) printLogTail(w io.Writer, n int) {
	for _, path := range b.logFiles() {
		if info, err := os.Stat(path); err != nil || info.Size() == 0 {
			continue
		}
		fmt.Fprintf(w, "--- %s ---\n", path)
		printTail(w, path, n)
	}
}

// logContains reports whether any broker log contains s.
func (b *broker) logContains(s string) bool {
	for _, path := range b.logFiles() {
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}
