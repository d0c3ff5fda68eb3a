package rafkatest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// StartT starts the rafka binary for a test (Options.Dir defaults to a
// temporary directory of t). When the test ends the process gets SIGTERM,
// and SIGKILL 25 s later (an error of the test); its log is shown if the
// test failed.
func StartT(t testing.TB, o Options) *Proc {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	p, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := p.Terminate(25 * time.Second); errors.Is(err, ErrKilled) {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("rafka log (%s):\n%s", p.LogPath, p.LogTail(200))
		}
	})
	return p
}

// DialT connects to addr for a test; the connection is closed when the
// test ends.
func DialT(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
