package server

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/config"
	"rafka/topicname"
)

// metadataTimeoutMs bounds one metadata request of KEYS.
const metadataTimeoutMs = 5000

// metadata is the server's shared metadata handle (KEYS, /readyz): one
// librdkafka admin client, made on first use. Calls hold mu shared, so a slow
// metadata request (seconds, when Kafka is unreachable) does not hold up
// another; close holds it exclusively, so the client is never used after it
// is closed.
type metadata struct {
	props config.Properties

	mu     sync.RWMutex
	admin  *kafka.AdminClient
	closed bool
}

func newMetadata(props config.Properties) *metadata { return &metadata{props: props} }

// errMetadataClosed is the answer to metadata calls during shutdown.
var errMetadataClosed = errors.New("metadata client closed")

// acquire returns the admin client, created on first use, and the release
// to call when done with it.
func (m *metadata) acquire() (*kafka.AdminClient, func(), error) {
	m.mu.RLock()
	if m.admin != nil {
		return m.admin, m.mu.RUnlock, nil
	}
	m.mu.RUnlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, nil, errMetadataClosed
	}
	if m.admin == nil {
		a, err := kafka.NewAdminClient(m.props.ConfigMap())
		if err != nil {
			m.mu.Unlock()
			return nil, nil, fmt.Errorf("create metadata client: %w", err)
		}
		m.admin = a
	}
	m.mu.Unlock()
	return m.acquireCreated()
}

// acquireCreated takes the client made by acquire (unless close came first).
func (m *metadata) acquireCreated() (*kafka.AdminClient, func(), error) {
	m.mu.RLock()
	if m.admin == nil {
		m.mu.RUnlock()
		return nil, nil, errMetadataClosed
	}
	return m.admin, m.mu.RUnlock, nil
}

// ping asks Kafka for its brokers (no topics).
func (m *metadata) ping() error {
	a, release, err := m.acquire()
	if err != nil {
		return err
	}
	defer release()
	if _, err := a.GetMetadata(nil, false, 2000); err != nil {
		return fmt.Errorf("get metadata: %w", err)
	}
	return nil
}

// topics returns the names of all non-internal topics.
func (m *metadata) topics() ([]string, error) {
	a, release, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	md, err := a.GetMetadata(nil, true, metadataTimeoutMs)
	if err != nil {
		return nil, fmt.Errorf("get metadata: %w", err)
	}
	names := make([]string, 0, len(md.Topics))
	for name, t := range md.Topics {
		if strings.HasPrefix(name, "__") || t.Error.Code() != kafka.ErrNoError {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// close closes the client once the calls using it are done; later calls
// fail with errMetadataClosed.
func (m *metadata) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.admin != nil {
		m.admin.Close()
		m.admin = nil
	}
}

// KEYS topics:[<glob>] lists the topics matching the glob (all when empty):
// `*`, `?`, `[...]` and `\` escapes, as in Redis. An ACL user gets only the
// topics it may produce to or consume from.
func cmdKeys(s *Server, c *client, args [][]byte) error {
	pattern, ok := bytes.CutPrefix(args[1], topicsPrefix)
	if !ok {
		return errExpectedTopics(string(args[1]))
	}
	if err := topicname.CheckGlob(string(pattern)); err != nil {
		return errf("%s", err)
	}
	names, err := s.meta.topics()
	if err != nil {
		return errf("%s", err)
	}
	glob := string(pattern)
	if glob == "" {
		glob = "*"
	}
	matched := names[:0]
	for _, n := range names {
		if ok, _ := path.Match(glob, n); !ok { // topic names have no '/'
			continue
		}
		// An ACL user sees only the topics it may use, as in ListFlights.
		if c.user != nil && !c.user.CanConsume(n) && !c.user.CanProduce(n) {
			continue
		}
		matched = append(matched, n)
	}
	c.conn.WriteArray(len(matched))
	for _, n := range matched {
		c.conn.WriteBulkString("topics:" + n)
	}
	return nil
}
