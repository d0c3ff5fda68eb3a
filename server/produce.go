package server

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"rafka/producer"
	topicname "rafka/topic"
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
// Enqueues the messages; replies with how many were enqueued.
func cmdRPushX(s *Server, c *client, args [][]byte) error {
	if len(args) < 3 {
		return errRPUSHXArgs(len(args) - 1)
	}
	p, topic, key, err := s.produceTarget(c, args[1])
	if err != nil {
		return err
	}
	n, err := p.Produce(topic, key, args[2:])
	if err != nil {
		if n > 0 {
			c.log.Warn().Err(err).Int("enqueued", n).Msg("produce stopped part-way")
		}
		return errProduce(err)
	}
	c.conn.WriteInt(n)
	return nil
}

// rpushTopics is `RPUSH topics:<topic>[:<key>] <message> [...]`, the durable
// produce: the reply comes once Kafka acknowledged every message.
func rpushTopics(s *Server, c *client, args [][]byte) error {
	p, topic, key, err := s.produceTarget(c, args[1])
	if err != nil {
		return err
	}
	ctx, done := c.block(context.Background())
	defer done()
	n, err := p.ProduceAndWait(ctx, topic, key, args[2:])
	if err != nil {
		return errProduce(err)
	}
	c.conn.WriteInt(n)
	return nil
}

// DUMP <timeoutMs>: flush this connection's producer; reply with how many
// messages are still not delivered.
func cmdDump(s *Server, c *client, args [][]byte) error {
	if len(args) != 2 {
		return errDumpArgs(len(args) - 1)
	}
	ms, err := strconv.ParseInt(string(args[1]), 10, 64)
	if err != nil || ms < 0 {
		return errNaN
	}
	c.mu.Lock()
	p := c.producer
	c.mu.Unlock()
	if p == nil {
		c.conn.WriteInt(0)
		return nil
	}
	c.conn.WriteInt(p.Flush(time.Duration(ms) * time.Millisecond))
	return nil
}

// produceTarget parses a `topics:<topic>[:<key>]` argument, checks the
// connection may produce there and returns its producer.
func (s *Server) produceTarget(c *client, arg []byte) (p *producer.Producer, topic, key []byte, err error) {
	topic, key, ok := parseTopicKey(arg)
	if !ok {
		return nil, nil, nil, errTopicKeyShape
	}
	if err := topicname.Check(string(topic)); err != nil {
		return nil, nil, nil, errInvalidTopic(err)
	}
	if err := c.canProduce(topic); err != nil {
		return nil, nil, nil, err
	}
	if p, err = s.producerFor(c); err != nil {
		return nil, nil, nil, err
	}
	return p, topic, key, nil
}

// producerFor returns the connection's producer, creating it on first use
// and replacing one that has hit a fatal error (its undelivered messages
// already failed with that error and were counted). Once the connection is
// torn down, teardown owns the producer and no new one is made.
func (s *Server) producerFor(c *client) (*producer.Producer, error) {
	c.mu.Lock()
	p, closed := c.producer, c.tornDown
	if p != nil && !closed {
		fatal := p.Fatal()
		if fatal == nil {
			c.mu.Unlock()
			return p, nil
		}
		c.producer = nil
		c.mu.Unlock()
		c.log.Warn().Err(fatal).Msg("producer in a fatal state; replacing it")
		// librdkafka fails the queued messages at once; the short flush
		// only lets their reports drain.
		p.Close(time.Second)
	} else {
		c.mu.Unlock()
	}
	if closed {
		return nil, errSpawnProducer(errConnClosed)
	}
	props := s.cfg.Producer.Clone()
	if name := c.getName(); name != "" {
		props["client.id"] = memberName(name)
	} else if props["client.id"] == "" {
		props["client.id"] = "rafka"
	}
	p, err := producer.New(props, s.stats, c.log.With().Str("role", "producer").Logger())
	if err != nil {
		return nil, errSpawnProducer(err)
	}
	c.mu.Lock()
	if c.tornDown {
		c.mu.Unlock()
		p.Close(0)
		return nil, errSpawnProducer(errConnClosed)
	}
	c.producer = p
	c.mu.Unlock()
	return p, nil
}

// errConnClosed is why no producer is made for a connection being closed.
var errConnClosed = errors.New("connection closed")
