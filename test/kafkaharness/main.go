// Command kafkaharness runs a command against a real, throw-away Apache Kafka
// cluster (one node unless -nodes says otherwise).
//
// Usage:
//
//	go run ./test/kafkaharness [flags] -- <command> [args...]
//	go run ./test/kafkaharness -fetch-only
//
// It makes sure the Kafka jars are in a local cache (fetching them with Maven
// through test/kafkacluster/pom.xml), starts a KRaft cluster on free loopback
// ports (package test/kafkacluster), waits until it answers a Metadata
// request, runs the command with KAFKA_BROKERS=127.0.0.1:<port>[,...] in its
// environment and always stops the cluster and removes its files afterwards. The harness exits with
// the command's exit code.
//
// Signals: SIGINT, SIGTERM and SIGHUP sent to the harness are forwarded to the
// command (killed 30s later if it is still running); during the fetch or the
// broker start-up they abort it. Either way the broker is stopped (SIGTERM to
// its process group, SIGKILL after 20s) and its temporary directory removed.
// The harness also takes the death of its parent as SIGTERM, because `go run`
// does not forward SIGTERM.
//
// Unless stdin is a terminal the command runs in its own process group;
// signals then go to the whole group, and whatever is left of the group when
// the command exits is killed. Note that `go run` turns any non-zero exit
// code into 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"rafka/test/kafkacluster"
)

// Exit codes used by the harness itself; otherwise it exits with the
// command's code.
const (
	// exitHarnessError means the harness failed before or around the command
	// (fetch, broker start-up, ...).
	exitHarnessError = 1
	// exitUsage means the command line was invalid.
	exitUsage = 2
)

// options holds the parsed command line.
type options struct {
	// cacheDir holds libs/ with the Kafka jars; empty means the default under
	// the repository root.
	cacheDir string
	// version is the Kafka release (Maven version of kafka_2.13).
	version string
	// keepLogs keeps the broker's temporary directory after the run.
	keepLogs bool
	// fetchOnly only makes sure the jars are cached.
	fetchOnly bool
	// nodes is the number of Kafka nodes.
	nodes int
	// props are extra or overriding server.properties entries, in order.
	props []kafkacluster.Property
	// command is the command to run, with its arguments.
	command []string
}

// propFlag collects repeated -prop key=value flags.
type propFlag struct {
	// props receives each parsed flag value.
	props *[]kafkacluster.Property
}

// String implements flag.Value.
func (f propFlag) String() string {
	if f.props == nil {
		return ""
	}
	parts := make([]string, 0, len(*f.props))
	for _, p := range *f.props {
		parts = append(parts, p.Key+"="+p.Value)
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value.
func (f propFlag) Set(s string) error {
	p, err := kafkacluster.ParseProperty(s)
	if err != nil {
		return err
	}
	*f.props = append(*f.props, p)
	return nil
}

// parseArgs parses the harness's arguments (without the program name).
func parseArgs(args []string) (options, error) {
	var opts options
	fs := flag.NewFlagSet("kafkaharness", flag.ContinueOnError)
	fs.StringVar(&opts.cacheDir, "cache", "", "directory for the Kafka jars (default .cache/kafka/<version> under the repository root)")
	fs.IntVar(&opts.nodes, "nodes", 1, "number of Kafka nodes (each broker and controller)")
	fs.StringVar(&opts.version, "version", kafkacluster.DefaultVersion, "Apache Kafka version (org.apache.kafka:kafka_2.13)")
	fs.BoolVar(&opts.keepLogs, "keep-logs", false, "keep the broker's temporary directory (config, data, logs)")
	fs.BoolVar(&opts.fetchOnly, "fetch-only", false, "only make sure the Kafka jars are cached, then exit")
	fs.Var(propFlag{props: &opts.props}, "prop", "extra server.properties entry key=value (repeatable; overrides defaults)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kafkaharness [flags] -- <command> [args...]\n       kafkaharness [flags] -fetch-only\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		opts.command = fs.Args()
	}
	if opts.nodes < 1 {
		return options{}, errors.New("-nodes must be at least 1")
	}
	if opts.version == "" {
		return options{}, errors.New("-version must not be empty")
	}
	if opts.fetchOnly && len(opts.command) > 0 {
		return options{}, errors.New("-fetch-only takes no command")
	}
	if !opts.fetchOnly && len(opts.command) == 0 {
		return options{}, errors.New("missing command (put it after --)")
	}
	return opts, nil
}

// logf prints a harness progress or error message to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kafkaharness: "+format+"\n", args...)
}

// main parses the command line and exits with run's code.
func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		logf("%v", err)
		os.Exit(exitUsage)
	}
	os.Exit(run(opts))
}

// run carries out the whole harness and returns the process exit code.
func run(opts options) int {
	// Catch signals from the very start so that an interrupt during the
	// fetch or broker start-up still cleans up.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// A closed stdout or stderr (e.g. output piped to head) must not kill
	// the harness before it has stopped the broker: with SIGPIPE caught,
	// such writes just fail. Catching, unlike ignoring, is not inherited by
	// the command.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// `go run` does not forward SIGTERM: if it (or whatever started the
	// harness) dies, take that as SIGTERM so the broker is still stopped.
	if err := setParentDeathSignal(syscall.SIGTERM); err != nil {
		logf("%v (the broker may outlive a killed parent)", err)
	}

	root, err := kafkacluster.RepoRoot()
	if err != nil {
		logf("%v", err)
		return exitHarnessError
	}

	// Until the command runs, a signal just cancels whatever is in progress.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	setupDone := make(chan struct{})
	watcherDone := make(chan struct{})
	var setupSignal os.Signal
	go func() {
		defer close(watcherDone)
		select {
		case sig := <-sigs:
			logf("received %v, aborting", sig)
			setupSignal = sig
			cancel()
		case <-setupDone:
		}
	}()
	// endSetup stops the watcher and returns the signal that interrupted the
	// setup, if any.
	endSetup := func() os.Signal {
		close(setupDone)
		<-watcherDone
		return setupSignal
	}
	// abortCode ends the setup and returns the exit code for a failed setup:
	// 128+signal if a signal caused it, exitHarnessError otherwise.
	abortCode := func() int {
		if sig := endSetup(); sig != nil {
			return signalExitCode(sig)
		}
		return exitHarnessError
	}

	start := time.Now()
	dist, err := kafkacluster.Fetch(ctx, kafkacluster.FetchConfig{
		Root:     root,
		CacheDir: opts.cacheDir,
		Version:  opts.version,
		Logf:     logf,
	})
	if err != nil {
		logf("%v", err)
		return abortCode()
	}
	if opts.fetchOnly {
		if sig := endSetup(); sig != nil {
			return signalExitCode(sig)
		}
		logf("Kafka %s jars ready in %s (%s)", opts.version, dist.Libs, time.Since(start).Round(time.Millisecond))
		return 0
	}

	start = time.Now()
	cluster, err := kafkacluster.Start(ctx, dist, kafkacluster.Config{
		Nodes:     opts.nodes,
		Props:     opts.props,
		KeepFiles: opts.keepLogs,
		Logf:      logf,
	})
	if err != nil {
		logf("%v", err)
		return abortCode()
	}
	logf("Kafka %s ready at %s after %s", opts.version, cluster.Bootstrap(), time.Since(start).Round(time.Millisecond))

	// From here on the command runner handles signals. A signal that arrived
	// just as the cluster became ready skips the command.
	var code int
	if sig := endSetup(); sig != nil {
		code = signalExitCode(sig)
	} else {
		code = runAndReport(cluster, opts.command, sigs)
	}
	if err := cluster.Close(); err != nil {
		logf("%v", err)
		if code == 0 {
			code = exitHarnessError
		}
	}
	return code
}

// runAndReport runs the command against the cluster and returns its exit
// code, printing the end of the Kafka logs when the command fails other than
// by being interrupted.
func runAndReport(cluster *kafkacluster.Cluster, command []string, sigs <-chan os.Signal) int {
	code, signaled, err := runCommand(command, append(os.Environ(), "KAFKA_BROKERS="+cluster.Bootstrap()), sigs)
	if err != nil {
		logf("%v", err)
	}
	if code != 0 && !signaled {
		logf("command exited with code %d; last lines of the Kafka logs:", code)
		cluster.PrintLogTail(os.Stderr, 50)
	}
	return code
}
