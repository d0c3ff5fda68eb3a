package server

import (
	"math"
	"strconv"
	"strings"
	"time"

	"rafka/locks"
)

// Lock keys: SET, GET, PTTL and DEL of keys other than stats, and the
// redis-py Lock scripts (scripts.go), kept in this process by package
// locks, one namespace per ACL user. They are what clients take as locks
// (taskiq-redis's stream broker locks its XAUTOCLAIM this way); they are
// not topics and never reach Kafka.

var (
	errSetOption  = errf("syntax error: rafka's SET takes NX or XX, and EX, PX or KEEPTTL")
	errSetExpire  = errf("invalid expire time in 'set' command")
	errLockFull   = errf("%s", locks.ErrFull)
	errLockTooBig = errf("%s", locks.ErrTooLong)
	errSetStats   = errf("stats is the server's counters (HGETALL stats, DEL stats), not a lock key")
)

// lockSpace is c's namespace of lock keys: its ACL user's ("" for the
// default user, a name no ACL user has).
func (c *client) lockSpace() string {
	if c.user == nil {
		return ""
	}
	return "user:" + c.user.Name
}

// SET key value [NX|XX] [EX seconds|PX milliseconds|KEEPTTL]: +OK, or a
// null bulk when NX or XX did not hold. A time to live over locks.MaxTTL
// is that.
func cmdSet(s *Server, c *client, args [][]byte) error {
	if isStatsKey(args[1]) {
		return errSetStats
	}
	opt, err := parseSetOptions(args[3:])
	if err != nil {
		return err
	}
	ok, err := s.locks.Set(c.lockSpace(), string(args[1]), args[2], opt)
	switch {
	case err == locks.ErrFull:
		return errLockFull
	case err != nil:
		return errLockTooBig
	case ok:
		c.conn.WriteString("OK")
	default:
		c.writeNullBulk()
	}
	return nil
}

// parseSetOptions reads SET's options. As in Redis, an option may come
// again (the last EX or PX counts); NX with XX, and two of EX, PX and
// KEEPTTL, are refused.
func parseSetOptions(opts [][]byte) (locks.SetOptions, error) {
	var opt locks.SetOptions
	expiry := "" // EX, PX or KEEPTTL, once given
	for i := 0; i < len(opts); i++ {
		name := strings.ToUpper(string(opts[i]))
		switch name {
		case "NX", "XX":
			c := locks.IfAbsent
			if name == "XX" {
				c = locks.IfExisting
			}
			if opt.Condition != locks.Always && opt.Condition != c {
				return opt, errSyntax
			}
			opt.Condition = c
		case "KEEPTTL", "EX", "PX":
			if expiry != "" && expiry != name {
				return opt, errSyntax
			}
			expiry = name
			if name == "KEEPTTL" {
				opt.KeepTTL = true
				continue
			}
			if i+1 == len(opts) {
				return opt, errSyntax
			}
			i++
			n, err := strconv.ParseInt(string(opts[i]), 10, 64)
			if err != nil {
				return opt, errNotInteger
			}
			unit := time.Millisecond
			if name == "EX" {
				unit = time.Second
			}
			if n <= 0 || n > math.MaxInt64/int64(unit) {
				return opt, errSetExpire
			}
			opt.TTL = time.Duration(n) * unit
		default:
			return opt, errSetOption
		}
	}
	return opt, nil
}

// GET key: a lock key's value, or a null bulk.
func cmdGet(s *Server, c *client, args [][]byte) error {
	v, ok := s.locks.Get(c.lockSpace(), string(args[1]))
	if !ok {
		c.writeNullBulk()
		return nil
	}
	c.conn.WriteBulk(v)
	return nil
}

// PTTL key: a lock key's milliseconds to live, -1 for none, -2 for no key.
func cmdPTTL(s *Server, c *client, args [][]byte) error {
	c.conn.WriteInt64(s.locks.PTTL(c.lockSpace(), string(args[1])))
	return nil
}

// TTL key: PTTL in seconds, rounded as Redis rounds it.
func cmdTTL(s *Server, c *client, args [][]byte) error {
	ms := s.locks.PTTL(c.lockSpace(), string(args[1]))
	if ms >= 0 {
		ms = (ms + 500) / 1000
	}
	c.conn.WriteInt64(ms)
	return nil
}

// delLocks is DEL of keys none of which is stats: how many lock keys it
// removed.
func delLocks(s *Server, c *client, keys [][]byte) {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = string(k)
	}
	c.conn.WriteInt(s.locks.Del(c.lockSpace(), names...))
}
