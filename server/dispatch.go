package server

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"rafka/stats"
)

// handlerFunc runs one command. It writes its reply itself, or returns an
// error that the dispatcher writes (one place writes errors).
type handlerFunc func(s *Server, c *client, args [][]byte) error

// command is one entry of the command table.
type command struct {
	name string
	// arity as Redis counts it (the command name included): n > 0 means
	// exactly n, n < 0 at least -n, 0 that the handler checks (because the
	// classic gateway's own error text is part of the contract).
	arity   int
	handler handlerFunc
	// noAuth commands run before AUTH when a password is required.
	noAuth bool
	// observe records a run's duration in the metrics; nil without them.
	observe func(time.Duration)
	// txn is what the command does between MULTI and EXEC.
	txn txnMode
	// INFO commandstats: runs, their time, the runs that replied with an
	// error and those refused before running (arity, authentication).
	calls, usec, failed, rejected atomic.Int64
}

// commandTable maps lower-case command names to their handlers.
func commandTable() map[string]*command {
	cmds := []*command{
		{name: "ping", arity: -1, handler: cmdPing, txn: txnQueued},
		{name: "echo", arity: 2, handler: cmdEcho, txn: txnQueued},
		{name: "quit", arity: -1, handler: cmdQuit, txn: txnControl},
		{name: "select", arity: 2, handler: cmdSelect, txn: txnQueued},
		{name: "hello", arity: -1, handler: cmdHello},
		{name: "auth", arity: -2, handler: cmdAuth},
		{name: "info", arity: -1, handler: cmdInfo, txn: txnQueued},
		{name: "command", arity: -1, handler: cmdCommand, txn: txnQueued},
		{name: "client", arity: -2, handler: cmdClient, txn: txnQueued},
		{name: "rpushx", arity: 0, handler: cmdRPushX, txn: txnProduce},
		{name: "rpush", arity: -3, handler: cmdRPush, txn: txnProduce},
		{name: "dump", arity: 0, handler: cmdDump},
		{name: "blpop", arity: -3, handler: cmdBLPop, txn: txnConsume},
		{name: "brpop", arity: -3, handler: cmdBLPop, txn: txnConsume},
		{name: "arrow.blpop", arity: -3, handler: cmdArrowBLPop, txn: txnConsume},
		{name: "keys", arity: 2, handler: cmdKeys, txn: txnQueued},
		{name: "dbsize", arity: 1, handler: cmdDBSize, txn: txnQueued},
		{name: "scan", arity: -2, handler: cmdScan, txn: txnQueued},
		{name: "type", arity: 2, handler: cmdType, txn: txnQueued},
		{name: "exists", arity: -2, handler: cmdExists, txn: txnQueued},
		{name: "llen", arity: 2, handler: cmdLLen, txn: txnQueued},
		{name: "memory", arity: -3, handler: cmdMemory, txn: txnQueued},
		{name: "hgetall", arity: 2, handler: cmdHGetAll, txn: txnQueued},
		{name: "del", arity: -2, handler: cmdDel, txn: txnQueued},
		{name: "monitor", arity: 1, handler: cmdMonitor},
		{name: "xadd", arity: -5, handler: cmdXAdd},
		{name: "xlen", arity: 2, handler: cmdXLen, txn: txnQueued},
		{name: "xrange", arity: -4, handler: cmdXRange, txn: txnQueued},
		{name: "xrevrange", arity: -4, handler: cmdXRevRange, txn: txnQueued},
		{name: "xread", arity: -4, handler: cmdXRead, txn: txnConsume},
		{name: "xgroup", arity: -2, handler: cmdXGroup},
		{name: "xreadgroup", arity: -7, handler: cmdXReadGroup, txn: txnConsume},
		{name: "xack", arity: -4, handler: cmdXAck, txn: txnConsume},
		{name: "xpending", arity: -3, handler: cmdXPending, txn: txnQueued},
		{name: "xclaim", arity: -6, handler: cmdXClaim, txn: txnQueued},
		{name: "xautoclaim", arity: -6, handler: cmdXAutoClaim, txn: txnQueued},
		{name: "xinfo", arity: -2, handler: cmdXInfo, txn: txnQueued},
		{name: "xdel", arity: -3, handler: cmdXDel},
		{name: "xtrim", arity: -4, handler: cmdXTrim},
		{name: "set", arity: -3, handler: cmdSet, txn: txnQueued},
		{name: "get", arity: 2, handler: cmdGet, txn: txnQueued},
		{name: "pttl", arity: 2, handler: cmdPTTL, txn: txnQueued},
		{name: "ttl", arity: 2, handler: cmdTTL, txn: txnQueued},
		{name: "eval", arity: -3, handler: cmdEval, txn: txnQueued},
		{name: "evalsha", arity: -3, handler: cmdEvalSHA, txn: txnQueued},
		{name: "script", arity: -2, handler: cmdScript, txn: txnQueued},
		{name: "multi", arity: 1, handler: cmdMulti, txn: txnControl},
		{name: "exec", arity: 1, handler: cmdExec, txn: txnControl},
		{name: "discard", arity: 1, handler: cmdDiscard, txn: txnControl},
		{name: "watch", arity: -2, handler: cmdWatch, txn: txnControl},
		{name: "unwatch", arity: 1, handler: cmdUnwatch, txn: txnControl},
	}
	table := make(map[string]*command, len(cmds))
	for _, c := range cmds {
		table[c.name] = c
	}
	for _, name := range []string{"auth", "hello", "ping", "quit"} {
		table[name].noAuth = true
	}
	return table
}

// authorized reports whether c may run commands: no password is required,
// or c authenticated.
func (s *Server) authorized(c *client) bool {
	return !s.authRequired() || c.authed.Load()
}

// authRequired reports whether clients must AUTH: a password or an ACL
// file is configured.
func (s *Server) authRequired() bool {
	return s.cfg.Settings.RequirePass != "" || s.cfg.ACL != nil
}

func (c *client) userName() string { return c.user.Name }

// owner is the name of c's ACL user, "" for the unrestricted user: whose
// share c's consumers, stream group members, consumer names and read
// turns count against.
func (c *client) owner() string {
	if c.user == nil {
		return ""
	}
	return c.user.Name
}

// canProduce checks c's ACL user's permission to produce to topic.
func (c *client) canProduce(topic []byte) error {
	if c.user != nil && !c.user.CanProduce(string(topic)) {
		return errNoPerm(c.userName(), "produce to topic", string(topic))
	}
	return nil
}

// canConsume checks c's ACL user's permission to join group and consume
// topics.
func (c *client) canConsume(group string, topics []string) error {
	if c.user == nil {
		return nil
	}
	if !c.user.CanJoin(group) {
		return errNoPerm(c.userName(), "join group", group)
	}
	for _, t := range topics {
		if !c.user.CanConsume(t) {
			return errNoPerm(c.userName(), "consume topic", t)
		}
	}
	return nil
}

// adminOnly refuses commands that see every client's data (MONITOR) or
// change server state (DEL stats) to ACL users.
func (c *client) adminOnly(command string) error {
	if c.user != nil {
		return errNoPerm(c.userName(), "run", command)
	}
	return nil
}

// lookup finds a command by name, case-insensitively, without allocating
// for names of ordinary length.
func (s *Server) lookup(name []byte) *command {
	var buf [32]byte
	if len(name) > len(buf) {
		return s.commands[strings.ToLower(string(name))]
	}
	lower := buf[:len(name)]
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		lower[i] = ch
	}
	return s.commands[string(lower)]
}

// handle is redcon's command callback: one command of one connection.
func (s *Server) handle(conn redcon.Conn, cmd redcon.Command) {
	c, ok := conn.Context().(*client)
	if !ok || len(cmd.Args) == 0 {
		return
	}
	defer s.recoverPanic(c, cmd)
	s.stats.Inc(stats.Commands)
	command := s.lookup(cmd.Args[0])
	if len(c.xaddQueue) > 0 && !s.continuesXAdds(c, cmd.Args) {
		s.writeQueuedXAdds(c) // the XADDs before it are answered first
	}
	// As in Redis, a command refused for want of AUTH is not shown: it is
	// anyone's bytes. What runs before AUTH (AUTH and HELLO, redacted; PING,
	// QUIT) is.
	if s.monitors.active() && (s.authorized(c) || command != nil && command.noAuth) {
		s.monitors.publish(c, redactSecrets(cmd.Args))
	}
	if command == nil {
		c.abortMulti()
		c.writeError(errUnknownCommand(string(cmd.Args[0]), cmd.Args[1:]))
		return
	}
	start := time.Now()
	c.mu.Lock()
	c.lastCmd = command.name
	c.lastActive = start
	c.mu.Unlock()
	if !command.noAuth && !s.authorized(c) {
		command.rejected.Add(1)
		c.abortMulti()
		c.writeError(errNoAuth)
		return
	}
	if a := command.arity; (a > 0 && len(cmd.Args) != a) || (a < 0 && len(cmd.Args) < -a) {
		command.rejected.Add(1)
		c.abortMulti()
		c.writeError(errWrongArgs(command.name))
		return
	}
	if c.multi != nil && command.txn != txnControl {
		s.queue(c, command, cmd.Args)
		return
	}
	err := command.handler(s, c, cmd.Args)
	if err != nil {
		command.failed.Add(1)
		c.writeError(err)
	}
	took := time.Since(start)
	command.calls.Add(1)
	command.usec.Add(took.Microseconds())
	if command.observe != nil {
		command.observe(took)
	}
}

// redactSecrets hides passwords from MONITOR: AUTH's arguments and those
// of HELLO's AUTH option.
func redactSecrets(args [][]byte) [][]byte {
	name := strings.ToLower(string(args[0]))
	if name != "auth" && name != "hello" {
		return args
	}
	out := append([][]byte(nil), args...)
	if name == "auth" {
		for i := 1; i < len(out); i++ {
			out[i] = redacted
		}
		return out
	}
	// HELLO: its options read as cmdHello reads them (a SETNAME value is
	// a name, even "auth"); whatever it could not read may be a secret.
	h := parseHello(args)
	for _, i := range h.secrets {
		out[i] = redacted
	}
	if h.err != nil {
		for i := h.errAt; i < len(out); i++ {
			out[i] = redacted
		}
	}
	return out
}

var redacted = []byte("(redacted)")

// recoverPanic keeps a bug in one command from taking the process down: it
// is logged and counted, the client gets an error and its connection ends.
func (s *Server) recoverPanic(c *client, cmd redcon.Command) {
	r := recover()
	if r == nil {
		return
	}
	s.stats.Inc(stats.ErrorsPanic)
	c.log.Error().Str("panic", fmt.Sprint(r)).Str("command", string(cmd.Args[0])).
		Bytes("stack", debug.Stack()).Msg("command handler panicked; closing the connection")
	s.writeQueuedAfterPanic(c) // the XADDs before it are answered first
	c.writeError(errInternal)
	_ = c.conn.Close()
}

// writeQueuedAfterPanic writes the connection's queued XADD replies after
// a handler panicked; if writing them panics too, they are given up.
func (s *Server) writeQueuedAfterPanic(c *client) {
	defer func() { _ = recover() }()
	s.writeQueuedXAdds(c)
}
