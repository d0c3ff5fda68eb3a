package server

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/config"
	"rafka/topic"
)

// metadataTimeoutMs bounds one metadata request of KEYS.
const metadataTimeoutMs = 5000

// metadata is the server's shared metadata handle (an admin client, never a
// producer), created on first use.
type metadata struct {
	props config.Properties

	mu    sync.Mutex
	admin *kafka.AdminClient
}

func newMetadata(props config.Properties) *metadata { return &metadata{props: props} }

// clientLocked returns the admin client, created on first use; m.mu is held.
func (m *metadata) clientLocked() (*kafka.AdminClient, error) {
	if m.admin == nil {
		a, err := kafka.NewAdminClient(m.props.ConfigMap())
		if err != nil {
			return nil, fmt.Errorf("create metadata client: %w", err)
		}
		m.admin = a
	}
	return m.admin, nil
}

// ping asks Kafka for its brokers (no topics).
func (m *metadata) ping() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.clientLocked()
	if err != nil {
		return err
	}
	if _, err := a.GetMetadata(nil, false, 2000); err != nil {
		return fmt.Errorf("get metadata: %w", err)
	}
	return nil
}

// topics returns the names of all non-internal topics.
func (m *metadata) topics() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.clientLocked()
	if err != nil {
		return nil, err
	}
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

func (m *metadata) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
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
	if err := topic.CheckGlob(string(pattern)); err != nil {
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
