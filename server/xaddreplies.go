package server

import (
	"errors"
	"strings"
	"syscall"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/tidwall/redcon"
	"golang.org/x/sys/unix"

	"rafka/producer"
	"rafka/streams"
)

// A connection's XADD replies wait for Kafka's acks, but its next batch
// need not: while the socket already holds more of the client's pipeline,
// a batch's replies are queued and the next batch is read and produced,
// so the batches of one pipelined round (one socket read each) wait
// together instead of one after another.
//
// While replies are queued nothing else is written to the connection
// before them. Every XADD reply, an error or a null included, goes through
// the batch's items. They are written, oldest first:
//   - before any command other than an XADD the dispatcher would run
//     (handle, by continuesXAdds),
//   - when a batch is not followed by more of the client's bytes, or the
//     queue is full (xaddBatch),
//   - and in the connection's Read, before it would wait for the client
//     and before it returns an error or refuses a request over a limit
//     (netConn.Read, through queuedReplies).
//
// The request scanner refuses every protocol error the parser would raise
// (FuzzRequestScanner), so redcon never answers one ahead of them.

// maxQueuedXAddItems bounds the XADDs whose replies one connection queues.
const maxQueuedXAddItems = 1024

// queuedXAdd is a produced batch whose replies are not written yet.
type queuedXAdd struct {
	items  []xaddItem
	sent   *producer.Sent         // nil when no item has a record
	placed []kafka.TopicPartition // written by the delivery reports
}

// queuedReplies is what a connection's Read writes before it waits for
// the client or ends: the replies queued while more of the client's
// pipeline was in the socket.
type queuedReplies interface {
	queued() bool
	writeQueued()
}

func (c *client) queued() bool { return len(c.xaddQueue) > 0 }

// writeQueued writes the queued replies from the connection's Read, where
// no handler runs: a panic is handled as a handler's would be.
func (c *client) writeQueued() {
	defer c.srv.recoverPanic(c, redcon.Command{Args: [][]byte{[]byte("xadd")}})
	c.srv.writeQueuedXAdds(c)
	c.flush()
}

// continuesXAdds reports whether a command adds to the XADD batches
// rather than having to follow their replies: an XADD the dispatcher
// would hand to cmdXAdd without a reply of its own.
func (s *Server) continuesXAdds(c *client, args [][]byte) bool {
	return len(args) >= 5 && strings.EqualFold(string(args[0]), "xadd") && c.multi == nil && s.authorized(c)
}

// queueXAdd queues a produced batch, and writes the queue once it is full.
func (s *Server) queueXAdd(c *client, q *queuedXAdd) {
	c.xaddQueue = append(c.xaddQueue, q)
	c.xaddQueued += len(q.items)
	if c.xaddQueued >= maxQueuedXAddItems {
		s.writeQueuedXAdds(c)
	}
}

// writeQueuedXAdds waits for the queued batches' deliveries and writes
// their replies, oldest first.
func (s *Server) writeQueuedXAdds(c *client) {
	// The queue is emptied first: a panic part-way (recoverPanic closes
	// the connection) must not leave batches to write again.
	queue := c.xaddQueue
	c.xaddQueue, c.xaddQueued = nil, 0
	for i, q := range queue {
		s.writeXAddReplies(c, q)
		queue[i] = nil
	}
	if cap(queue) <= maxKeptItems {
		c.xaddQueue = queue[:0]
	}
}

// writeXAddReplies waits for q's deliveries and writes each item's reply
// in order: its ID, its error, or null. It reports whether every report
// came (so that q.placed may be reused).
func (s *Server) writeXAddReplies(c *client, q *queuedXAdd) bool {
	var sendErr error
	delivered := q.sent == nil
	if q.sent != nil {
		// Only shutdown ends the wait (after deliveryGrace), not the
		// client going: a client that closed its side, or broke a limit
		// after its XADDs, still reads their replies, and an error for a
		// stored entry would have it written again. Deliveries end
		// within Kafka's delivery timeout.
		_, sendErr = q.sent.Wait(s.deliveries)
		delivered = q.sent.Finished()
	}
	var idBuf [41]byte // two uint64s and a dash
	failed := int64(0)
	for _, it := range q.items {
		switch {
		case it.err != nil:
			c.writeError(it.err)
			failed++
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
				failed++
				continue
			}
			c.conn.WriteBulk(streams.IDOf(tp.Partition, int64(tp.Offset)).Append(idBuf[:0]))
		}
	}
	if failed > 0 {
		if cmd := s.commands["xadd"]; cmd != nil {
			cmd.failed.Add(failed)
		}
	}
	return delivered
}

// readable reports whether the client's next command is already here: read
// by a watch, or in the socket. Only the start of an unfinished command
// was read: its rest has to be in the socket.
func (c *netConn) readable() bool {
	c.mu.Lock()
	whole := c.pendingEnd > 0
	c.mu.Unlock()
	if whole {
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
