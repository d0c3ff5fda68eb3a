package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
			want: options{version: defaultKafkaVersion, command: []string{"sh", "-c", "echo $KAFKA_BROKERS"}},
		},
		{
			name: "all flags",
			args: []string{"-cache", "/c", "-version", "4.0.0", "-keep-logs", "-prop", "a=1", "-prop", "b=x=y", "--", "true"},
			want: options{
				cacheDir: "/c", version: "4.0.0", keepLogs: true,
				props:   []property{{"a", "1"}, {"b", "x=y"}},
				command: []string{"true"},
			},
		},
		{
			name: "fetch only",
			args: []string{"-fetch-only"},
			want: options{version: defaultKafkaVersion, fetchOnly: true},
		},
		{name: "fetch only with command", args: []string{"-fetch-only", "--", "true"}, wantErr: "takes no command"},
		{name: "no command", args: nil, wantErr: "missing command"},
		{name: "bad prop", args: []string{"-prop", "novalue", "--", "true"}, wantErr: "want key=value"},
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

func TestParseProperty(t *testing.T) {
	tests := []struct {
		in      string
		want    property
		wantErr bool
	}{
		{in: "num.partitions=8", want: property{"num.partitions", "8"}},
		{in: " log.retention.ms =1000", want: property{"log.retention.ms", "1000"}},
		{in: "a=b=c", want: property{"a", "b=c"}},
		{in: "empty.value=", want: property{"empty.value", ""}},
		{in: "noequals", wantErr: true},
		{in: "=value", wantErr: true},
		{in: "has space=1", wantErr: true},
		{in: "has:colon=1", wantErr: true},
		{in: "multi=line\nx=y", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseProperty(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProperty(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("parseProperty(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMergeProperties(t *testing.T) {
	base := []property{{"a", "1"}, {"b", "2"}, {"c", "3"}}
	tests := []struct {
		name  string
		extra []property
		want  []property
	}{
		{name: "none", extra: nil, want: base},
		{name: "override keeps position", extra: []property{{"b", "20"}}, want: []property{{"a", "1"}, {"b", "20"}, {"c", "3"}}},
		{name: "new keys appended in order", extra: []property{{"z", "26"}, {"d", "4"}}, want: []property{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"z", "26"}, {"d", "4"}}},
		{name: "last repeat wins", extra: []property{{"d", "4"}, {"a", "10"}, {"d", "40"}, {"a", "100"}}, want: []property{{"a", "100"}, {"b", "2"}, {"c", "3"}, {"d", "40"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]property(nil), base...)
			got := mergeProperties(base, tt.extra)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("mergeProperties = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(base, before) {
				t.Errorf("mergeProperties modified base: %v", base)
			}
		})
	}
}

func TestRenderProperties(t *testing.T) {
	tests := []struct {
		name      string
		props     []property
		wantLines []string
	}{
		{name: "plain", props: []property{{"a", "1"}, {"b.c", "x,y"}}, wantLines: []string{"a=1", "b.c=x,y"}},
		{name: "backslash doubled", props: []property{{"p", `C:\dir\x`}}, wantLines: []string{`p=C:\\dir\\x`}},
		{name: "leading space kept", props: []property{{"p", " v"}}, wantLines: []string{`p=\ v`}},
		{name: "empty value", props: []property{{"p", ""}}, wantLines: []string{"p="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderProperties(tt.props)
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "#") {
				t.Fatalf("first line %q is not a comment", lines[0])
			}
			if !reflect.DeepEqual(lines[1:], tt.wantLines) {
				t.Errorf("renderProperties = %q, want lines %q", got, tt.wantLines)
			}
		})
	}
}

func TestBrokerProperties(t *testing.T) {
	props := mergeProperties(brokerProperties(39092, 39093, "/tmp/kh/data"), []property{{"num.partitions", "1"}})
	rendered := renderProperties(props)
	want := map[string]string{
		"process.roles":                       "broker,controller",
		"listeners":                           "PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093",
		"advertised.listeners":                "PLAINTEXT://127.0.0.1:39092",
		"controller.quorum.bootstrap.servers": "127.0.0.1:39093",
		"log.dirs":                            "/tmp/kh/data",
		"auto.create.topics.enable":           "false",
		"offsets.topic.replication.factor":    "1",
		"num.partitions":                      "1",
	}
	seen := map[string]int{}
	for _, line := range strings.Split(rendered, "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		seen[key]++
		if w, ok := want[key]; ok && value != w {
			t.Errorf("%s = %q, want %q", key, value, w)
		}
	}
	for key := range want {
		if seen[key] != 1 {
			t.Errorf("%s appears %d times, want once", key, seen[key])
		}
	}
	for key, n := range seen {
		if n != 1 {
			t.Errorf("%s appears %d times", key, n)
		}
	}
}

func TestFreePorts(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ports, err := freePorts(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(ports) != n {
				t.Fatalf("got %d ports, want %d", len(ports), n)
			}
			seen := map[int]bool{}
			for _, p := range ports {
				if p <= 0 || p > 65535 {
					t.Errorf("port %d out of range", p)
				}
				if seen[p] {
					t.Errorf("port %d returned twice in %v", p, ports)
				}
				seen[p] = true
				// The port must be free again for the broker to bind.
				l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
				if err != nil {
					t.Errorf("port %d not free after freePorts: %v", p, err)
					continue
				}
				l.Close()
			}
		})
	}
}

// seq returns 16 bytes first, first+1, ...
func seq(first byte) []byte {
	b := make([]byte, 16)
	for i := range b {
		b[i] = first + byte(i)
	}
	return b
}

func TestNewClusterID(t *testing.T) {
	metadataTopic := make([]byte, 16)
	metadataTopic[15] = 1
	tests := []struct {
		name    string
		random  []byte
		want    string
		wantErr bool
	}{
		{name: "plain", random: seq(0), want: "AAECAwQFBgcICQoLDA0ODw"},
		{name: "leading dash skipped", random: append(seq(0xf8), seq(0)...), want: "AAECAwQFBgcICQoLDA0ODw"},
		{name: "zero skipped", random: append(make([]byte, 16), seq(0)...), want: "AAECAwQFBgcICQoLDA0ODw"},
		{name: "metadata topic id skipped", random: append(metadataTopic, seq(0)...), want: "AAECAwQFBgcICQoLDA0ODw"},
		{name: "short random source", random: seq(0)[:10], wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newClusterID(bytes.NewReader(tt.random))
			if (err != nil) != tt.wantErr {
				t.Fatalf("newClusterID error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("newClusterID = %q, want %q", got, tt.want)
			}
		})
	}
	id, err := randomClusterID()
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 22 || strings.HasPrefix(id, "-") {
		t.Errorf("randomClusterID = %q, want 22 characters not starting with '-'", id)
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		data string
		n    int
		want []string
	}{
		{data: "", n: 3, want: nil},
		{data: "a\nb\nc\n", n: 2, want: []string{"b", "c"}},
		{data: "a\nb\nc", n: 2, want: []string{"b", "c"}},
		{data: "a\nb\n", n: 10, want: []string{"a", "b"}},
		{data: "a\n\nb\n", n: 2, want: []string{"", "b"}},
		{data: "a\nb\n", n: 0, want: nil},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range lastLines([]byte(tt.data), tt.n) {
			got = append(got, string(l))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.data, tt.n, got, tt.want)
		}
	}
}

func TestCacheComplete(t *testing.T) {
	stamp := fetchStamp("4.3.1", []byte("<project/>"))
	if other := fetchStamp("4.3.1", []byte("<project></project>")); other == stamp {
		t.Fatal("stamp does not depend on the pom")
	}
	if other := fetchStamp("4.0.0", []byte("<project/>")); other == stamp {
		t.Fatal("stamp does not depend on the version")
	}
	tests := []struct {
		name   string
		marker string // "" means no marker file
		libs   bool
		want   bool
	}{
		{name: "complete", marker: stamp, libs: true, want: true},
		{name: "no marker (partial fetch)", libs: true, want: false},
		{name: "marker of another fetch", marker: fetchStamp("4.0.0", []byte("<project/>")), libs: true, want: false},
		{name: "libs removed", marker: stamp, libs: false, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.marker != "" {
				if err := os.WriteFile(filepath.Join(dir, markerName), []byte(tt.marker), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.libs {
				if err := os.Mkdir(filepath.Join(dir, libsName), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if got := cacheComplete(dir, stamp); got != tt.want {
				t.Errorf("cacheComplete = %v, want %v", got, tt.want)
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
