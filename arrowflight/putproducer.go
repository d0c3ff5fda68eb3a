package arrowflight

import (
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
	closing sync.WaitGroup // replaced producers not yet closed
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
	if cur := pp.current; cur != nil {
		if err := cur.p.Fatal(); err != nil {
			pp.log(err)
			pp.current = nil
			pp.closing.Go(func() {
				cur.users.Wait()
				// librdkafka failed the queued messages already; the short
				// flush only lets their reports drain.
				cur.p.Close(time.Second)
			})
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

// close closes the current producer and waits for the replaced ones; no
// call may be using them.
func (pp *putProducer) close() {
	pp.mu.Lock()
	cur := pp.current
	pp.current = nil
	pp.mu.Unlock()
	if cur != nil {
		cur.p.Close(0)
	}
	pp.closing.Wait()
}
