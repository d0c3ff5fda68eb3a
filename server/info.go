package server

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"rafka/stats"
)

// redisCompatVersion is the Redis version rafka reports in INFO for clients
// that choose features by it.
const redisCompatVersion = "7.2.0"

// INFO [section ...]: the sections Redis 7 has that mean something here,
// under its names and with the fields tools read. With no argument (or
// default) the default sections; all and everything add commandstats.
func cmdInfo(s *Server, c *client, args [][]byte) error {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	everything := want["all"] || want["everything"]
	defaults := len(want) == 0 || want["default"] || everything
	var b strings.Builder
	for _, sec := range s.infoSections() {
		if !want[strings.ToLower(sec.name)] && !(sec.byDefault && defaults) && !everything {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "# %s\r\n", sec.name)
		sec.write(c, &b)
	}
	c.conn.WriteBulkString(b.String())
	return nil
}

// infoSection is one section of INFO.
type infoSection struct {
	name      string
	byDefault bool // in INFO without arguments
	write     func(c *client, b *strings.Builder)
}

func (s *Server) infoSections() []infoSection {
	return []infoSection{
		{"Server", true, s.infoServer},
		{"Clients", true, s.infoClients},
		{"Memory", true, s.infoMemory},
		{"Persistence", true, func(_ *client, b *strings.Builder) {
			b.WriteString("loading:0\r\nrdb_bgsave_in_progress:0\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n")
		}},
		{"Stats", true, s.infoStats},
		{"Replication", true, func(_ *client, b *strings.Builder) {
			b.WriteString("role:master\r\nconnected_slaves:0\r\n")
		}},
		{"CPU", true, infoCPU},
		{"Commandstats", false, s.infoCommandstats},
		{"Keyspace", true, s.infoKeyspace},
	}
}

func (s *Server) infoServer(_ *client, b *strings.Builder) {
	port := 0
	if ta, ok := s.Addr().(*net.TCPAddr); ok {
		port = ta.Port
	}
	fmt.Fprintf(b, "redis_version:%s\r\n", redisCompatVersion)
	fmt.Fprintf(b, "rafka_version:%s\r\n", s.cfg.Version)
	b.WriteString("redis_mode:standalone\r\n")
	fmt.Fprintf(b, "os:%s %s\r\n", runtime.GOOS, runtime.GOARCH)
	b.WriteString("arch_bits:64\r\n")
	fmt.Fprintf(b, "process_id:%d\r\n", os.Getpid())
	fmt.Fprintf(b, "tcp_port:%d\r\n", port)
	fmt.Fprintf(b, "uptime_in_seconds:%d\r\n", int64(time.Since(s.started).Seconds()))
	fmt.Fprintf(b, "uptime_in_days:%d\r\n", int64(time.Since(s.started).Hours()/24))
}

func (s *Server) infoClients(_ *client, b *strings.Builder) {
	fmt.Fprintf(b, "connected_clients:%d\r\n", s.clients.count())
	fmt.Fprintf(b, "maxclients:%d\r\n", s.cfg.Settings.MaxClients)
	fmt.Fprintf(b, "blocked_clients:%d\r\n", s.blocked.Load())
}

// infoMemory reports the process's resident memory as used_memory: most of
// rafka's memory is librdkafka's (C), which Go's own figures do not see.
func (s *Server) infoMemory(_ *client, b *strings.Builder) {
	rss, peak := processMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if rss == 0 {
		rss = int64(ms.Sys)
	}
	fmt.Fprintf(b, "used_memory:%d\r\n", rss)
	fmt.Fprintf(b, "used_memory_human:%s\r\n", humanBytes(rss))
	fmt.Fprintf(b, "used_memory_rss:%d\r\n", rss)
	fmt.Fprintf(b, "used_memory_rss_human:%s\r\n", humanBytes(rss))
	fmt.Fprintf(b, "used_memory_peak:%d\r\n", max(peak, rss))
	fmt.Fprintf(b, "used_memory_peak_human:%s\r\n", humanBytes(max(peak, rss)))
	fmt.Fprintf(b, "go_heap_inuse:%d\r\n", ms.HeapInuse)
	b.WriteString("maxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n")
}

func (s *Server) infoStats(_ *client, b *strings.Builder) {
	ops, in, out := s.rates.current()
	fmt.Fprintf(b, "total_connections_received:%d\r\n", s.stats.Get(stats.ConnectionsTotal))
	fmt.Fprintf(b, "total_commands_processed:%d\r\n", s.stats.Get(stats.Commands))
	fmt.Fprintf(b, "instantaneous_ops_per_sec:%d\r\n", ops)
	fmt.Fprintf(b, "total_net_input_bytes:%d\r\n", s.stats.Get(stats.NetBytesIn))
	fmt.Fprintf(b, "total_net_output_bytes:%d\r\n", s.stats.Get(stats.NetBytesOut))
	fmt.Fprintf(b, "instantaneous_input_kbps:%.2f\r\n", in)
	fmt.Fprintf(b, "instantaneous_output_kbps:%.2f\r\n", out)
	fmt.Fprintf(b, "rejected_connections:%d\r\n", s.stats.Get(stats.ConnectionsRejected))
}

func infoCPU(_ *client, b *strings.Builder) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	fmt.Fprintf(b, "used_cpu_sys:%.6f\r\n", tv(ru.Stime))
	fmt.Fprintf(b, "used_cpu_user:%.6f\r\n", tv(ru.Utime))
}

func (s *Server) infoCommandstats(_ *client, b *strings.Builder) {
	for _, name := range s.commandNames() {
		cmd := s.commands[name]
		calls, usec := cmd.calls.Load(), cmd.usec.Load()
		if calls == 0 && cmd.rejected.Load() == 0 {
			continue
		}
		perCall := 0.0
		if calls > 0 {
			perCall = float64(usec) / float64(calls)
		}
		fmt.Fprintf(b, "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d\r\n",
			name, calls, usec, perCall, cmd.rejected.Load(), cmd.failed.Load())
	}
}

// infoKeyspace is db0 with the topics the connection may see as its keys
// (none of which expire), by the last topic list: INFO does not wait for
// Kafka, so the first INFO may have no line yet, as an empty Redis has.
func (s *Server) infoKeyspace(c *client, b *strings.Builder) {
	if n, ok := s.visibleTopicCount(c); ok && n > 0 {
		fmt.Fprintf(b, "db0:keys=%d,expires=0,avg_ttl=0\r\n", n)
	}
}

// humanBytes writes n as Redis's *_human fields do: 1023B, 1.50K, 2.00M.
func humanBytes(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%dB", n)
	case n < k*k:
		return fmt.Sprintf("%.2fK", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.2fM", float64(n)/(k*k))
	default:
		return fmt.Sprintf("%.2fG", float64(n)/(k*k*k))
	}
}

// processMemory reads the process's resident and peak resident memory
// (VmRSS, VmHWM) in bytes; zeros where /proc is not there.
func processMemory() (rss, peak int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return rss, peak
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
