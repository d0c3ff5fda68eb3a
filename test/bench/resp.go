package bench

import (
	"context"

	"rafka/test/rafkatest"
)

// respConn is the harness's pipelining RESP client.
type respConn = rafkatest.Conn

// dialRESP connects to addr; when ctx ends, every read and write fails.
func dialRESP(ctx context.Context, addr string) (*respConn, error) { return rafkatest.Dial(ctx, addr) }
