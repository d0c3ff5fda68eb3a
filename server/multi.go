package server

import (
	"bytes"
	"context"
	"strings"
	"time"

	"rafka/producer"
	"rafka/stats"
)

// txnMode is what a command does between MULTI and EXEC. The zero value
// refuses it: only the commands listed in the table may be queued.
type txnMode uint8

const (
	txnRefused txnMode = iota // not allowed inside a transaction
	txnControl                // runs at once: MULTI, EXEC, DISCARD, WATCH, UNWATCH, QUIT
	txnQueued                 // queued, run by EXEC for its reply
	txnProduce                // queued, its messages produced in EXEC's Kafka transaction
	txnConsume                // refused: consuming does not belong to a Kafka transaction
)

// maxQueuedCommands bounds the commands one MULTI may queue (their bytes
// and messages are bounded by the outstanding limits), maxQueuedReads those
// of them that are not produce commands: EXEC runs each for its reply
// (KEYS asks Kafka, INFO reads the memory statistics), so a small request
// must not become thousands of them.
const (
	maxQueuedCommands = 10000
	maxQueuedReads    = 100
)

// What a queued command costs against the outstanding-bytes limit beyond
// its bytes: the copy's slice headers, so that many empty arguments are not
// free.
const (
	queuedArgCost     = 32
	queuedCommandCost = 64
)

// execTimeout bounds one EXEC's wait for a transactional producer and its
// commit (Kafka's own transaction.timeout.ms is 60 s by default): the two
// producers are shared, so no connection holds one for longer.
const execTimeout = 60 * time.Second

// multiState is a connection's open MULTI: the commands queued so far.
type multiState struct {
	queued   []queuedCommand
	reads    int   // queued commands that are not produce commands
	messages int64 // values of the queued produce commands
	bytes    int64 // what the queue holds (queuedArgCost and queuedCommandCost included)
	failed   bool  // a command was refused while queuing: EXEC aborts
}

// queuedCommand is one command waiting for EXEC, its arguments copied
// (redcon reuses its buffers once the handler returns).
type queuedCommand struct {
	cmd  *command
	args [][]byte
	// For a produce command: its topic, key (nil: none) and values.
	topic string
	key   []byte
}

// queue is dispatch inside MULTI for a command that is not a control one:
// queued (+QUEUED), or refused with an error that makes EXEC abort.
func (s *Server) queue(c *client, cmd *command, args [][]byte) {
	m := c.multi
	err := s.queueCommand(c, m, cmd, args)
	if err != nil {
		m.failed = true
		c.writeError(err)
		return
	}
	c.conn.WriteString("QUEUED")
}

func (s *Server) queueCommand(c *client, m *multiState, cmd *command, args [][]byte) error {
	switch cmd.txn {
	case txnRefused:
		return errNotInTxn
	case txnConsume:
		return errConsumeInTxn
	}
	size := int64(queuedCommandCost)
	for _, a := range args {
		size += int64(len(a)) + queuedArgCost
	}
	limits := s.cfg.Settings
	tooLarge := errTxnTooLarge(maxQueuedCommands, maxQueuedReads, limits.MaxOutstandingBytes, limits.MaxOutstandingMessages)
	if len(m.queued) >= maxQueuedCommands || m.bytes+size > limits.MaxOutstandingBytes ||
		(cmd.txn != txnProduce && m.reads >= maxQueuedReads) {
		return tooLarge
	}
	q := queuedCommand{cmd: cmd}
	if cmd.txn != txnProduce {
		m.reads++
	} else {
		topic, key, err := s.txnTarget(c, args)
		if err != nil {
			return err
		}
		values := int64(len(args) - 2)
		if m.messages+values > limits.MaxOutstandingMessages {
			return tooLarge
		}
		m.messages += values
		q.topic, q.key = topic, bytes.Clone(key) // nil stays nil: no key
	}
	q.args = make([][]byte, len(args))
	for i, a := range args {
		q.args[i] = bytes.Clone(a)
	}
	m.bytes += size
	m.queued = append(m.queued, q)
	return nil
}

// txnTarget checks a queued RPUSHX or RPUSH as its handler would, so that
// EXEC fails only for Kafka's reasons: RPUSH acks is consuming; the topic
// key, the topic name and the ACL user's permission are checked now.
func (s *Server) txnTarget(c *client, args [][]byte) (topic string, key []byte, err error) {
	isRPush := strings.EqualFold(string(args[0]), "rpush")
	if isRPush && strings.EqualFold(string(args[1]), "acks") {
		return "", nil, errConsumeInTxn
	}
	if !isRPush && len(args) < 3 {
		return "", nil, errRPUSHXArgs(len(args) - 1)
	}
	if isRPush && !bytes.HasPrefix(args[1], topicsPrefix) {
		return "", nil, errOnlyAcks
	}
	t, k, err := checkTarget(c, args[1])
	if err != nil {
		return "", nil, err
	}
	// A topic that does not exist would hold a shared transactional
	// producer until librdkafka gives up on it: refused now.
	if _, err := s.meta.partitions(string(t)); err != nil {
		return "", nil, prodErr("Local: Unknown topic")
	}
	return string(t), k, nil
}

// abortMulti marks an open MULTI failed: a command was refused before it
// could be queued (unknown, wrong arity, not authenticated).
func (c *client) abortMulti() {
	if c.multi != nil {
		c.multi.failed = true
	}
}

// MULTI: start queuing.
func cmdMulti(s *Server, c *client, args [][]byte) error {
	if c.multi != nil {
		return errNestedMulti
	}
	c.multi = &multiState{}
	c.conn.WriteString("OK")
	return nil
}

// DISCARD: drop the queued commands.
func cmdDiscard(s *Server, c *client, args [][]byte) error {
	if c.multi == nil {
		return errDiscardWithoutMulti
	}
	c.multi = nil
	c.conn.WriteString("OK")
	return nil
}

// WATCH is refused: a topic cannot be watched for changes the way a Redis
// key is, and EXEC's Kafka transaction needs no optimistic lock.
func cmdWatch(s *Server, c *client, args [][]byte) error {
	if c.multi != nil {
		return errWatchInMulti
	}
	return errWatchUnsupported
}

// UNWATCH: nothing is ever watched.
func cmdUnwatch(s *Server, c *client, args [][]byte) error {
	c.conn.WriteString("OK")
	return nil
}

// EXEC: the queued produce commands' messages go to Kafka in one
// transaction, all or none; once it commits, the array of every queued
// command's reply. A failed transaction is EXEC's error: none of its
// messages reaches a read_committed consumer, and no queued command ran.
func cmdExec(s *Server, c *client, args [][]byte) error {
	m := c.multi
	if m == nil {
		return errExecWithoutMulti
	}
	c.multi = nil
	if m.failed {
		return errExecAbort
	}
	var msgs []producer.Message
	for _, q := range m.queued {
		if q.cmd.txn != txnProduce {
			continue
		}
		for _, v := range q.args[2:] {
			msgs = append(msgs, producer.Message{Topic: q.topic, Key: q.key, Value: v})
		}
	}
	if len(msgs) > 0 {
		if s.cfg.Transactions == nil {
			return errNoTransactions
		}
		// The wait for a free producer ends when the client goes or the
		// server shuts down; a commit once begun runs to its outcome.
		ctx, cancel := context.WithTimeout(s.ctx, execTimeout)
		ctx, done := c.block(ctx)
		err := s.cfg.Transactions.Run(ctx, execTimeout, msgs)
		done()
		cancel()
		if err != nil {
			return prodErr("%s", err)
		}
		var n int64
		for _, msg := range msgs {
			n += int64(len(msg.Value))
		}
		s.stats.Add(stats.ProducerMessages, int64(len(msgs)))
		s.stats.Add(stats.ProducerBytes, n)
		s.stats.Add(stats.ProducerDelivered, int64(len(msgs)))
	}
	c.conn.WriteArray(len(m.queued))
	for _, q := range m.queued {
		if q.cmd.txn == txnProduce {
			c.conn.WriteInt(len(q.args) - 2)
			continue
		}
		if err := q.cmd.handler(s, c, q.args); err != nil {
			c.writeError(err)
		}
		// Each reply goes out before the next is made: EXEC's replies are
		// never held all at once.
		c.flush()
	}
	return nil
}
