package arrowflight

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/producer"
)

// putProducer is the producer DoPut calls share, created on first use and
// replaced once librdkafka puts it into a fatal state (with idempotence: an
// unrecoverable sequence error). A replaced producer is closed when the
// last call using it is done.
type putProducer struct {
	newProducer func() (*producer.Producer, error)
	log         func(err error)

	mu      sync.Mutex
	current *sharedProducer
	closed  bool           // after close, no producer is made
	closing sync.WaitGroup // retired producers not yet closed
}

// sharedProducer is one producer and the calls using it.
type sharedProducer struct {
	p     *producer.Producer
	users sync.WaitGroup
}

// acquire returns the producer to use and the function to call when done
// with it.
func (pp *putProducer) acquire() (*producer.Producer, func(), error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed {
		return nil, nil, status.Error(codes.Unavailable, "server shutting down")
	}
	if cur := pp.current; cur != nil {
		if err := cur.p.Fatal(); err != nil {
			pp.log(err)
			pp.retireLocked()
		}
	}
	if pp.current == nil {
		p, err := pp.newProducer()
		if err != nil {
			return nil, nil, status.Errorf(codes.Internal, "create producer: %v", err)
		}
		pp.current = &sharedProducer{p: p}
	}
	cur := pp.current
	cur.users.Add(1)
	return cur.p, cur.users.Done, nil
}

// retireLocked closes the current producer once its last user is done.
func (pp *putProducer) retireLocked() {
	cur := pp.current
	if cur == nil {
		return
	}
	pp.current = nil
	pp.closing.Go(func() {
		cur.users.Wait()
		// A fatal producer's queued messages failed already and a healthy
		// one has none (DoPut waits for its deliveries): the short flush
		// only lets the reports drain.
		cur.p.Close(time.Second)
	})
}

// close retires the current producer and waits until every producer is
// closed, or ctx ends (then a DoPut still running keeps its producer until
// the process exits). acquire fails from now on.
func (pp *putProducer) close(ctx context.Context) {
	pp.mu.Lock()
	pp.closed = true
	pp.retireLocked()
	pp.mu.Unlock()
	done := make(chan struct{})
	go func() {
		pp.closing.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
