package kafkacluster

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseProperty(t *testing.T) {
	tests := []struct {
		in      string
		want    Property
		wantErr bool
	}{
		{in: "num.partitions=8", want: Property{"num.partitions", "8"}},
		{in: " log.retention.ms =1000", want: Property{"log.retention.ms", "1000"}},
		{in: "a=b=c", want: Property{"a", "b=c"}},
		{in: "empty.value=", want: Property{"empty.value", ""}},
		{in: "noequals", wantErr: true},
		{in: "=value", wantErr: true},
		{in: "has space=1", wantErr: true},
		{in: "has:colon=1", wantErr: true},
		{in: "multi=line\nx=y", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProperty(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseProperty(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("ParseProperty(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMergeProperties(t *testing.T) {
	base := []Property{{"a", "1"}, {"b", "2"}, {"c", "3"}}
	tests := []struct {
		name  string
		extra []Property
		want  []Property
	}{
		{name: "none", extra: nil, want: base},
		{name: "override keeps position", extra: []Property{{"b", "20"}}, want: []Property{{"a", "1"}, {"b", "20"}, {"c", "3"}}},
		{name: "new keys appended in order", extra: []Property{{"z", "26"}, {"d", "4"}}, want: []Property{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"z", "26"}, {"d", "4"}}},
		{name: "last repeat wins", extra: []Property{{"d", "4"}, {"a", "10"}, {"d", "40"}, {"a", "100"}}, want: []Property{{"a", "100"}, {"b", "2"}, {"c", "3"}, {"d", "40"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]Property(nil), base...)
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
		props     []Property
		wantLines []string
	}{
		{name: "plain", props: []Property{{"a", "1"}, {"b.c", "x,y"}}, wantLines: []string{"a=1", "b.c=x,y"}},
		{name: "backslash doubled", props: []Property{{"p", `C:\dir\x`}}, wantLines: []string{`p=C:\\dir\\x`}},
		{name: "leading space kept", props: []Property{{"p", " v"}}, wantLines: []string{`p=\ v`}},
		{name: "empty value", props: []Property{{"p", ""}}, wantLines: []string{"p="}},
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

func TestNodeProperties(t *testing.T) {
	one := []nodePorts{{39092, 39093}}
	three := []nodePorts{{39092, 39093}, {39094, 39095}, {39096, 39097}}
	tests := []struct {
		name  string
		id    int
		ports []nodePorts
		extra []Property
		want  map[string]string
	}{
		{
			name: "single node", id: 1, ports: one, extra: []Property{{"num.partitions", "1"}},
			want: map[string]string{
				"process.roles":                    "broker,controller",
				"node.id":                          "1",
				"listeners":                        "PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093",
				"advertised.listeners":             "PLAINTEXT://127.0.0.1:39092",
				"controller.quorum.voters":         "1@127.0.0.1:39093",
				"log.dirs":                         "/tmp/kc/data",
				"auto.create.topics.enable":        "false",
				"offsets.topic.replication.factor": "1",
				"transaction.state.log.min.isr":    "1",
				"default.replication.factor":       "1",
				"num.partitions":                   "1",
			},
		},
		{
			name: "second of three", id: 2, ports: three,
			want: map[string]string{
				"node.id":                          "2",
				"listeners":                        "PLAINTEXT://127.0.0.1:39094,CONTROLLER://127.0.0.1:39095",
				"advertised.listeners":             "PLAINTEXT://127.0.0.1:39094",
				"controller.quorum.voters":         "1@127.0.0.1:39093,2@127.0.0.1:39095,3@127.0.0.1:39097",
				"offsets.topic.replication.factor": "3",
				"transaction.state.log.min.isr":    "2",
				"default.replication.factor":       "3",
				"num.partitions":                   "4",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rendered := renderProperties(mergeProperties(nodeProperties(tt.id, tt.ports, "/tmp/kc/data"), tt.extra))
			seen := map[string]int{}
			for _, line := range strings.Split(rendered, "\n") {
				key, value, ok := strings.Cut(line, "=")
				if !ok || strings.HasPrefix(line, "#") {
					continue
				}
				seen[key]++
				if w, ok := tt.want[key]; ok && value != w {
					t.Errorf("%s = %q, want %q", key, value, w)
				}
			}
			for key := range tt.want {
				if seen[key] != 1 {
					t.Errorf("%s appears %d times, want once", key, seen[key])
				}
			}
			for key, n := range seen {
				if n != 1 {
					t.Errorf("%s appears %d times", key, n)
				}
			}
		})
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
