package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"rafka/config"
	"rafka/producer"
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

// TestShutdownEndsDurableProduce: a durable RPUSH waiting for a delivery
// that cannot come (the broker is unreachable) does not hold Shutdown: the
// client's connection is closed and Shutdown returns.
func TestShutdownEndsDurableProduce(t *testing.T) {
	settings := config.DefaultSettings()
	settings.ProducerCloseTimeout = config.Duration(100 * time.Millisecond)
	st := stats.New()
	prod := producer.New(config.Properties{"bootstrap.servers": "127.0.0.1:1", "log_level": "0"}, producer.LimitsOf(settings), st, zerolog.Nop())
	defer prod.Close(0)
	s := New(Config{Settings: settings, Producer: prod, Version: "test", Stats: st, Log: zerolog.Nop()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("RPUSH topics:nowhere v\r\n")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); st.Get(stats.ProducerMessages) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the durable RPUSH never produced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a durable RPUSH waiting: %v (after %v)", err, time.Since(start))
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 64)); err == nil {
		t.Log("the RPUSH got a reply") // an error reply is fine too; what matters is that Shutdown returned
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the client's connection is still open after Shutdown")
	}
}
