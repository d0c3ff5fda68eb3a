package process

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Addrs are the addresses a process's listeners bound (with --port 0 and
// :0 addresses, the ports the system chose); empty for a listener that is
// off. As JSON it is the ready file.
type Addrs struct {
	RESP    string `json:"resp"`
	Flight  string `json:"flight,omitempty"`
	Metrics string `json:"metrics,omitempty"`
	Pprof   string `json:"pprof,omitempty"`
}

// WriteFile writes the addresses as JSON to path, whole or not at all: the
// file appears by a rename, so a reader never sees half of it.
func (a Addrs) WriteFile(path string) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".rafka-ready-*")
	if err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}
