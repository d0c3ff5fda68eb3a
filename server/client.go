package server

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/tidwall/redcon"

	"rafka/acl"
	"rafka/arrowenc"
	"rafka/consumer"
	"rafka/producer"
)

// client is the state of one connection. Fields without a comment are set
// once in accept; mu guards the
// rest, which other goroutines (CLIENT LIST, shutdown, teardown) read.
type client struct {
	srv     *Server
	id      int64
	conn    redcon.Conn
	nc      *netConn
	addr    string
	created time.Time
	// log carries the connection's id, address and, once named, its name
	// and group; written under mu by the connection's goroutine.
	log   zerolog.Logger
	resp3 atomic.Bool // set by HELLO
	// authTimer closes the connection if it has not authenticated in time
	// (set in accept when authentication is required).
	authTimer *time.Timer
	authed    atomic.Bool // AUTH succeeded (matters with --requirepass or an ACL)
	user      *acl.User   // the ACL user, nil for the default user; connection goroutine only

	// account is the connection's messages on the shared producer, made by
	// its first produce command. Only the connection's goroutine sets it
	// (under mu, for CLIENT LIST); it reads it without.
	account *producer.Account
	// XADD's scratch (connection goroutine only): the last stream key's
	// topic, and the memory of a batch.
	lastXAddTopic *string
	xadd          xaddScratch
	// xaddQueue is the batches whose replies wait to be written, oldest
	// first, and xaddQueued their items (xaddreplies.go).
	xaddQueue  []*queuedXAdd
	xaddQueued int

	// Owned by the connection's goroutine: ARROW.BLPOP's reusable encoder
	// (for the columns in arrowCols) and reply buffer.
	arrowEnc  *arrowenc.Encoder
	arrowCols string
	arrowBuf  bytes.Buffer
	// lastBlock caches the parse of the last blocking consume's keys.
	lastBlock lastBlock
	// multi is the open MULTI's queue, nil outside one (used only by the
	// connection's own commands).
	multi *multiState
	// xread is where this connection's XREADs of each stream stopped.
	xread map[string]xreadPosition

	mu         sync.Mutex
	name       string // CLIENT SETNAME id, "" until set
	lastCmd    string
	lastActive time.Time
	consumer   *consumer.Consumer
	consumerID string // "<id>|<topics>", as the classic gateway names it
	// consumerOwner is the ACL user its consumer counts for ("": the
	// unrestricted user), given back when it is closed.
	consumerOwner string
	monitoring    bool // the connection is detached and serves MONITOR
	tornDown      bool
	aclUser       string // name of the ACL user, "" for the default user (user's copy for other goroutines)
}

// setUser makes u (nil for the default user) the connection's user; only
// the connection's goroutine calls it.
func (c *client) setUser(u *acl.User) {
	c.user = u
	c.mu.Lock()
	c.aclUser = ""
	if u != nil {
		c.aclUser = u.Name
	}
	c.mu.Unlock()
}

// visibleTo reports whether viewer may see c in CLIENT LIST: the default
// user sees every connection, an ACL user only its own user's.
func (c *client) visibleTo(viewer *client) bool {
	if viewer.user == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aclUser == viewer.user.Name
}

// getName returns the connection's id, or "" when none is set.
func (c *client) getName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// registry holds the live connections and the ids they own. Taking an id
// checks and takes it in one critical section.
type registry struct {
	mu      sync.Mutex
	clients map[*client]struct{}
	names   map[string]*client
}

func newRegistry() *registry {
	return &registry{clients: map[*client]struct{}{}, names: map[string]*client{}}
}

func (r *registry) add(c *client) {
	r.mu.Lock()
	r.clients[c] = struct{}{}
	r.mu.Unlock()
}

// remove drops c and releases its id.
func (r *registry) remove(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.clients, c)
	r.releaseLocked(c)
}

// release gives up c's id, so another connection can take it at once.
func (r *registry) release(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked(c)
}

func (r *registry) releaseLocked(c *client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.name != "" && r.names[c.name] == c {
		delete(r.names, c.name)
	}
	c.name = ""
}

// setName gives c the id name. The same name again is a no-op; a different
// name is refused once c owns a consumer; otherwise the old id is released.
func (r *registry) setName(c *client, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.name == name {
		return nil
	}
	if c.consumer != nil {
		return errIDAlreadySet(c.name)
	}
	if owner, ok := r.names[name]; ok && owner != c {
		return errIDTaken(name)
	}
	if c.name != "" && r.names[c.name] == c {
		delete(r.names, c.name)
	}
	r.names[name] = c
	c.name = name
	return nil
}

// clearName releases c's id, refused once c owns a consumer (whose group
// and member the id names).
func (r *registry) clearName(c *client) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.mu.Lock()
	owns, name := c.consumer != nil, c.name
	c.mu.Unlock()
	if owns {
		return errIDAlreadySet(name)
	}
	r.releaseLocked(c)
	return nil
}

// snapshot returns the live connections.
func (r *registry) snapshot() []*client {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*client, 0, len(r.clients))
	for c := range r.clients {
		out = append(out, c)
	}
	return out
}

func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.clients)
}
