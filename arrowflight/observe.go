package arrowflight

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/stats"
)

// RPCObserver records every finished Flight call: its method ("DoGet"), its
// gRPC status code ("OK", "PermissionDenied", ...) and how long it took (a
// stream: until its handler returned). stats.Metrics implements it, which
// keeps Prometheus out of this package.
type RPCObserver interface {
	ObserveFlightRPC(method, code string, d time.Duration)
}

// instrumentUnary counts a unary call and reports it to the observer. It is
// the outermost interceptor, so it sees the final status of every call,
// refused, unauthenticated and panicking ones included.
func (s *Service) instrumentUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	s.stats.Inc(stats.FlightCalls)
	start := time.Now()
	resp, err := h(ctx, req)
	s.observe(info.FullMethod, start, err)
	return resp, err
}

// instrumentStream counts a streaming call and reports it to the observer
// when its handler returns.
func (s *Service) instrumentStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	s.stats.Inc(stats.FlightCalls)
	start := time.Now()
	err := h(srv, ss)
	s.observe(info.FullMethod, start, err)
	return err
}

func (s *Service) observe(fullMethod string, start time.Time, err error) {
	if s.cfg.Observer == nil {
		return
	}
	method := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	s.cfg.Observer.ObserveFlightRPC(method, rpcCode(err).String(), time.Since(start))
}

// rpcCode is err's gRPC code; a plain error caused by a cancelled or timed
// out stream (a client that went away mid-DoGet) counts as Canceled or
// DeadlineExceeded rather than Unknown.
func rpcCode(err error) codes.Code {
	code := status.Code(err)
	if code == codes.Unknown {
		switch {
		case errors.Is(err, context.Canceled):
			return codes.Canceled
		case errors.Is(err, context.DeadlineExceeded):
			return codes.DeadlineExceeded
		}
	}
	return code
}
