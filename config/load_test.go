package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLoadPrecedence: defaults < file < environment < flags, a zero from
// the file or a flag kept, and only flags actually given override.
func TestLoadPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kafka.json")
	file := `{"rafka": {"producer_close_timeout": 0, "max_clients": 7, "brokers": "file:9092",
		"flight_tokens": ["from-file"], "port": 7000}}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	defaults := DefaultSettings()
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(s Settings) bool
	}{
		{"file zero kept", []string{"-c", path}, nil, func(s Settings) bool {
			return s.ProducerCloseTimeout == 0 && s.MaxClients == 7 && s.Port == 7000
		}},
		{"default where nothing sets it", []string{"-c", path}, nil, func(s Settings) bool {
			return s.AuthTimeout == defaults.AuthTimeout && s.FlightAddr == defaults.FlightAddr
		}},
		{"file from the environment", nil, map[string]string{"RAFKA_CONFIG": path}, func(s Settings) bool { return s.MaxClients == 7 }},
		{"--config over the environment", []string{"--config", path}, map[string]string{"RAFKA_CONFIG": "/nonexistent"}, func(s Settings) bool { return s.MaxClients == 7 }},
		{"environment over file", []string{"-c", path}, map[string]string{"RAFKA_BROKERS": "env:9092"}, func(s Settings) bool { return s.Brokers == "env:9092" }},
		{"flag over environment", []string{"-c", path, "--brokers", "flag:9092"}, map[string]string{"RAFKA_BROKERS": "env:9092"}, func(s Settings) bool {
			return s.Brokers == "flag:9092"
		}},
		{"flag over file", []string{"-c", path, "--producer-close-timeout", "2s"}, nil, func(s Settings) bool {
			return s.ProducerCloseTimeout == Duration(2*time.Second) && s.MaxClients == 7
		}},
		{"flag zero over file", []string{"-c", path, "-p", "0"}, nil, func(s Settings) bool { return s.Port == 0 }},
		{"flag zero over default", []string{"--auth-timeout", "0"}, nil, func(s Settings) bool { return s.AuthTimeout == 0 }},
		{"flag list replaces file list", []string{"-c", path, "--flight-token", "a", "--flight-token", "b"}, nil, func(s Settings) bool {
			return reflect.DeepEqual(s.FlightTokens, []string{"a", "b"})
		}},
		{"file list kept without the flag", []string{"-c", path}, nil, func(s Settings) bool {
			return reflect.DeepEqual(s.FlightTokens, []string{"from-file"})
		}},
		{"map flag", []string{"--flight-user", "ann:pw:with:colons"}, nil, func(s Settings) bool {
			return reflect.DeepEqual(s.FlightUsers, map[string]string{"ann": "pw:with:colons"})
		}},
		{"no file", nil, nil, func(s Settings) bool { return reflect.DeepEqual(s, defaults) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg.Settings) {
				t.Errorf("settings %+v", cfg.Settings)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{"--port", "x"}, noEnv, `invalid value "x" for flag -port`},
		{[]string{"--port", "70000"}, noEnv, "port 70000 out of range"},
		{[]string{"--flight-user", "nocolon"}, noEnv, "expected user:password"},
		{[]string{"--log-level", "loud"}, noEnv, `log level "loud"`},
		{[]string{"extra"}, noEnv, "unexpected arguments"},
		{[]string{"--config", "/nonexistent/kafka.json"}, noEnv, "read config /nonexistent/kafka.json"},
		{nil, func(k string) string {
			if k == "RAFKA_CONFIG" {
				return "/nonexistent/env.json"
			}
			return ""
		}, "read config /nonexistent/env.json"},
	} {
		_, err := Load(tc.args, tc.env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := Load([]string{"--help"}, noEnv, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}

// TestFlagHelpFromDeclarations: every setting's flag is in the help with
// its usage and its default.
func TestFlagHelpFromDeclarations(t *testing.T) {
	var help strings.Builder
	if _, err := Load([]string{"--help"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	for _, d := range declared() {
		if !strings.Contains(help.String(), "-"+d.flags[0]) || !strings.Contains(help.String(), d.usage) {
			t.Errorf("help lacks -%s or its usage", d.flags[0])
		}
		if d.def != "" && !strings.Contains(help.String(), "(default "+d.def+")") && !strings.Contains(help.String(), `(default "`+d.def+`")`) {
			t.Errorf("help lacks the default of -%s (%s)", d.flags[0], d.def)
		}
	}
}
