// Package config loads rafka's configuration file (kafka.json): three
// sections of librdkafka properties (general, consumer, producer) and an
// optional section of the server's own settings (rafka).
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Properties is a set of librdkafka properties, values as librdkafka reads
// them (strings).
type Properties map[string]string

// Clone returns a copy of p that can be changed without touching p.
func (p Properties) Clone() Properties {
	out := make(Properties, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// File is the parsed configuration file. Missing sections are empty.
type File struct {
	// General properties apply to consumers and producers alike.
	General Properties
	// Consumer properties apply to consumers; they win over General.
	Consumer Properties
	// Producer properties apply to producers; they win over General.
	Producer Properties
	// Rafka holds the server's own settings: the defaults with what the
	// optional "rafka" section sets decoded over them (a zero it gives is
	// kept); command-line flags override them.
	Rafka Settings
}

// LoadFile reads and parses the configuration file at path.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}

// Parse parses a configuration file's contents.
func Parse(data []byte) (*File, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	var unknown []string
	for k := range top {
		switch k {
		case "general", "consumer", "producer", "rafka":
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown top-level keys %s (expected general, consumer, producer, rafka)", strings.Join(unknown, ", "))
	}
	f := &File{}
	var err error
	if f.General, err = parseSection(top, "general"); err != nil {
		return nil, err
	}
	if f.Consumer, err = parseSection(top, "consumer"); err != nil {
		return nil, err
	}
	if f.Producer, err = parseSection(top, "producer"); err != nil {
		return nil, err
	}
	f.Rafka = DefaultSettings()
	if raw, ok := top["rafka"]; ok && !isNull(raw) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f.Rafka); err != nil {
			return nil, fmt.Errorf("section rafka: %w", err)
		}
	}
	return f, nil
}

func parseSection(top map[string]json.RawMessage, name string) (Properties, error) {
	raw, ok := top[name]
	if !ok || isNull(raw) {
		return Properties{}, nil
	}
	props, err := ParseProperties(raw)
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", name, err)
	}
	return props, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// ParseProperties parses a flat JSON object of librdkafka properties.
// Strings, numbers and booleans are accepted; numbers keep their JSON text.
func ParseProperties(raw []byte) (Properties, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("expected a JSON object")
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON object")
	}
	props := make(Properties, len(obj))
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			props[k] = v
		case json.Number:
			props[k] = v.String()
		case bool:
			if v {
				props[k] = "true"
			} else {
				props[k] = "false"
			}
		default:
			return nil, fmt.Errorf("property %q: value must be a string, number or boolean", k)
		}
	}
	return props, nil
}
