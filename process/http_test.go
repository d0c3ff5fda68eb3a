package process

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestHTTPHeaderBound: the metrics and pprof servers take at most 64 KiB
// of request headers (net/http's default was 1 MiB); a scrape's few
// hundred bytes are served.
func TestHTTPHeaderBound(t *testing.T) {
	p := &Process{log: zerolog.Nop()}
	addr, err := p.serveHTTP("127.0.0.1:0", "metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range p.servers {
			_ = s.Close()
		}
	}()
	for _, tc := range []struct {
		pad  int
		want int
	}{{512, http.StatusOK}, {100 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		req, err := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Pad", strings.Repeat("p", tc.pad))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%d bytes of headers: %v", tc.pad, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%d bytes of headers: %s, want %d", tc.pad, resp.Status, tc.want)
		}
	}
}
