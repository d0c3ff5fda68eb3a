package server

import (
	"fmt"
	"runtime/debug"
	"strings"
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
}

// commandTable maps lower-case command names to their handlers.
func commandTable() map[string]*command {
	cmds := []*command{
		{"ping", -1, cmdPing},
		{"echo", 2, cmdEcho},
		{"quit", -1, cmdQuit},
		{"select", 2, cmdSelect},
		{"hello", -1, cmdHello},
		{"auth", -2, cmdAuth},
		{"info", -1, cmdInfo},
		{"command", -1, cmdCommand},
		{"client", -2, cmdClient},
		{"rpushx", 0, cmdRPushX},
		{"rpush", -3, cmdRPush},
		{"dump", 0, cmdDump},
		{"blpop", -3, cmdBLPop},
		{"arrow.blpop", -3, cmdArrowBLPop},
		{"keys", 2, cmdKeys},
		{"hgetall", 2, cmdHGetAll},
		{"del", -2, cmdDel},
		{"monitor", 1, cmdMonitor},
	}
	table := make(map[string]*command, len(cmds))
	for _, c := range cmds {
		table[c.name] = c
	}
	return table
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
	if s.monitors.active() {
		s.monitors.publish(c, cmd.Args)
	}
	command := s.lookup(cmd.Args[0])
	if command == nil {
		c.writeError(errUnknownCommand(string(cmd.Args[0]), cmd.Args[1:]))
		return
	}
	c.mu.Lock()
	c.lastCmd = command.name
	c.lastActive = time.Now()
	c.mu.Unlock()
	if a := command.arity; (a > 0 && len(cmd.Args) != a) || (a < 0 && len(cmd.Args) < -a) {
		c.writeError(errWrongArgs(command.name))
		return
	}
	var start time.Time
	if s.cfg.Metrics != nil {
		start = time.Now()
	}
	if err := command.handler(s, c, cmd.Args); err != nil {
		c.writeError(err)
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.ObserveCommand(command.name, time.Since(start))
	}
}

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
	c.writeError(errInternal)
	_ = c.conn.Close()
}
