package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/stats"
)

// TestShutdownRacesServe: Shutdown right after Serve was started (before
// or while it begins) ends it, and with -race, reads nothing Serve is
// still writing.
func TestShutdownRacesServe(t *testing.T) {
	for i := range 20 {
		settings := config.DefaultSettings()
		s := New(Config{Settings: settings, Version: "test", Stats: stats.New(), Log: zerolog.Nop()})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		if i%2 == 1 {
			time.Sleep(time.Millisecond)
		}
		_ = s.Addr()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("round %d: shutdown: %v", i, err)
		}
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("round %d: Serve: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Serve still running after Shutdown", i)
		}
	}
}
