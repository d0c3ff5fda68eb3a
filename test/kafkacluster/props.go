package kafkacluster

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// Property is one server.properties entry.
type Property struct {
	// Key is the property name, e.g. "num.partitions".
	Key string
	// Value is the raw (unescaped) value.
	Value string
}

// ParseProperty parses a "key=value" command-line property. The key must be
// non-empty and free of whitespace and ':'; neither part may contain a line
// break.
func ParseProperty(s string) (Property, error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return Property{}, fmt.Errorf("property %q: want key=value", s)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return Property{}, fmt.Errorf("property %q: empty key", s)
	}
	if strings.ContainsAny(key, " \t:") {
		return Property{}, fmt.Errorf("property %q: key must not contain whitespace or ':'", s)
	}
	if strings.ContainsAny(s, "\r\n") {
		return Property{}, fmt.Errorf("property %q: must not contain a line break", s)
	}
	return Property{Key: key, Value: value}, nil
}

// nodePorts are the two listeners of one node.
type nodePorts struct {
	// broker is the PLAINTEXT (client) port; controller the CONTROLLER port.
	broker, controller int
}

// nodeProperties returns the configuration of node id (1-based) of a
// cluster whose nodes all act as broker and controller on 127.0.0.1, with
// the static controller quorum of all nodes, storing data in dataDir.
// Internal topics are replicated to every node (at most 3), and need a
// majority of them in sync.
func nodeProperties(id int, ports []nodePorts, dataDir string) []Property {
	self := ports[id-1]
	broker := "127.0.0.1:" + strconv.Itoa(self.broker)
	controller := "127.0.0.1:" + strconv.Itoa(self.controller)
	voters := make([]string, len(ports))
	for i, p := range ports {
		voters[i] = fmt.Sprintf("%d@127.0.0.1:%d", i+1, p.controller)
	}
	replicas := strconv.Itoa(min(len(ports), 3))
	minISR := strconv.Itoa(min(len(ports), 3)/2 + 1)
	if len(ports) == 1 {
		minISR = "1"
	}
	return []Property{
		{"process.roles", "broker,controller"},
		{"node.id", strconv.Itoa(id)},
		{"listeners", "PLAINTEXT://" + broker + ",CONTROLLER://" + controller},
		{"advertised.listeners", "PLAINTEXT://" + broker},
		{"controller.listener.names", "CONTROLLER"},
		{"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
		{"controller.quorum.voters", strings.Join(voters, ",")},
		{"log.dirs", dataDir},
		{"num.partitions", "4"},
		{"default.replication.factor", replicas},
		{"auto.create.topics.enable", "false"},
		{"group.initial.rebalance.delay.ms", "0"},
		{"group.min.session.timeout.ms", "1000"},
		// Small internal topics: they are created faster.
		{"offsets.topic.replication.factor", replicas},
		{"offsets.topic.num.partitions", "4"},
		{"transaction.state.log.replication.factor", replicas},
		{"transaction.state.log.min.isr", minISR},
		{"transaction.state.log.num.partitions", "4"},
		{"share.coordinator.state.topic.replication.factor", replicas},
		{"share.coordinator.state.topic.min.isr", minISR},
	}
}

// mergeProperties returns base with each extra entry either replacing the
// base entry of the same key in place or, for a new key, appended in order.
// A key repeated in extra keeps its last value.
func mergeProperties(base, extra []Property) []Property {
	out := append([]Property(nil), base...)
	index := make(map[string]int, len(out))
	for i, p := range out {
		index[p.Key] = i
	}
	for _, p := range extra {
		if i, ok := index[p.Key]; ok {
			out[i].Value = p.Value
			continue
		}
		index[p.Key] = len(out)
		out = append(out, p)
	}
	return out
}

// renderProperties formats props as a Java properties file.
func renderProperties(props []Property) string {
	var b strings.Builder
	b.WriteString("# Written by test/kafkacluster.\n")
	for _, p := range props {
		b.WriteString(p.Key)
		b.WriteByte('=')
		b.WriteString(escapePropertyValue(p.Value))
		b.WriteByte('\n')
	}
	return b.String()
}

// escapePropertyValue escapes a value for a Java properties file: backslashes
// are doubled and a leading space is kept by escaping it.
func escapePropertyValue(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	if strings.HasPrefix(v, " ") {
		v = `\` + v
	}
	return v
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment
// ago. All listeners are held open until every port is picked, so the ports
// differ; another process may still take one before it is used.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// newClusterID returns a random KRaft cluster id in Kafka's format: 16 bytes
// in unpadded base64url (22 characters). Like Kafka's Uuid.randomUuid it
// never returns the reserved all-zero and metadata-topic ids, nor an id that
// starts with '-' (which command-line parsers take for a flag).
func newClusterID(random io.Reader) (string, error) {
	var zero, metadataTopic [16]byte
	metadataTopic[15] = 1
	for range 100 {
		var b [16]byte
		if _, err := io.ReadFull(random, b[:]); err != nil {
			return "", fmt.Errorf("generate cluster id: %w", err)
		}
		if b == zero || b == metadataTopic {
			continue
		}
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if strings.HasPrefix(id, "-") {
			continue
		}
		return id, nil
	}
	return "", errors.New("generate cluster id: random source keeps returning reserved ids")
}

// randomClusterID is newClusterID with the system's random source.
func randomClusterID() (string, error) {
	return newClusterID(rand.Reader)
}
