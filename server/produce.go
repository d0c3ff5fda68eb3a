package server

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"time"

	"rafka/producer"
	"rafka/topicname"
)

var topicsPrefix = []byte("topics:")

// parseTopicKey splits `topics:<topic>[:<key>]`. The key is everything after
// the second ':' (so keys may contain ':'); `topics:<t>:` is an empty,
// non-null key. A nil key means no key. Both alias arg.
func parseTopicKey(arg []byte) (topic, key []byte, ok bool) {
	rest, found := bytes.CutPrefix(arg, topicsPrefix)
	if !found {
		return nil, nil, false
	}
	t, k, hasKey := bytes.Cut(rest, []byte{':'})
	if len(t) == 0 {
		return nil, nil, false
	}
	if hasKey {
		key = k[:len(k):len(k)] // empty but not nil for `topics:<t>:`
	}
	return t, key, true
}

// RPUSHX topics:<topic>[:<key>] <message> [<message> ...]
// Enqueues the messages; replies with how many were enqueued. A connection
// left with more outstanding messages than the limits is not read further
// until its deliveries catch up (backpressure, not errors).
func cmdRPushX(s *Server, c *client, args [][]byte) error {
	if len(args) < 3 {
		return errRPUSHXArgs(len(args) - 1)
	}
	a, topic, key, err := s.produceTarget(c, args[1], false)
	if err != nil {
		return err
	}
	values := args[2:]
	produced := false
	if a.Fits(values) {
		n, err := a.Produce(s.ctx, topic, key, values) // a full librdkafka queue is waited out, until shutdown
		if err != nil {
			return produceStopped(c, n, err)
		}
		c.conn.WriteInt(n)
		if !a.Saturated() {
			return nil
		}
		produced = true
	}
	// The connection is over its limits, or this command takes it there:
	// the replies so far go out, and it waits for deliveries (part-way
	// through the command, or before its next command is read) until the
	// client goes or the server closes the connection.
	ctx, done := c.block(context.Background())
	defer done()
	if !produced {
		n, err := a.Produce(ctx, topic, key, values)
		if err != nil {
			return produceStopped(c, n, err)
		}
		c.conn.WriteInt(n)
	}
	_ = a.Throttle(ctx)
	return nil
}

// produceStopped is the reply to a produce command that failed after n of
// its messages were enqueued.
func produceStopped(c *client, n int, err error) error {
	if n > 0 {
		c.log.Warn().Err(err).Int("enqueued", n).Msg("produce stopped part-way")
	}
	return errProduce(err)
}

// rpushTopics is `RPUSH topics:<topic>[:<key>] <message> [...]`, the durable
// produce: the reply comes once Kafka acknowledged every message.
func rpushTopics(s *Server, c *client, args [][]byte) error {
	a, topic, key, err := s.produceTarget(c, args[1], true)
	if err != nil {
		return err
	}
	// Only shutdown ends the wait (after deliveryGrace), not the client
	// going: a client that closed its side still reads the counts, and an
	// error for stored messages would have it send them again.
	c.flush() // the replies before it go out first
	n, err := a.ProduceAndWait(s.deliveries, topic, key, args[2:])
	if err != nil {
		return errProduce(err)
	}
	c.conn.WriteInt(n)
	return nil
}

// DUMP <timeoutMs>: wait for this connection's outstanding messages; reply
// with how many are still not delivered.
func cmdDump(s *Server, c *client, args [][]byte) error {
	if len(args) != 2 {
		return errDumpArgs(len(args) - 1)
	}
	ms, err := strconv.ParseInt(string(args[1]), 10, 64)
	if err != nil || ms < 0 {
		return errNaN
	}
	a := c.account
	if a == nil {
		c.conn.WriteInt(0)
		return nil
	}
	if a.Outstanding() > 0 {
		ctx, done := c.block(s.ctx)
		left := a.Wait(ctx, time.Duration(min(ms, math.MaxInt64/int64(time.Millisecond)))*time.Millisecond)
		done()
		c.conn.WriteInt64(left)
		return nil
	}
	c.conn.WriteInt(0)
	return nil
}

// checkTarget parses a `topics:<topic>[:<key>]` argument and checks the
// connection may produce there.
func checkTarget(c *client, arg []byte) (topic, key []byte, err error) {
	topic, key, ok := parseTopicKey(arg)
	if !ok {
		return nil, nil, errTopicKeyShape
	}
	if err := topicname.Check(string(topic)); err != nil {
		return nil, nil, errInvalidTopic(err)
	}
	if err := c.canProduce(topic); err != nil {
		return nil, nil, err
	}
	return topic, key, nil
}

// produceTarget parses a `topics:<topic>[:<key>]` argument, checks the
// connection may produce there and returns its account on the shared
// producer, made on first use (waiting: the command waits for its
// deliveries).
func (s *Server) produceTarget(c *client, arg []byte, waiting bool) (a *producer.Account, topic, key []byte, err error) {
	if topic, key, err = checkTarget(c, arg); err != nil {
		return nil, nil, nil, err
	}
	return s.accountOf(c, waiting), topic, key, nil
}

// accountOf is the connection's account on the shared producer, made on
// first use: a waiting one (producer.NewWaitingAccount) when the command
// making it waits for its deliveries.
func (s *Server) accountOf(c *client, waiting bool) *producer.Account {
	if c.account == nil {
		var a *producer.Account
		if waiting {
			a = s.cfg.Producer.NewWaitingAccount()
		} else {
			a = s.cfg.Producer.NewAccount()
		}
		c.mu.Lock() // CLIENT LIST of other connections reads it
		c.account = a
		c.mu.Unlock()
	}
	return c.account
}
