package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"rafka/test/kafkacluster"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{
			name: "command after dashes",
			args: []string{"--", "sh", "-c", "echo $KAFKA_BROKERS"},
			want: options{version: kafkacluster.DefaultVersion, nodes: 1, command: []string{"sh", "-c", "echo $KAFKA_BROKERS"}},
		},
		{
			name: "all flags",
			args: []string{"-cache", "/c", "-version", "4.0.0", "-keep-logs", "-nodes", "3", "-prop", "a=1", "-prop", "b=x=y", "--", "true"},
			want: options{
				cacheDir: "/c", version: "4.0.0", keepLogs: true, nodes: 3,
				props:   []kafkacluster.Property{{Key: "a", Value: "1"}, {Key: "b", Value: "x=y"}},
				command: []string{"true"},
			},
		},
		{
			name: "fetch only",
			args: []string{"-fetch-only"},
			want: options{version: kafkacluster.DefaultVersion, nodes: 1, fetchOnly: true},
		},
		{name: "fetch only with command", args: []string{"-fetch-only", "--", "true"}, wantErr: "takes no command"},
		{name: "no command", args: nil, wantErr: "missing command"},
		{name: "bad prop", args: []string{"-prop", "novalue", "--", "true"}, wantErr: "want key=value"},
		{name: "no nodes", args: []string{"-nodes", "0", "--", "true"}, wantErr: "-nodes"},
		{name: "empty version", args: []string{"-version", "", "--", "true"}, wantErr: "-version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseArgs(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestRunCommandExitCodes(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want int
	}{
		{name: "success", argv: []string{"sh", "-c", "exit 0"}, want: 0},
		{name: "failure", argv: []string{"sh", "-c", "exit 3"}, want: 3},
		{name: "killed by signal", argv: []string{"sh", "-c", "kill -TERM $$"}, want: 128 + int(syscall.SIGTERM)},
		{name: "sees KAFKA_BROKERS", argv: []string{"sh", "-c", `test "$KAFKA_BROKERS" = 127.0.0.1:1`}, want: 0},
		{name: "not found", argv: []string{"/nonexistent/command"}, want: exitCommandNotRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _ := runCommand(tt.argv, append(os.Environ(), "KAFKA_BROKERS=127.0.0.1:1"), make(chan os.Signal))
			if got != tt.want {
				t.Errorf("exit code %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRunCommandForwardsSignal(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	sigs := make(chan os.Signal, 1)
	go func() {
		// Signal only once the shell has set its trap.
		for range 500 {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		sigs <- syscall.SIGTERM
	}()
	start := time.Now()
	// The shell exits 7 on SIGTERM; without forwarding it would run 30s.
	script := `trap "exit 7" TERM; : > "$0"; sleep 30 & wait`
	code, signaled, err := runCommand([]string{"sh", "-c", script, ready}, os.Environ(), sigs)
	if err != nil {
		t.Fatal(err)
	}
	if !signaled {
		t.Error("runCommand did not report the forwarded signal")
	}
	if code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s; signal not forwarded", d)
	}
}

func TestRunCommandKillsLeftovers(t *testing.T) {
	if isTerminal(os.Stdin) {
		t.Skip("stdin is a terminal: the command shares the harness's process group")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	code, _, err := runCommand([]string{"sh", "-c", `sleep 60 & echo $! > "$0"`, pidFile}, os.Environ(), make(chan os.Signal))
	if err != nil || code != 0 {
		t.Fatalf("runCommand = %d, %v", code, err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("background process %d outlived the command", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
