// Package arrowflight is rafka's Arrow Flight service: bounded, following
// and group reads of Kafka topics as Arrow record batches, and bulk produce
// with DoPut (arrow.md section 3).
package arrowflight

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"rafka/acl"
	"rafka/arrowenc"
	"rafka/authlimit"
	"rafka/config"
	"rafka/producer"
	"rafka/stats"
)

// Config is what the service needs.
type Config struct {
	// Advertise is the host:port clients should use, put in endpoint
	// locations; empty leaves locations empty (redeem on the same server).
	Advertise string
	// Tokens are static bearer tokens; Users are Basic credentials
	// (user -> password) exchanged for bearer tokens. Both have full
	// access. With neither and no ACL, the service needs no authentication.
	Tokens []string
	Users  map[string]string
	// ACL, when set, adds the users of the ACL file: Basic credentials
	// exchanged for a bearer token bound to the user, whose calls are
	// limited to the topics and groups the file allows.
	ACL *acl.List
	// AuthLimiter limits failed handshakes and static bearer tokens per
	// peer host (required). Sharing the RESP listener's limiter counts a
	// host's failures on both.
	AuthLimiter *authlimit.Limiter
	// TLS, when set, serves Flight over TLS (config.Resolved.FlightTLS).
	TLS *tls.Config
	// MaxStreams bounds concurrent streaming calls; it must be at least
	// 1 (the process passes config.Settings.FlightMaxStreams).
	MaxStreams int
	// MaxBatchBytes is the ceiling of a read's max_batch_bytes, checked
	// for descriptors and again for every ticket. Default: the settings'
	// default (config.Settings.MaxBatchBytes).
	MaxBatchBytes int
	// Consumer is the librdkafka properties of reads.
	Consumer config.Properties
	// Producer is the shared producer DoPut produces through (each call
	// with its own account); the caller closes it after Shutdown.
	Producer *producer.Producer
	// Version is recorded in the schema metadata.
	Version string
	Stats   *stats.Stats
	// Observer, when set, is told the method, status code and duration
	// of every call (Prometheus metrics).
	Observer RPCObserver
	Log      zerolog.Logger
	// Allocator serves Arrow buffers; nil means the default allocator
	// (arrowenc.Allocator).
	Allocator memory.Allocator
}

// Service is the Flight service.
type Service struct {
	flight.BaseFlightServer
	cfg     Config
	mem     memory.Allocator
	stats   *stats.Stats
	log     zerolog.Logger
	cluster *cluster
	grpc    *grpc.Server
	streams chan struct{} // one token per open stream

	ctx    context.Context // ends when shutdown starts: open streams end
	cancel context.CancelFunc
}

// New builds the service; Serve starts it.
func New(cfg Config) (*Service, error) {
	if cfg.MaxStreams < 1 {
		return nil, fmt.Errorf("flight max streams must be at least 1, got %d", cfg.MaxStreams)
	}
	if cfg.ACL != nil {
		for name := range cfg.Users {
			if cfg.ACL.Has(name) {
				return nil, fmt.Errorf("flight user %q is also a user of the ACL file: rename one", name)
			}
		}
	}
	if cfg.AuthLimiter == nil {
		return nil, errors.New("flight needs an auth limiter")
	}
	cl, err := newCluster(cfg.Consumer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, mem: arrowenc.Allocator(cfg.Allocator), stats: cfg.Stats, log: cfg.Log, cluster: cl,
		streams: make(chan struct{}, cfg.MaxStreams), ctx: ctx, cancel: cancel,
	}
	// A call's headers are read whole before any interceptor (auth among
	// them) sees the call: grpc-go's default allows 16 MiB of them on
	// every stream, and any number of streams on a connection.
	opts := []grpc.ServerOption{grpc.MaxHeaderListSize(maxHeaderListBytes), grpc.MaxConcurrentStreams(maxStreamsPerConn)}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	unary := []grpc.UnaryServerInterceptor{s.instrumentUnary, s.recoverUnary}
	stream := []grpc.StreamServerInterceptor{s.instrumentStream, s.recoverStream}
	if auth := newAuthenticator(cfg.Tokens, cfg.Users, cfg.ACL, cfg.AuthLimiter); auth.enabled() {
		unary = append(unary, auth.unary)
		stream = append(stream, auth.stream)
	}
	stream = append(stream, s.limitStream) // after auth: only admitted calls take a slot
	opts = append(opts, grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	s.grpc = grpc.NewServer(opts...)
	flight.RegisterFlightServiceServer(s.grpc, s)
	return s, nil
}

// maxHeaderListBytes bounds the headers of one Flight call (its metadata,
// a token among them), and maxStreamsPerConn the calls one connection has
// open at once.
const (
	maxHeaderListBytes = 64 << 10
	maxStreamsPerConn  = 128
)

// maxBatchBytes is the ceiling of a read's max_batch_bytes.
func (s *Service) maxBatchBytes() int {
	if s.cfg.MaxBatchBytes > 0 {
		return s.cfg.MaxBatchBytes
	}
	return config.DefaultSettings().MaxBatchBytes
}

// Serve serves Flight on ln until Shutdown.
func (s *Service) Serve(ln net.Listener) error {
	s.log.Info().Str("addr", ln.Addr().String()).Bool("tls", s.cfg.TLS != nil).Msg("serving Arrow Flight")
	err := s.grpc.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// stopGrace is how long Shutdown lets the cancelled calls end by
// themselves before it closes every connection. A handler blocked sending
// to a client that does not read, or waiting for a DoPut client that sends
// nothing, does not see the cancellation: only the closed connection ends
// its Send or Recv.
const stopGrace = time.Second

// Shutdown cancels every open stream (follow reads included), lets the
// calls end for up to stopGrace, then closes every connection, and waits
// for the handlers to return, or for ctx to end.
func (s *Service) Shutdown(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop() // returns when every handler has returned
		close(done)
	}()
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	var err error
	select {
	case <-done:
	case <-grace.C:
	case <-ctx.Done():
	}
	select {
	case <-done:
	default:
		s.grpc.Stop()
		select {
		case <-done:
		case <-ctx.Done():
			err = fmt.Errorf("flight calls did not end in time: %w", ctx.Err())
		}
	}
	s.cluster.close()
	return err
}

// recoverUnary keeps a bug in one call from taking the process down.
func (s *Service) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer s.recoverCall(info.FullMethod, &err)
	return h(ctx, req)
}

// recoverStream keeps a bug in one stream from taking the process down.
func (s *Service) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer s.recoverCall(info.FullMethod, &err)
	return h(srv, ss)
}

func (s *Service) recoverCall(method string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	s.stats.Inc(stats.ErrorsPanic)
	s.log.Error().Str("panic", fmt.Sprint(r)).Str("method", method).Bytes("stack", debug.Stack()).Msg("flight handler panicked")
	*err = status.Error(codes.Internal, "internal error")
}

// dataStreams are the calls that stream data and take a slot of MaxStreams.
var dataStreams = map[string]bool{
	"/arrow.flight.protocol.FlightService/DoGet":      true,
	"/arrow.flight.protocol.FlightService/DoPut":      true,
	"/arrow.flight.protocol.FlightService/DoExchange": true,
}

// limitStream refuses data streams over MaxStreams.
func (s *Service) limitStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !dataStreams[info.FullMethod] {
		return h(srv, ss)
	}
	select {
	case s.streams <- struct{}{}:
	default:
		s.stats.Inc(stats.FlightRejected)
		return status.Errorf(codes.ResourceExhausted, "too many concurrent Flight streams (max %d)", s.cfg.MaxStreams)
	}
	s.stats.Inc(stats.FlightStreams)
	defer func() {
		<-s.streams
		s.stats.Add(stats.FlightStreams, -1)
	}()
	return h(srv, ss)
}
