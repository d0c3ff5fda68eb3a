package server

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"rafka/stats"
)

// redisCompatVersion is the Redis version rafka reports in INFO for clients
// that choose features by it.
const redisCompatVersion = "7.2.0"

// INFO [section ...]
func cmdInfo(s *Server, c *client, args [][]byte) error {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	section := func(name string, write func()) {
		if !all && !want[strings.ToLower(name)] {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "# %s\r\n", name)
		write()
	}
	port := 0
	if ta, ok := s.addr.(*net.TCPAddr); ok {
		port = ta.Port
	}
	section("Server", func() {
		fmt.Fprintf(&b, "redis_version:%s\r\n", redisCompatVersion)
		fmt.Fprintf(&b, "rafka_version:%s\r\n", s.cfg.Version)
		b.WriteString("redis_mode:standalone\r\n")
		fmt.Fprintf(&b, "os:%s %s\r\n", runtime.GOOS, runtime.GOARCH)
		fmt.Fprintf(&b, "process_id:%d\r\n", os.Getpid())
		fmt.Fprintf(&b, "tcp_port:%d\r\n", port)
		fmt.Fprintf(&b, "uptime_in_seconds:%d\r\n", int64(time.Since(s.started).Seconds()))
		fmt.Fprintf(&b, "uptime_in_days:%d\r\n", int64(time.Since(s.started).Hours()/24))
	})
	section("Clients", func() {
		fmt.Fprintf(&b, "connected_clients:%d\r\n", s.clients.count())
		fmt.Fprintf(&b, "maxclients:%d\r\n", s.cfg.Settings.MaxClients)
	})
	section("Persistence", func() {
		b.WriteString("loading:0\r\n")
	})
	section("Stats", func() {
		fmt.Fprintf(&b, "total_connections_received:%d\r\n", s.stats.Get(stats.ConnectionsTotal))
		fmt.Fprintf(&b, "total_commands_processed:%d\r\n", s.stats.Get(stats.Commands))
		fmt.Fprintf(&b, "rejected_connections:%d\r\n", s.stats.Get(stats.ConnectionsRejected))
		fmt.Fprintf(&b, "total_net_input_bytes:%d\r\n", s.stats.Get(stats.NetBytesIn))
		fmt.Fprintf(&b, "total_net_output_bytes:%d\r\n", s.stats.Get(stats.NetBytesOut))
	})
	c.conn.WriteBulkString(b.String())
	return nil
}

// COMMAND [COUNT | DOCS [name ...] | INFO [name ...]]: enough for redis-cli
// and client libraries to work; rafka's commands are described in the README.
func cmdCommand(s *Server, c *client, args [][]byte) error {
	if len(args) == 1 {
		names := s.commandNames()
		c.conn.WriteArray(len(names))
		for _, n := range names {
			s.writeCommandInfo(c, s.commands[n])
		}
		return nil
	}
	switch strings.ToLower(string(args[1])) {
	case "count":
		c.conn.WriteInt(len(s.commands))
	case "docs":
		c.writeMapHeader(0)
	case "info":
		names := args[2:]
		if len(names) == 0 {
			for _, n := range s.commandNames() {
				names = append(names, []byte(n))
			}
		}
		c.conn.WriteArray(len(names))
		for _, n := range names {
			if cmd := s.lookup(n); cmd != nil {
				s.writeCommandInfo(c, cmd)
			} else {
				c.writeNullArray()
			}
		}
	default:
		return errUnknownSubcommand(string(args[1]))
	}
	return nil
}

func (s *Server) commandNames() []string {
	names := make([]string, 0, len(s.commands))
	for n := range s.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// writeCommandInfo writes one COMMAND INFO entry in Redis 7's ten-field
// shape: name, arity, flags, first key, last key, step, ACL categories,
// tips, key specs, subcommands.
func (s *Server) writeCommandInfo(c *client, cmd *command) {
	arity := cmd.arity
	if arity == 0 {
		arity = -2
	}
	c.conn.WriteArray(10)
	c.conn.WriteBulkString(cmd.name)
	c.conn.WriteInt(arity)
	c.conn.WriteArray(0)
	c.conn.WriteInt(0)
	c.conn.WriteInt(0)
	c.conn.WriteInt(0)
	c.conn.WriteArray(0)
	c.conn.WriteArray(0)
	c.conn.WriteArray(0)
	c.conn.WriteArray(0)
}
