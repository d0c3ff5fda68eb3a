package main

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

// property is one server.properties entry.
type property struct {
	// key is the property name, e.g. "num.partitions".
	key string
	// value is the raw (unescaped) value.
	value string
}

// parseProperty parses a "key=value" command-line property. The key must be
// non-empty and free of whitespace and ':'; neither part may contain a line
// break.
func parseProperty(s string) (property, error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return property{}, fmt.Errorf("property %q: want key=value", s)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return property{}, fmt.Errorf("property %q: empty key", s)
	}
	if strings.ContainsAny(key, " \t:") {
		return property{}, fmt.Errorf("property %q: key must not contain whitespace or ':'", s)
	}
	if strings.ContainsAny(s, "\r\n") {
		return property{}, fmt.Errorf("property %q: must not contain a line break", s)
	}
	return property{key: key, value: value}, nil
}

// brokerProperties returns the configuration of a single-node KRaft broker
// and controller listening on 127.0.0.1, storing its data in dataDir.
func brokerProperties(brokerPort, controllerPort int, dataDir string) []property {
	broker := "127.0.0.1:" + strconv.Itoa(brokerPort)
	controller := "127.0.0.1:" + strconv.Itoa(controllerPort)
	return []property{
		{"process.roles", "broker,controller"},
		{"node.id", "1"},
		{"listeners", "PLAINTEXT://" + broker + ",CONTROLLER://" + controller},
		{"advertised.listeners", "PLAINTEXT://" + broker},
		{"controller.listener.names", "CONTROLLER"},
		{"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
		{"controller.quorum.bootstrap.servers", controller},
		{"log.dirs", dataDir},
		{"num.partitions", "4"},
		{"auto.create.topics.enable", "false"},
		{"group.initial.rebalance.delay.ms", "0"},
		{"group.min.session.timeout.ms", "1000"},
		// Small internal topics: a single broker needs no more, and they
		// are created faster.
		{"offsets.topic.replication.factor", "1"},
		{"offsets.topic.num.partitions", "4"},
		{"transaction.state.log.replication.factor", "1"},
		{"transaction.state.log.min.isr", "1"},
		{"transaction.state.log.num.partitions", "4"},
		{"share.coordinator.state.topic.replication.factor", "1"},
		{"share.coordinator.state.topic.min.isr", "1"},
	}
}

// mergeProperties returns base with each extra entry either replacing the
// base entry of the same key in place or, for a new key, appended in order.
// A key repeated in extra keeps its last value.
func mergeProperties(base, extra []property) []property {
	out := append([]property(nil), base...)
	index := make(map[string]int, len(out))
	for i, p := range out {
		index[p.key] = i
	}
	for _, p := range extra {
		if i, ok := index[p.key]; ok {
			out[i].value = p.value
			continue
		}
		index[p.key] = len(out)
		out = append(out, p)
	}
	return out
}

// renderProperties formats props as a Java properties file.
func renderProperties(props []property) string {
	var b strings.Builder
	b.WriteString("# Written by test/kafkaharness.\n")
	for _, p := range props {
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(escapePropertyValue(p.value))
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
