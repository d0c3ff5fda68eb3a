package server

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"time"

	"rafka/acl"
	"rafka/authlimit"
	"rafka/clientname"
)

// PING [message]
func cmdPing(s *Server, c *client, args [][]byte) error {
	switch len(args) {
	case 1:
		c.conn.WriteString("PONG")
	case 2:
		c.conn.WriteBulk(args[1])
	default:
		return errWrongArgs("ping")
	}
	return nil
}

// ECHO message
func cmdEcho(s *Server, c *client, args [][]byte) error {
	c.conn.WriteBulk(args[1])
	return nil
}

// QUIT: the id is released before +OK is written, so the client can
// reconnect with the same name the moment it reads the reply; the
// connection's outstanding messages get up to the close timeout before the
// socket is closed.
func cmdQuit(s *Server, c *client, args [][]byte) error {
	s.clients.release(c)
	c.conn.WriteString("OK")
	c.flush()
	if c.account != nil {
		// Within the close timeout, or until shutdown starts (the shared
		// producer's last flush then delivers what is left).
		c.account.Close(s.ctx, time.Duration(s.cfg.Settings.ProducerCloseTimeout))
	}
	return c.conn.Close()
}

// SELECT index: only database 0 exists.
func cmdSelect(s *Server, c *client, args [][]byte) error {
	if string(args[1]) != "0" {
		return errDBIndex
	}
	c.conn.WriteString("OK")
	return nil
}

// AUTH [username] password. The default user has the --requirepass
// password; other users come from the ACL file. Without either, like Redis
// without a password, AUTH password is an error and AUTH default <anything>
// succeeds.
func cmdAuth(s *Server, c *client, args [][]byte) error {
	if err := s.authenticate(c, args[1:]); err != nil {
		return err
	}
	c.conn.WriteString("OK")
	return nil
}

// authenticate checks AUTH's arguments ([username] password) and, on
// success, marks c authenticated as that user. An address that has spent
// its allowance of wrong passwords is refused without a check until it has
// allowance again: a client cannot try passwords faster than the limiter
// allows, however many connections it opens, and a right guess among
// parallel ones is answered no sooner than the wrong ones.
func (s *Server) authenticate(c *client, creds [][]byte) error {
	attempt, ok, retry := s.logins.Begin(authlimit.Host(c.addr))
	if !ok {
		return errTooManyLogins(retry)
	}
	err := s.checkCredentials(c, creds)
	if err == errWrongPass {
		attempt.Failed()
	} else {
		attempt.Succeeded()
	}
	return err
}

// checkCredentials is authenticate without the delay.
func (s *Server) checkCredentials(c *client, creds [][]byte) error {
	pass := s.cfg.Settings.RequirePass
	var user, password []byte
	switch len(creds) {
	case 1:
		if pass == "" && s.cfg.ACL == nil {
			return errNoPassword
		}
		user, password = []byte(acl.DefaultUser), creds[0]
	case 2:
		user, password = creds[0], creds[1]
	default:
		return errSyntax
	}
	if string(user) != acl.DefaultUser {
		if s.cfg.ACL == nil {
			return errWrongPass
		}
		u := s.cfg.ACL.Authenticate(string(user), password)
		if u == nil {
			return errWrongPass
		}
		c.setUser(u)
		c.authed.Store(true)
		return nil
	}
	switch {
	case pass != "" && subtle.ConstantTimeCompare(password, []byte(pass)) != 1:
		return errWrongPass
	case pass == "" && s.cfg.ACL != nil: // only ACL users exist
		return errWrongPass
	}
	c.setUser(nil)
	c.authed.Store(true)
	return nil
}

// helloArgs are HELLO's arguments as cmdHello reads them.
type helloArgs struct {
	proto   int      // 0: not given
	auth    [][]byte // the last AUTH's username and password, nil without
	name    []byte   // SETNAME's, nil without
	secrets []int    // the indexes of every AUTH's username and password
	err     error    // the first argument it cannot read (at errAt) fails HELLO
	errAt   int
}

// parseHello reads HELLO [protover [AUTH username password] [SETNAME
// clientname]], for cmdHello and for MONITOR's redaction alike.
func parseHello(args [][]byte) (h helloArgs) {
	if len(args) > 1 {
		v, err := strconv.Atoi(string(args[1]))
		switch {
		case err != nil:
			h.err, h.errAt = errf("Protocol version is not an integer or out of range"), 1
			return h
		case v != 2 && v != 3:
			h.err, h.errAt = errNoProto, 1
			return h
		}
		h.proto = v
	}
	for i := 2; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "auth":
			if i+2 >= len(args) {
				h.err, h.errAt = errSyntax, i
				return h
			}
			h.auth, h.secrets = args[i+1:i+3], append(h.secrets, i+1, i+2)
			i += 2
		case "setname":
			if i+1 >= len(args) {
				h.err, h.errAt = errSyntax, i
				return h
			}
			h.name = args[i+1]
			i++
		default:
			h.err, h.errAt = errSyntax, i
			return h
		}
	}
	return h
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
func cmdHello(s *Server, c *client, args [][]byte) error {
	h := parseHello(args)
	if h.err != nil {
		return h.err
	}
	proto := h.proto
	if proto == 0 {
		proto = 2
		if c.resp3.Load() {
			proto = 3
		}
	}
	name, auth := h.name, h.auth
	// As in Redis, a name that cannot be one fails HELLO before AUTH runs:
	// the connection is not left authenticated by a HELLO that failed.
	if len(name) > 0 {
		if err := checkID(string(name)); err != nil {
			return err
		}
	}
	user, authed := c.user, c.authed.Load()
	if auth != nil {
		if err := s.authenticate(c, auth); err != nil {
			return err
		}
	}
	if !s.authorized(c) {
		return errHelloNoAuth
	}
	if name != nil {
		if err := s.setName(c, string(name)); err != nil {
			// HELLO failed: the connection is who it was before it.
			c.setUser(user)
			c.authed.Store(authed)
			return err
		}
	}
	c.resp3.Store(proto == 3)
	c.writeMapHeader(7)
	c.conn.WriteBulkString("server")
	c.conn.WriteBulkString("rafka")
	c.conn.WriteBulkString("version")
	c.conn.WriteBulkString(s.cfg.Version)
	c.conn.WriteBulkString("proto")
	c.conn.WriteInt(proto)
	c.conn.WriteBulkString("id")
	c.conn.WriteInt64(c.id)
	c.conn.WriteBulkString("mode")
	c.conn.WriteBulkString("standalone")
	c.conn.WriteBulkString("role")
	c.conn.WriteBulkString("master")
	c.conn.WriteBulkString("modules")
	c.conn.WriteArray(0)
	return nil
}

// CLIENT SETNAME|GETNAME|ID|SETINFO|LIST|INFO ...
func cmdClient(s *Server, c *client, args [][]byte) error {
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "setname":
		if len(args) != 3 {
			return errWrongArgs("client|setname")
		}
		if err := s.setName(c, string(args[2])); err != nil {
			return err
		}
		c.conn.WriteString("OK")
	case "getname":
		if name := c.getName(); name != "" {
			c.conn.WriteBulkString(name)
		} else {
			c.writeNullBulk()
		}
	case "id":
		c.conn.WriteInt64(c.id)
	case "setinfo":
		if len(args) != 4 {
			return errWrongArgs("client|setinfo")
		}
		c.conn.WriteString("OK")
	case "list":
		var b strings.Builder
		for _, other := range s.clients.snapshot() {
			if !other.visibleTo(c) {
				continue
			}
			b.WriteString(other.info())
			b.WriteByte('\n')
		}
		c.conn.WriteBulkString(b.String())
	case "info":
		c.conn.WriteBulkString(c.info() + "\n")
	default:
		return errUnknownSubcommand(string(args[1]))
	}
	return nil
}

// checkID checks a `<group>:<name>` id. It reaches Kafka (group.id,
// client.id), ACL patterns and CLIENT LIST: printable, bounded, without
// spaces, NUL or line breaks.
func checkID(name string) error {
	group, _, ok := strings.Cut(name, ":")
	if !ok || group == "" {
		return errParseGroup
	}
	if err := clientname.Check(name); err != nil {
		return errf("%s", err)
	}
	if err := clientname.CheckGroup(group); err != nil {
		return consErr("Cannot parse group.id: %s", err)
	}
	return nil
}

// setName validates and takes a `<group>:<name>` id for c; an empty name
// clears c's id, as Redis clears a name, unless it owns a consumer.
func (s *Server) setName(c *client, name string) error {
	if name == "" {
		if err := s.clients.clearName(c); err != nil {
			return err
		}
		c.mu.Lock()
		c.log = c.srv.log.With().Int64("conn", c.id).Str("addr", c.addr).Logger()
		c.mu.Unlock()
		return nil
	}
	if err := checkID(name); err != nil {
		return err
	}
	// Names live in one table: an ACL user may hold only names of groups
	// it may join, so it can neither squat another tenant's names nor learn
	// which of them are in use.
	if group, _, _ := strings.Cut(name, ":"); c.user != nil && !c.user.CanJoin(group) {
		return errNoPerm(c.userName(), "join group", group)
	}
	if err := s.clients.setName(c, name); err != nil {
		return err
	}
	group, member, _ := strings.Cut(name, ":")
	c.mu.Lock()
	// Every later log line of this connection carries its id.
	c.log = c.srv.log.With().Int64("conn", c.id).Str("addr", c.addr).
		Str("name", name).Str("group", group).Str("member", member).Logger()
	c.mu.Unlock()
	c.log.Debug().Msg("name set")
	return nil
}

// info is the connection's CLIENT LIST line.
func (c *client) info() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	laddr := ""
	if c.nc != nil {
		laddr = c.nc.LocalAddr().String()
	}
	flags := "N"
	if c.monitoring {
		flags = "O"
	}
	cmd := c.lastCmd
	if cmd == "" {
		cmd = "NULL"
	}
	var outstanding, failed int64
	if c.account != nil {
		outstanding, failed = c.account.Outstanding(), c.account.Failed()
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s name=%s age=%d idle=%d flags=%s db=0 cmd=%s resp=%d prod-outstanding=%d prod-failed=%d",
		c.id, c.addr, laddr, c.name, int(now.Sub(c.created).Seconds()),
		int(now.Sub(c.lastActive).Seconds()), flags, cmd, map[bool]int{false: 2, true: 3}[c.resp3.Load()],
		outstanding, failed)
}
