package server

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/config"
	"rafka/consumer"
	"rafka/stats"
	"rafka/topicname"
)

// consumeKey is a parsed BLPOP key: the classic
// `topics:<t1>[,<t2>...][:<json>]`, or a topic name alone (a topic key),
// whose pops get Redis's own two-element reply.
type consumeKey struct {
	topics []string
	json   string // "" when absent
	plain  bool   // a topic key
}

// parseConsumeKey parses one BLPOP key.
func parseConsumeKey(arg []byte) (consumeKey, error) {
	rest, ok := bytes.CutPrefix(arg, topicsPrefix)
	if !ok {
		if topicname.Check(string(arg)) != nil {
			return consumeKey{}, errCannotParseTopics(string(arg))
		}
		return consumeKey{topics: []string{string(arg)}, plain: true}, nil
	}
	list, cfg, _ := bytes.Cut(rest, []byte{':'})
	var k consumeKey
	for _, t := range bytes.Split(list, []byte{','}) {
		// A name librdkafka would take as a regular expression ('^...')
		// or Kafka would refuse is not a topic.
		if topicname.Check(string(t)) != nil {
			return consumeKey{}, errCannotParseTopics(string(arg))
		}
		k.topics = append(k.topics, string(t))
	}
	k.json = string(cfg)
	return k, nil
}

// parseTimeout reads a BLPOP timeout in seconds: a plain decimal number
// (digits, an optional fraction and exponent; no sign, underscores, hex or
// words such as inf); 0 means no timeout. A positive timeout too small to
// count is one millisecond, never "forever".
func parseTimeout(arg []byte) (time.Duration, error) {
	if !isDecimal(arg) {
		return 0, errTimeout
	}
	f, err := strconv.ParseFloat(string(arg), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/float64(time.Second) {
		return 0, errTimeout
	}
	d := time.Duration(f * float64(time.Second))
	if d <= 0 && f > 0 {
		d = time.Millisecond
	}
	return d, nil
}

// isDecimal reports whether b is digits with an optional fraction and an
// optional exponent, with at least one digit before the exponent.
func isDecimal(b []byte) bool {
	i, digits := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		digits++
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(b)
}

// BLPOP topics:<t1>[,<t2>...][:<json>] [<more keys>...] <timeout>
// Replies with [topic, t, partition, p, offset, o, value, v], or a null
// array on timeout. With topic keys (BLPOP <topic> [<topic> ...] <timeout>)
// the reply is Redis's [<topic>:<partition>:<offset>, value], whose first
// element is the message's ack. BRPOP is the same command: a topic is
// FIFO per partition, there is no other end to pop from.
func cmdBLPop(s *Server, c *client, args [][]byte) error {
	req, err := parseBlock(c, args[1:len(args)-1], args[len(args)-1])
	if err != nil {
		return err
	}
	cons, err := s.consumerFor(c, req)
	if err != nil {
		return err
	}
	c.lastBlock.remember(req)
	s.stats.Inc(stats.BlpopCalls)
	m, timedOut, err := s.pop(c, cons, req.timeout)
	if timedOut {
		s.stats.Inc(stats.BlpopTimeouts)
		c.writeNullArray()
	}
	if m == nil {
		return err
	}
	if req.plain {
		writeKeyedMessage(c, m)
	} else {
		writeMessage(c, m)
	}
	return nil
}

// pop takes the next message of cons for a blocking consume: one already
// buffered, or else the first to arrive within timeout (none when 0). With
// no message, timedOut reports the timeout, whose null reply the caller
// writes, and err is the reply otherwise (nil when the client is gone).
func (s *Server) pop(c *client, cons *consumer.Consumer, timeout time.Duration) (m *kafka.Message, timedOut bool, err error) {
	m, err = cons.TryPop()
	if m == nil && err == nil {
		m, err = s.waitPop(c, cons, timeout)
	}
	if err != nil {
		timedOut, err = s.popError(err)
		return nil, timedOut, err
	}
	return m, false, nil
}

// waitPop waits for the next message of cons; the wait ends at the timeout,
// when the server shuts down or when the client goes away.
func (s *Server) waitPop(c *client, cons *consumer.Consumer, timeout time.Duration) (*kafka.Message, error) {
	s.blocked.Add(1)
	defer s.blocked.Add(-1)
	ctx, cancel := s.blockContext(timeout)
	defer cancel()
	ctx, done := c.block(ctx)
	defer done()
	return cons.Pop(ctx)
}

// blockContext is the context of a blocking consume: it ends at the timeout
// (none when 0) or when the server starts shutting down.
func (s *Server) blockContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout == 0 {
		return context.WithCancel(s.ctx)
	}
	return context.WithTimeout(s.ctx, timeout)
}

// popError turns the end of a blocking pop into its reply: a timeout is a
// null reply (which the caller writes), not an error.
func (s *Server) popError(err error) (timedOut bool, reply error) {
	var fatal *consumer.FatalError
	switch {
	case s.shuttingDown.Load() || errors.Is(err, consumer.ErrClosed):
		return false, errServerShutdown
	case errors.Is(err, context.DeadlineExceeded):
		return true, nil
	case errors.Is(err, context.Canceled):
		return false, nil // the client is gone; nothing to answer
	case errors.As(err, &fatal):
		return false, errPoll(fatal.Err)
	default:
		return false, errPoll(err)
	}
}

// writeMessage writes BLPOP's eight-element reply.
func writeMessage(c *client, m *kafka.Message) {
	c.conn.WriteArray(8)
	c.conn.WriteBulkString("topic")
	c.conn.WriteBulkString(*m.TopicPartition.Topic)
	c.conn.WriteBulkString("partition")
	c.conn.WriteInt64(int64(m.TopicPartition.Partition))
	c.conn.WriteBulkString("offset")
	c.conn.WriteInt64(int64(m.TopicPartition.Offset))
	c.conn.WriteBulkString("value")
	if m.Value == nil {
		c.writeNullBulk()
	} else {
		c.conn.WriteBulk(m.Value)
	}
}

// writeKeyedMessage writes the reply of a pop of topic keys: Redis's
// two elements, the key (`<topic>:<partition>:<offset>`, which is the
// message's ack) and the value (null bulk for a null Kafka value).
func writeKeyedMessage(c *client, m *kafka.Message) {
	c.conn.WriteArray(2)
	var buf [320]byte // a topic is at most 249 bytes
	key := append(buf[:0], *m.TopicPartition.Topic...)
	key = append(key, ':')
	key = strconv.AppendInt(key, int64(m.TopicPartition.Partition), 10)
	key = append(key, ':')
	key = strconv.AppendInt(key, int64(m.TopicPartition.Offset), 10)
	c.conn.WriteBulk(key)
	if m.Value == nil {
		c.writeNullBulk()
	} else {
		c.conn.WriteBulk(m.Value)
	}
}

// blockRequest is a parsed blocking consume: the connection's id, the
// timeout, the topic set and the optional JSON of the keys.
type blockRequest struct {
	name    string
	timeout time.Duration
	topics  []string
	json    string
	plain   bool   // topic keys: Redis-shaped replies
	consID  string // "<name>|<topics>", as the classic gateway names a consumer
	// keys are the command's keys when they were parsed now (not taken
	// from lastBlock): the caller caches them once the request succeeds.
	keys [][]byte
}

// lastBlock is the keys of a connection's last blocking consume and what
// they parsed to: a worker loop sends the same keys every time, so they
// are parsed once.
type lastBlock struct {
	keys [][]byte
	req  blockRequest // without the timeout
}

// What a connection caches for lastBlock is bounded: the keys' bytes, how
// many keys and how many topics they name.
const (
	maxCachedKeyBytes = 4 << 10
	maxCachedKeys     = 16
	maxCachedTopics   = 64
)

// remember caches the keys of req, a request that succeeded (so that a
// refused one holds no memory), if they are small; a request that came
// from the cache (no keys) leaves it as it is.
func (b *lastBlock) remember(req blockRequest) {
	keys := req.keys
	if keys == nil {
		return
	}
	size := 0
	for _, k := range keys {
		size += len(k)
	}
	if size > maxCachedKeyBytes || len(keys) > maxCachedKeys || len(req.topics) > maxCachedTopics {
		*b = lastBlock{}
		return
	}
	cached := make([][]byte, len(keys))
	for i, k := range keys {
		cached[i] = bytes.Clone(k)
	}
	req.timeout, req.keys = 0, nil
	req.topics = slices.Clip(req.topics) // an append by a user of the request copies
	*b = lastBlock{keys: cached, req: req}
}

// matches reports whether keys and name are those of the cached request.
func (b *lastBlock) matches(name string, keys [][]byte) bool {
	if b.req.name != name || len(b.keys) != len(keys) {
		return false
	}
	for i, k := range keys {
		if !bytes.Equal(b.keys[i], k) {
			return false
		}
	}
	return true
}

// parseBlock applies the rules shared by the blocking consume commands
// before anything is created: a name is required, the timeout must parse,
// the keys name the topics.
func parseBlock(c *client, keys [][]byte, timeoutArg []byte) (blockRequest, error) {
	req := blockRequest{name: c.getName()}
	if req.name == "" {
		return req, errNotReady
	}
	timeout, err := parseTimeout(timeoutArg)
	if err != nil {
		return req, err
	}
	if c.lastBlock.matches(req.name, keys) {
		req = c.lastBlock.req
		req.timeout = timeout
		return req, nil
	}
	req.timeout = timeout
	set := map[string]bool{}
	for i, arg := range keys {
		k, err := parseConsumeKey(arg)
		if err != nil {
			return req, err
		}
		if i == 0 {
			req.plain = k.plain
		} else if k.plain != req.plain {
			return req, errMixedKeys
		}
		for _, t := range k.topics {
			set[t] = true
		}
		if k.json != "" {
			req.json = k.json
		}
	}
	for t := range set {
		req.topics = append(req.topics, t)
	}
	sort.Strings(req.topics)
	req.consID = req.name + "|" + strings.Join(req.topics, ",")
	req.keys = keys
	return req, nil
}

// consumerFor returns the connection's one consumer, created on first use;
// a later request must name the same topic set.
func (s *Server) consumerFor(c *client, req blockRequest) (*consumer.Consumer, error) {
	group, _, _ := strings.Cut(req.name, ":")
	if err := c.canConsume(group, req.topics); err != nil {
		return nil, err
	}
	consID := req.consID
	if s.shuttingDown.Load() {
		return nil, errServerShutdown
	}
	c.mu.Lock()
	cons, cid := c.consumer, c.consumerID
	c.mu.Unlock()
	if cons != nil {
		if cid != consID {
			return nil, errConsumerRegistered(req.name, cid, consID)
		}
		return cons, nil
	}
	owner := c.owner()
	if err := s.consumers.take(owner, s.cfg.Settings.MaxConsumers); err != nil {
		return nil, err
	}
	kept := false
	defer func() {
		if !kept { // failed, or panicked: teardown will not give it back
			s.consumers.give(owner)
		}
	}()
	cons, err := s.newConsumer(c, req.name, req.topics, req.json)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if s.shuttingDown.Load() {
		c.mu.Unlock()
		_ = cons.Close()
		return nil, errServerShutdown
	}
	c.consumer, c.consumerID, c.consumerOwner = cons, consID, owner
	kept = true
	c.mu.Unlock()
	return cons, nil
}

// newConsumer creates a consumer for the id `<group>:<name>` with the
// server's consumer properties, the connection's JSON overrides and the
// settings the server enforces.
func (s *Server) newConsumer(c *client, id string, topics []string, jsonCfg string) (*consumer.Consumer, error) {
	props := s.cfg.Consumer.Clone()
	if jsonCfg != "" {
		overrides, err := config.ParseProperties([]byte(jsonCfg))
		if err != nil {
			return nil, errConfigParse(jsonCfg, err)
		}
		// Only an allow-list of properties, with bounded values: where the
		// consumer connects, its credentials, its group identity, what
		// librdkafka loads, logs or signals are the operator's.
		if err := config.CheckClientProperties(overrides, s.cfg.Consumer); err != nil {
			return nil, errConfigParse(jsonCfg, err)
		}
		for k, v := range overrides {
			props[k] = v
		}
	}
	group, _, _ := strings.Cut(id, ":")
	props["group.id"] = group
	props["client.id"] = memberName(id)
	config.ForceConsumerSettings(props)
	cons, err := consumer.New(consumer.Config{
		Properties: props,
		Topics:     topics,
		Stats:      s.stats,
		Log:        c.log.With().Str("role", "consumer").Logger(),
	})
	if err != nil {
		return nil, errConsumerCreate(err)
	}
	return cons, nil
}

// memberName is librdkafka's client.id for an id `<group>:<name>`: the name
// up to any further ':'.
func memberName(id string) string {
	_, member, _ := strings.Cut(id, ":")
	member, _, _ = strings.Cut(member, ":")
	return member
}

// block prepares the connection for a command that waits: the replies of
// commands pipelined before it are flushed, and the returned context ends
// when parent does or the client goes away. done must be called when the
// wait is over.
//
// The socket is watched only once the wait has lasted watchDelay: most
// waits (an XADD's delivery, a BLPOP with a message at hand) end sooner,
// and starting the watcher costs a goroutine and three system calls. A
// client that goes away is noticed watchDelay late at most.
func (c *client) block(parent context.Context) (context.Context, func()) {
	c.flush()
	ctx, cancel := context.WithCancel(parent)
	if c.nc == nil {
		return ctx, cancel
	}
	if c.nc.broken() {
		cancel() // a limit was broken or the peer went away: do not wait
		return ctx, cancel
	}
	var (
		mu    sync.Mutex
		ended bool
		stop  func()
	)
	start := time.AfterFunc(watchDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			stop = c.nc.watch(cancel)
		}
	})
	return ctx, func() {
		start.Stop()
		mu.Lock()
		ended = true
		stopWatch := stop
		mu.Unlock()
		if stopWatch != nil {
			stopWatch()
		}
		cancel()
	}
}

// watchDelay is how long a wait lasts before block watches the socket.
const watchDelay = 50 * time.Millisecond

// parseAck reads `<topic>:<partition>:<offset>`; the topic is everything
// before the last two fields.
func parseAck(v []byte) (topic string, partition int32, offset int64, ok bool) {
	s := string(v)
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(s[:i], ':')
	if j <= 0 {
		return "", 0, 0, false
	}
	p, err := strconv.ParseInt(s[j+1:i], 10, 32)
	if err != nil || p < 0 {
		return "", 0, 0, false
	}
	o, err := strconv.ParseInt(s[i+1:], 10, 64)
	// The stored offset is offset+1: the largest int64 has no successor.
	if err != nil || o < 0 || o == math.MaxInt64 {
		return "", 0, 0, false
	}
	return s[:j], int32(p), o, true
}

// RPUSH acks <topic>:<partition>:<offset> [...] marks messages processed;
// RPUSH topics:<topic>[:<key>] <message> [...] is the durable produce.
func cmdRPush(s *Server, c *client, args [][]byte) error {
	if bytes.HasPrefix(args[1], topicsPrefix) {
		return rpushTopics(s, c, args)
	}
	if !strings.EqualFold(string(args[1]), "acks") {
		return errOnlyAcks
	}
	acks := make([]consumer.Ack, 0, len(args)-2)
	for _, v := range args[2:] {
		t, p, o, ok := parseAck(v)
		if !ok {
			s.stats.Inc(stats.ConsumerAckErrors)
			return errCannotParseAck(string(v))
		}
		acks = append(acks, consumer.Ack{Topic: t, Partition: p, Offset: o})
	}
	c.mu.Lock()
	cons, name := c.consumer, c.name
	c.mu.Unlock()
	if cons == nil {
		return errNoConsumer(name)
	}
	errs := cons.AckAll(acks)
	var firstErr error
	n := 0
	for i, a := range acks {
		var err error
		if errs != nil {
			err = errs[i]
		}
		switch {
		case err == nil:
			n++
			continue
		case errors.Is(err, consumer.ErrNotAssigned):
			err = errNotAssigned(a.Topic, a.Partition)
		case errors.Is(err, consumer.ErrClosed):
			err = errServerShutdown
		default:
			err = consErr("%s", err)
		}
		s.stats.Inc(stats.ConsumerAckErrors)
		if firstErr == nil {
			firstErr = err
		}
	}
	s.stats.Add(stats.ConsumerAcks, int64(n))
	if firstErr != nil {
		return firstErr
	}
	c.conn.WriteInt(n)
	return nil
}
