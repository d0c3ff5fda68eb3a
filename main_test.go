package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"rafka/config"
)

// TestLoadConfigPrecedence: the file's rafka section over the defaults
// (a zero it gives is kept), flags over the file.
func TestLoadConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kafka.json")
	if err := os.WriteFile(path, []byte(`{"rafka": {"producer_close_timeout": 0, "max_clients": 7}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(s config.Settings) bool
	}{
		{"file zero kept", nil, func(s config.Settings) bool { return s.ProducerCloseTimeout == 0 && s.MaxClients == 7 }},
		{"flag over file", []string{"--producer-close-timeout", "2s"}, func(s config.Settings) bool {
			return s.ProducerCloseTimeout == config.Duration(2*time.Second) && s.MaxClients == 7
		}},
		{"default where neither sets it", nil, func(s config.Settings) bool { return s.AuthTimeout == config.DefaultSettings().AuthTimeout }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, s, err := loadConfig(options{configPath: path}, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(s) {
				t.Errorf("settings %+v", s)
			}
		})
	}
}
