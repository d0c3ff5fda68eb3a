package server

import (
	"context"
	"errors"
	"syscall"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"golang.org/x/sys/unix"

	"rafka/producer"
	"rafka/streams"
)

// A connection's XADD replies wait for Kafka's acks, but its next batch
// need not: while the socket already holds more of the client's pipeline,
// a batch's replies are queued and the next batch is read and produced,
// so the batches of one pipelined round (one socket read each, some 30
// XADDs) wait together instead of one after another. The queued replies
// are written, in order, before anything else is: before a command other
// than XADD runs, before the connection's read would wait for the client,
// and when the queue is full.

// maxQueuedXAdds bounds the batches whose replies a connection queues (the
// producer's outstanding limits bound their messages too).
const maxQueuedXAdds = 16

// queuedXAdd is a produced batch whose replies are not written yet.
type queuedXAdd struct {
	items  []xaddItem
	sent   *producer.Sent         // nil when no item has a record
	placed []kafka.TopicPartition // written by the delivery reports
}

// queueXAdd queues q's replies, or writes them and every queued batch's
// when the client's next bytes are not there yet (it waits for them) or
// the queue is full.
func (s *Server) queueXAdd(c *client, q *queuedXAdd) {
	c.xaddQueue = append(c.xaddQueue, q)
	if c.nc != nil && len(c.xaddQueue) < maxQueuedXAdds && c.nc.readable() {
		return
	}
	s.writeQueuedXAdds(c)
}

// writeQueuedXAdds waits for the queued batches' deliveries, oldest first,
// and writes their replies.
func (s *Server) writeQueuedXAdds(c *client) {
	queue := c.xaddQueue
	c.xaddQueue = nil
	for i, q := range queue {
		s.writeXAddReplies(c, q)
		queue[i] = nil
	}
}

// writeXAddReplies waits for q's deliveries and writes its replies.
func (s *Server) writeXAddReplies(c *client, q *queuedXAdd) {
	var sendErr error
	delivered := q.sent == nil // every report came: placed may be read
	if q.sent != nil {
		ctx, done := c.block(s.ctx)
		_, sendErr = q.sent.Wait(ctx)
		done()
		if !q.sent.Finished() && s.ctx.Err() != nil {
			// Shutdown ended the wait. The records are on their way (the
			// producer keeps sending, its last flush waits for them): a
			// moment more turns errors for stored entries into their IDs,
			// so that a client does not write them again.
			grace, cancel := context.WithTimeout(context.Background(), xaddShutdownGrace)
			_, sendErr = q.sent.Wait(grace)
			cancel()
		}
		delivered = q.sent.Finished()
	}
	var idBuf [41]byte // two uint64s and a dash
	for _, it := range q.items {
		switch {
		case it.err != nil:
			c.writeError(it.err)
		case it.null:
			c.writeNullBulk()
		default:
			var tp kafka.TopicPartition
			if delivered {
				tp = q.placed[it.rec]
			}
			if tp.Topic == nil { // not delivered
				err := sendErr
				if err == nil {
					err = errors.New("not delivered")
				}
				c.writeError(errProduce(err))
				continue
			}
			c.conn.WriteBulk(streams.IDOf(tp.Partition, int64(tp.Offset)).Append(idBuf[:0]))
		}
	}
}

// readable reports whether the client's next bytes are already here: read
// by a watch, or waiting in the socket.
func (c *netConn) readable() bool {
	c.mu.Lock()
	n := len(c.pending)
	c.mu.Unlock()
	if n > 0 {
		return true
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	avail := 0
	if cerr := rc.Control(func(fd uintptr) { avail, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); cerr != nil || err != nil {
		return false
	}
	return avail > 0
}
