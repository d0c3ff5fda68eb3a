package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

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

	// The topic list is kept for a moment: a tool walking the keyspace
	// (TYPE and LLEN per key) or polling INFO asks for it again and again.
	cacheMu    sync.Mutex
	cached     map[string][]int32 // topic -> partitions
	cachedAt   time.Time
	refreshing bool // a peek's refresh is asking Kafka

	marksMu sync.Mutex
	marks   map[string]sharedMarks // watermarksShared's answers, read only

	// committedSlots bounds the consumers committedOffsets makes at once.
	committedSlots chan struct{}
}

// metadataMaxAge is how long a topic list is reused by the keyspace
// commands (KEYS always asks).
const metadataMaxAge = time.Second

func newMetadata(props config.Properties) *metadata {
	return &metadata{props: props, committedSlots: make(chan struct{}, committedReaders)}
}

// committedReaders is how many committedOffsets run at once.
const committedReaders = 2

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

// topics returns the names of all non-internal topics, sorted, from an
// answer at most maxAge old.
func (m *metadata) topics(maxAge time.Duration) ([]string, error) {
	all, err := m.snapshot(maxAge)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// partitions returns the partitions of topic (an error if it does not
// exist).
func (m *metadata) partitions(topic string) ([]int32, error) {
	all, err := m.snapshot(metadataMaxAge)
	if err != nil {
		return nil, err
	}
	parts, ok := all[topic]
	if !ok {
		return nil, fmt.Errorf("topic %s does not exist", topic)
	}
	return parts, nil
}

// snapshot returns every non-internal topic with its partitions, asking
// Kafka when the last answer is older than maxAge. The map is shared: read
// only.
func (m *metadata) snapshot(maxAge time.Duration) (map[string][]int32, error) {
	m.cacheMu.Lock()
	if m.cached != nil && time.Since(m.cachedAt) < maxAge {
		all := m.cached
		m.cacheMu.Unlock()
		return all, nil
	}
	m.cacheMu.Unlock()
	a, release, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	md, err := a.GetMetadata(nil, true, metadataTimeoutMs)
	if err != nil {
		return nil, fmt.Errorf("get metadata: %w", err)
	}
	all := make(map[string][]int32, len(md.Topics))
	for name, t := range md.Topics {
		if strings.HasPrefix(name, "__") || t.Error.Code() != kafka.ErrNoError {
			continue
		}
		parts := make([]int32, len(t.Partitions))
		for i, p := range t.Partitions {
			parts[i] = p.ID
		}
		slices.Sort(parts)
		all[name] = parts
	}
	m.cacheMu.Lock()
	m.cached, m.cachedAt = all, time.Now()
	m.cacheMu.Unlock()
	return all, nil
}

// createTopic creates topic with the brokers' default partitions and
// replication (a topic that appeared meanwhile is fine) and forgets the
// topic list, which no longer holds.
func (m *metadata) createTopic(ctx context.Context, topic string) error {
	a, release, err := m.acquire()
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, topicCreateTimeout)
	defer cancel()
	res, err := a.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: -1, ReplicationFactor: -1}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, r := range res {
		if code := r.Error.Code(); code != kafka.ErrNoError && code != kafka.ErrTopicAlreadyExists {
			return fmt.Errorf("create topic %s: %w", topic, r.Error)
		}
	}
	m.cacheMu.Lock()
	m.cached = nil
	m.cacheMu.Unlock()
	return nil
}

// setGroupOffsets commits group's offsets of topic's partitions
// (XGROUP CREATE).
func (m *metadata) setGroupOffsets(ctx context.Context, group, topic string, offsets map[int32]int64) error {
	a, release, err := m.acquire()
	if err != nil {
		return err
	}
	defer release()
	tps := make([]kafka.TopicPartition, 0, len(offsets))
	for p, off := range offsets {
		tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.Offset(off)})
	}
	_, err = retry(ctx, func() (struct{}, error) {
		res, err := a.AlterConsumerGroupOffsets(ctx, []kafka.ConsumerGroupTopicPartitions{{Group: group, Partitions: tps}})
		if err != nil {
			return struct{}{}, err
		}
		for _, g := range res.ConsumerGroupsTopicPartitions {
			for _, tp := range g.Partitions {
				if tp.Error != nil {
					return struct{}{}, tp.Error
				}
			}
		}
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("set the offsets of group %s: %w", group, err)
	}
	return nil
}

// deleteGroup deletes group in Kafka (XGROUP DESTROY); Kafka refuses while
// the group has members.
func (m *metadata) deleteGroup(ctx context.Context, group string) error {
	a, release, err := m.acquire()
	if err != nil {
		return err
	}
	defer release()
	res, err := a.DeleteConsumerGroups(ctx, []string{group})
	if err != nil {
		return fmt.Errorf("delete group %s: %w", group, err)
	}
	for _, r := range res.ConsumerGroupResults {
		if code := r.Error.Code(); code != kafka.ErrNoError && code != kafka.ErrGroupIDNotFound {
			return fmt.Errorf("delete group %s: %w", group, r.Error)
		}
	}
	return nil
}

// peek returns the last topic list without waiting for Kafka (nil before
// the first answer) and, when it is older than metadataMaxAge, asks for a
// new one in the background: INFO must answer even when Kafka does not.
func (m *metadata) peek() map[string][]int32 {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if !m.refreshing && (m.cached == nil || time.Since(m.cachedAt) >= metadataMaxAge) {
		m.refreshing = true
		go func() {
			_, _ = m.snapshot(0)
			m.cacheMu.Lock()
			m.refreshing = false
			m.cacheMu.Unlock()
		}()
	}
	return m.cached
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
	names, err := s.meta.topics(0)
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
