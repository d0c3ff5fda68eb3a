package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// boundAddrs are the addresses rafka's listeners bound (with --port 0 and
// :0 addresses, the ports the system chose); empty for a listener that is
// off.
type boundAddrs struct {
	RESP    string `json:"resp"`
	Flight  string `json:"flight,omitempty"`
	Metrics string `json:"metrics,omitempty"`
	Pprof   string `json:"pprof,omitempty"`
}

// write writes the addresses as JSON to path, whole or not at all: the
// file appears by a rename, so a reader never sees half of it.
func (b boundAddrs) write(path string) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".rafka-ready-*")
	if err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}
