package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// describeMachine returns the facts that make the figures comparable: the
// machine, the kernel and the versions of everything measured.
func describeMachine(o options) [][2]string {
	_, rdk := kafka.LibraryVersion()
	return [][2]string{
		{"CPUs (nproc)", strconv.Itoa(runtime.NumCPU())},
		{"CPU model", procField("/proc/cpuinfo", "model name")},
		{"memory", memTotal()},
		{"kernel", readTrim("/proc/sys/kernel/osrelease")},
		{"OS", osName()},
		{"Go", runtime.Version()},
		{"Kafka", o.kafkaVersion + " (single-node KRaft broker of test/kafkaharness, on the same machine)"},
		{"librdkafka", rdk},
		{"redis-server", commandOutput("redis-server", "--version")},
		{"redis-benchmark", commandOutput("redis-benchmark", "--version")},
		{"rafka", commandOutput(o.rafkaBin, "--version") + ", tree " + commandOutput("git", "describe", "--always", "--dirty")},
	}
}

// procField returns the value of the first "key : value" line of a /proc
// file whose key is key.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal is MemTotal of /proc/meminfo in GiB.
func memTotal() string {
	v := procField("/proc/meminfo", "MemTotal")
	kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%.1f GiB", kb/(1<<20))
}

// osName is PRETTY_NAME of /etc/os-release.
func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// commandOutput runs a short command and returns its first output line.
func commandOutput(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
