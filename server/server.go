// Package server is rafka's Redis-protocol listener: connection state, the
// command table and the command handlers.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/rs/zerolog"
	"github.com/tidwall/redcon"

	"rafka/acl"
	"rafka/arrowenc"
	"rafka/authlimit"
	"rafka/config"
	"rafka/locks"
	"rafka/producer"
	"rafka/stats"
	"rafka/streams"
)

// Config is what a Server needs; package process builds it from the
// resolved configuration.
type Config struct {
	// Settings are the server's own settings (listen address, limits,
	// timeouts).
	Settings config.Settings
	// Consumer and General are the librdkafka properties of consumers and
	// of the shared metadata handle.
	Consumer, General config.Properties
	// Producer is the shared producer every connection's produce commands
	// go through, each connection with its own account. The caller closes
	// it after Shutdown.
	Producer *producer.Producer
	// Version is reported by INFO and HELLO.
	Version string
	// Stats receives every counter.
	Stats *stats.Stats
	// Log is the server's logger.
	Log zerolog.Logger
	// Allocator serves Arrow buffers; nil means the default Go allocator.
	Allocator memory.Allocator
	// Metrics, when set, records every command's duration.
	Metrics *stats.Metrics
	// TLS, when set, serves the listener over TLS.
	TLS *tls.Config
	// ACL, when set, holds the users of AUTH <user> <password> and their
	// permissions; authentication is then required.
	ACL *acl.List
	// Logins limits failed logins per client address; nil means one of
	// the server's own with Settings.AuthFailuresPerSecond. Sharing it with
	// the Flight service counts a host's failures on both.
	Logins *authlimit.Limiter
	// Transactions runs MULTI/EXEC's produce commands as Kafka
	// transactions; nil refuses EXEC of produce commands. The caller
	// closes it after Shutdown.
	Transactions *producer.Transactions
}

func (c Config) logins() *authlimit.Limiter {
	if c.Logins != nil {
		return c.Logins
	}
	return NewLoginLimiter(c.Settings)
}

// NewLoginLimiter returns the limiter of failed logins the settings ask for:
// AuthFailuresPerSecond at once and per second, per address (the setting's
// default when it is not positive, as New does for other zero limits).
func NewLoginLimiter(s config.Settings) *authlimit.Limiter {
	rate := s.AuthFailuresPerSecond
	if !(rate > 0) {
		rate = config.DefaultSettings().AuthFailuresPerSecond
	}
	return authlimit.New(rate, max(int(rate), 1), authlimit.DefaultMaxAddrs)
}

func (c Config) allocator() memory.Allocator {
	return arrowenc.Allocator(c.Allocator)
}

// Server serves the RESP protocol on one listener.
type Server struct {
	cfg      Config
	log      zerolog.Logger
	stats    *stats.Stats
	commands map[string]*command
	clients  *registry
	monitors *monitors
	meta     *metadata
	// logins limits failed AUTH attempts per client address.
	logins  *authlimit.Limiter
	started time.Time
	nextID  atomic.Int64
	// blocked counts the connections waiting in a blocking pop (INFO's
	// blocked_clients); rates samples the counters for INFO.
	blocked atomic.Int64
	rates   *rates
	// mapping turns stream entries into records and back; reader reads
	// records by offset.
	mapping *streams.Mapping
	reader  *streams.Reader
	turns   readTurns // each ACL user's commands read one at a time
	// consumers counts the BLPOP consumers (--max-consumers).
	consumers consumerCount
	groups    *streams.Groups // the stream groups' members here
	locks     *locks.Table    // the lock keys (SET, GET, the Lock scripts)

	// serving guards rc, ln and addr: Serve sets them while Shutdown and
	// Addr may already run on other goroutines.
	serving sync.Mutex
	rc      *redcon.Server
	ln      net.Listener
	addr    net.Addr

	// ctx is cancelled when shutdown starts: blocked commands return.
	ctx          context.Context
	cancel       context.CancelFunc
	shuttingDown atomic.Bool
	// deliveries ends deliveryGrace after shutdown closes the connections
	// (endDeliveries): the waits of commands whose replies say what Kafka
	// stored (XADD, durable RPUSH) end with it, not with the client going.
	deliveries    context.Context
	endDeliveries context.CancelFunc

	conns      sync.WaitGroup // one per accepted connection, until torn down
	background sync.WaitGroup // consumer and producer closes
}

// New builds a server; Serve starts it. Limits left at zero in
// cfg.Settings take their defaults.
func New(cfg Config) *Server {
	d := config.DefaultSettings()
	defaultIfUnset(&cfg.Settings.MaxCommandBytes, d.MaxCommandBytes)
	defaultIfUnset(&cfg.Settings.MonitorBufferBytes, d.MonitorBufferBytes)
	defaultIfUnset(&cfg.Settings.MaxBatchBytes, d.MaxBatchBytes)
	defaultIfUnset(&cfg.Settings.StreamMaxPending, d.StreamMaxPending)
	defaultIfUnset(&cfg.Settings.StreamMaxMembers, d.StreamMaxMembers)
	defaultIfUnset(&cfg.Settings.MaxConsumers, d.MaxConsumers)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		log:      cfg.Log,
		stats:    cfg.Stats,
		clients:  newRegistry(),
		monitors: newMonitors(cfg.Stats, cfg.Settings.MonitorBufferBytes),
		meta:     newMetadata(cfg.General),
		logins:   cfg.logins(),
		started:  time.Now(),
		rates:    &rates{stats: cfg.Stats},
		locks:    locks.New(),
		mapping:  streams.NewMapping(cfg.Settings.StreamPayloadFields),
		reader:   streams.NewReader(cfg.Consumer),
		groups: streams.NewGroups(streams.GroupsConfig{Properties: cfg.Consumer, MaxPending: int(cfg.Settings.StreamMaxPending),
			MaxMembers: cfg.Settings.StreamMaxMembers, Stats: cfg.Stats, Log: cfg.Log}),
		ctx:    ctx,
		cancel: cancel,
	}
	s.deliveries, s.endDeliveries = context.WithCancel(context.Background())
	s.commands = commandTable()
	if cfg.Metrics != nil {
		for _, c := range s.commands {
			c.observe = cfg.Metrics.CommandObserver(c.name)
		}
	}
	return s
}

// defaultIfUnset sets *v to d when it is not positive: settings built by
// hand get the safe default rather than no bound (or a bound of zero).
func defaultIfUnset[T int | int64](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Listen opens the RESP listener on the settings' host and port (before
// New: what the port turned out to be can name things the server uses).
func Listen(s config.Settings) (net.Listener, error) {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves connections from ln until Shutdown. It returns nil after a
// shutdown.
func (s *Server) Serve(ln net.Listener) error {
	rc := redcon.NewServer(ln.Addr().String(), s.handle, s.accept, s.closed)
	if d := time.Duration(s.cfg.Settings.IdleTimeout); d > 0 {
		rc.SetIdleClose(d)
	}
	rc.AcceptError = func(err error) { s.log.Warn().Err(err).Msg("accept") }
	s.serving.Lock()
	if s.shuttingDown.Load() {
		s.serving.Unlock()
		_ = ln.Close()
		return nil
	}
	s.rc, s.ln, s.addr = rc, ln, ln.Addr()
	s.serving.Unlock()
	go s.rates.run(s.ctx)
	if idle := time.Duration(s.cfg.Settings.StreamMemberIdle); idle > 0 {
		go s.sweepMembers(idle)
	}
	s.log.Info().Str("addr", ln.Addr().String()).Msg("serving RESP")
	st := s.cfg.Settings
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	err := rc.Serve(listener{Listener: ln, stats: s.stats, full: s.full, refusing: make(chan struct{}, maxRefusing), scanner: requestScanner{
		maxBulk: st.MaxBulkBytes, maxArgs: st.MaxArgs, maxInline: st.MaxInlineBytes, maxCommand: st.MaxCommandBytes,
	}})
	if s.shuttingDown.Load() {
		return nil
	}
	return err
}

// Addr returns the listener's address once Serve has started.
func (s *Server) Addr() net.Addr {
	s.serving.Lock()
	defer s.serving.Unlock()
	return s.addr
}

// accept registers a new connection, or refuses it past the client limit.
func (s *Server) accept(conn redcon.Conn) bool {
	if s.shuttingDown.Load() {
		return false
	}
	if s.full() {
		// The listener refuses (with a reply) what it sees over the
		// limit; this is the backstop for connections accepted together.
		s.stats.Inc(stats.ConnectionsRejected)
		return false
	}
	nc, _ := conn.NetConn().(*netConn)
	c := &client{
		srv:        s,
		id:         s.nextID.Add(1),
		conn:       conn,
		nc:         nc,
		addr:       conn.RemoteAddr(),
		created:    time.Now(),
		lastActive: time.Now(),
	}
	c.log = s.log.With().Int64("conn", c.id).Str("addr", c.addr).Logger()
	if nc != nil {
		nc.replies, nc.idle = c, time.Duration(s.cfg.Settings.IdleTimeout)
	}
	if nc != nil && s.authRequired() {
		// The reading goroutine starts after accept returns.
		nc.scanner.authed = &c.authed
		if d := time.Duration(s.cfg.Settings.AuthTimeout); d > 0 {
			c.authTimer = time.AfterFunc(d, func() {
				if !c.authed.Load() {
					s.log.Debug().Int64("conn", c.id).Str("addr", c.addr).Dur("after", d).Msg("closing a connection that did not authenticate")
					_ = nc.Close()
				}
			})
		}
	}
	conn.SetContext(c)
	s.clients.add(c)
	s.conns.Add(1)
	s.stats.Inc(stats.ConnectionsTotal)
	s.stats.Inc(stats.ConnectionsCurrent)
	c.log.Debug().Msg("connection opened")
	return true
}

// full reports whether the server serves as many connections as it may.
func (s *Server) full() bool { return s.clients.count() >= s.cfg.Settings.MaxClients }

// closed is redcon's close callback. It runs under redcon's server lock, so
// everything slow happens in the background.
func (s *Server) closed(conn redcon.Conn, err error) {
	c, ok := conn.Context().(*client)
	if !ok {
		return
	}
	c.mu.Lock()
	monitoring := c.monitoring
	c.mu.Unlock()
	if monitoring {
		return // the monitor's own goroutines end the connection
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.log.Debug().Err(err).Msg("connection error")
	}
	s.teardown(c)
}

// teardown ends a connection: the id is released at once, the consumer is
// closed in the background (committing stored offsets, leaving the group)
// and the connection's outstanding messages get up to the close timeout to
// be delivered before its account closes.
func (s *Server) teardown(c *client) {
	s.clients.remove(c)
	c.mu.Lock()
	if c.tornDown {
		c.mu.Unlock()
		return
	}
	c.tornDown = true
	cons, acct := c.consumer, c.account
	c.mu.Unlock()
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	if cons != nil {
		s.background.Add(1)
		go func() {
			defer s.background.Done()
			if err := cons.Close(); err != nil {
				c.log.Warn().Err(err).Msg("close consumer")
			}
			s.consumers.give(c.consumerOwner) // closed: its place comes back
		}()
	}
	if acct != nil {
		s.background.Go(func() {
			acct.Close(context.Background(), time.Duration(s.cfg.Settings.ProducerCloseTimeout))
		})
	}
	if c.arrowEnc != nil {
		c.arrowEnc.Release()
		c.arrowEnc = nil
	}
	s.stats.Add(stats.ConnectionsCurrent, -1)
	c.log.Debug().Msg("connection closed")
	s.conns.Done()
}

// Shutdown stops the server as protocol.md section 6 says: blocked and new
// consume commands get `CONS Server shutdown`, consumers are closed in
// parallel (committing offsets), then the listener and the connections are
// closed and the producers flushed. It returns when all of that is done or
// ctx expires.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.shuttingDown.CompareAndSwap(false, true) {
		return errors.New("shutdown already started")
	}
	s.cancel()
	// The stream groups' members commit what was acked and leave, however
	// the rest of the shutdown ends.
	defer s.groups.Close()
	s.log.Info().Msg("shutdown: closing consumers")
	var wg sync.WaitGroup
	for _, c := range s.clients.snapshot() {
		c.mu.Lock()
		cons, log := c.consumer, c.log
		c.mu.Unlock()
		if cons == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cons.Close(); err != nil {
				log.Warn().Err(err).Msg("close consumer")
			}
		}()
	}
	if err := waitCtx(ctx, &wg); err != nil {
		s.endDeliveries()
		return fmt.Errorf("close consumers: %w", err)
	}
	s.log.Info().Msg("shutdown: closing connections and flushing producers")
	// Connections serve until they are closed now: a produce command's
	// wait for its deliveries has the grace from here, however long the
	// consumers took to close.
	time.AfterFunc(deliveryGrace, s.endDeliveries)
	s.serving.Lock()
	rc, ln := s.rc, s.ln
	s.serving.Unlock()
	if rc != nil {
		_ = rc.Close()
		// redcon's Close does nothing if its Serve has not begun yet;
		// a closed listener ends that Serve as soon as it begins.
		_ = ln.Close()
	}
	s.monitors.closeAll()
	if err := waitCtx(ctx, &s.conns); err != nil {
		return fmt.Errorf("close connections: %w", err)
	}
	if err := waitCtx(ctx, &s.background); err != nil {
		return fmt.Errorf("flush producers: %w", err)
	}
	s.meta.close()
	s.reader.Close(time.Until(deadlineOf(ctx)))
	return nil
}

// sweepMembers closes idle stream group members until shutdown.
func (s *Server) sweepMembers(idle time.Duration) {
	t := time.NewTicker(max(idle/2, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if n := s.groups.Sweep(idle); n > 0 {
				s.log.Debug().Int("members", n).Msg("closed idle stream group members")
			}
		}
	}
}

// deadlineOf is ctx's deadline, or a second from now without one.
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Second)
}

// Ready reports whether Kafka answers a metadata request (for /readyz).
func (s *Server) Ready() error { return s.meta.ping() }

// waitCtx waits for wg or ctx, whichever comes first.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
