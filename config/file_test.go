package config

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, err string
		check         func(*File) string
	}{
		{name: "empty object", in: `{}`, check: func(f *File) string {
			if f.General == nil || f.Consumer == nil || f.Producer == nil {
				return "missing sections must be empty, not nil"
			}
			return ""
		}},
		{name: "types", in: `{"general":{"a":"s","b":5,"c":true,"d":1.5},"consumer":null}`, check: func(f *File) string {
			if f.General["a"] != "s" || f.General["b"] != "5" || f.General["c"] != "true" || f.General["d"] != "1.5" {
				return "values not converted: " + strings.Join([]string{f.General["a"], f.General["b"], f.General["c"], f.General["d"]}, ",")
			}
			return ""
		}},
		{name: "rafka section", in: `{"rafka":{"port":7000,"shutdown_timeout":"3s","producer_close_timeout":250}}`, check: func(f *File) string {
			if f.Rafka.Port != 7000 || f.Rafka.ShutdownTimeout.String() != "3s" || f.Rafka.ProducerCloseTimeout.String() != "250ms" {
				return "rafka section not read"
			}
			return ""
		}},
		{name: "unknown top-level", in: `{"general":{},"zeta":{},"alpha":1}`, err: "unknown top-level keys alpha, zeta"},
		{name: "unknown rafka field", in: `{"rafka":{"nope":1}}`, err: `unknown field "nope"`},
		{name: "nested value", in: `{"producer":{"a":{"b":1}}}`, err: `property "a"`},
		{name: "not JSON", in: `{"general":`, err: "parse JSON"},
	}
	for _, tc := range tests {
		f, err := Parse([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if msg := tc.check(f); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
}

func TestPropertiesLayering(t *testing.T) {
	f, err := Parse([]byte(`{"general":{"client.rack":"r1","auto.offset.reset":"earliest","bootstrap.servers":"file:9092"},
		"consumer":{"enable.auto.commit":"false","enable.auto.offset.store":"true","queued.max.messages.kbytes":"2048"},
		"producer":{"topic.metadata.propagation.max.ms":"100"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Brokers() != "file:9092" {
		t.Errorf("Brokers() = %q", f.Brokers())
	}
	c := f.ConsumerProperties("flag:9092")
	want := map[string]string{
		"bootstrap.servers":          "flag:9092",
		"client.rack":                "r1",
		"auto.offset.reset":          "earliest", // general wins over defaults
		"queued.max.messages.kbytes": "2048",     // consumer wins over defaults
		"enable.auto.commit":         "true",     // forced
		"enable.auto.offset.store":   "false",    // forced
		"fetch.queue.backoff.ms":     "10",       // default
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("consumer %s = %q, want %q", k, c[k], v)
		}
	}
	p := f.ProducerProperties("")
	if p["bootstrap.servers"] != "file:9092" || p["topic.metadata.propagation.max.ms"] != "100" || p["enable.auto.commit"] != "" {
		t.Errorf("producer properties: %v", p)
	}
}

func TestMasked(t *testing.T) {
	m := Masked(Properties{"sasl.password": "x", "ssl.key.password": "y", "sasl.username": "u",
		"ssl.keystore.password": "z", "client.secret": "s", "acks": "all"})
	for k, v := range m {
		if k == "acks" {
			if v != "all" {
				t.Errorf("acks masked")
			}
		} else if v != "*****" {
			t.Errorf("%s not masked: %q", k, v)
		}
	}
}

func TestConfigMapGoTypes(t *testing.T) {
	m := *Properties{
		"go.events.channel.size":    "1000",
		"go.delivery.reports":       "false",
		"go.produce.channel.size":   "lots",
		"linger.ms":                 "5",
		"go.delivery.report.fields": "none",
	}.ConfigMap()
	for k, want := range map[string]any{
		"go.events.channel.size":    1000,
		"go.delivery.reports":       false,
		"go.produce.channel.size":   "lots", // left for the client library to refuse
		"linger.ms":                 "5",
		"go.delivery.report.fields": "none",
	} {
		if got := m[k]; got != want {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
}

// TestRafkaSectionOverDefaults: the rafka section is decoded over the
// defaults, so a zero it gives is kept (it used to be dropped, as if the
// key were absent) and a key it leaves out keeps its default.
func TestRafkaSectionOverDefaults(t *testing.T) {
	d := DefaultSettings()
	for _, tc := range []struct {
		name, json string
		check      func(s Settings) bool
	}{
		{"zero timeout kept", `{"rafka": {"producer_close_timeout": 0}}`, func(s Settings) bool { return s.ProducerCloseTimeout == 0 }},
		{"zero duration string kept", `{"rafka": {"auth_timeout": "0s"}}`, func(s Settings) bool { return s.AuthTimeout == 0 }},
		{"empty flight address kept", `{"rafka": {"flight_addr": ""}}`, func(s Settings) bool { return !s.FlightEnabled() }},
		{"absent keys keep defaults", `{"rafka": {"port": 7000}}`, func(s Settings) bool {
			return s.Port == 7000 && s.ProducerCloseTimeout == d.ProducerCloseTimeout && s.MaxClients == d.MaxClients
		}},
		{"no section is the defaults", `{}`, func(s Settings) bool { return s.Port == d.Port && s.AuthTimeout == d.AuthTimeout }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(f.Rafka) {
				t.Errorf("%s gave %+v", tc.json, f.Rafka)
			}
		})
	}
}
