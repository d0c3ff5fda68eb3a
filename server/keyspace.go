package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/topicname"
)

// The keyspace as Redis tools see it: every topic a connection may see is a
// key of type list, named by the topic alone (a topic key, as BLPOP takes
// it); `topics:<topic>` names the same key.

// topicKeyType is the Redis type of a topic key: a stream (streams.md),
// which BLPOP also pops.
const topicKeyType = "stream"

// scanDefaultCount is SCAN's COUNT when not given, as in Redis.
const scanDefaultCount = 10

// keyspaceTimeout bounds the Kafka requests of one keyspace command.
const keyspaceTimeout = 5 * time.Second

// visibleTopics are the topics c may see, sorted: every topic but Kafka's
// internal ones, and for an ACL user only those it may produce to or
// consume from.
func (s *Server) visibleTopics(c *client) ([]string, error) {
	names, err := s.meta.topics(metadataMaxAge)
	if err != nil {
		return nil, err
	}
	if c.user == nil {
		return names, nil
	}
	visible := names[:0]
	for _, n := range names {
		if c.user.CanConsume(n) || c.user.CanProduce(n) {
			visible = append(visible, n)
		}
	}
	return visible, nil
}

// visibleTopicCount is how many topics c may see by the last topic list
// (none yet: false), without waiting for Kafka.
func (s *Server) visibleTopicCount(c *client) (int, bool) {
	all := s.meta.peek()
	if all == nil {
		return 0, false
	}
	if c.user == nil {
		return len(all), true
	}
	n := 0
	for name := range all {
		if c.user.CanConsume(name) || c.user.CanProduce(name) {
			n++
		}
	}
	return n, true
}

// keyTopic is the topic a key names: `<topic>` or `topics:<topic>`.
func keyTopic(key []byte) (string, bool) {
	name := string(bytes.TrimPrefix(key, topicsPrefix))
	return name, topicname.Check(name) == nil
}

// visibleTopic reports whether key names a topic c may see (one that
// exists: a user learns nothing of topics it may not use).
func (s *Server) visibleTopic(c *client, key []byte) (string, bool, error) {
	name, ok := keyTopic(key)
	if !ok {
		return "", false, nil
	}
	names, err := s.visibleTopics(c)
	if err != nil {
		return "", false, err
	}
	_, found := slices.BinarySearch(names, name)
	return name, found, nil
}

// DBSIZE: how many topics the connection may see.
func cmdDBSize(s *Server, c *client, args [][]byte) error {
	names, err := s.visibleTopics(c)
	if err != nil {
		return errf("%s", err)
	}
	c.conn.WriteInt(len(names))
	return nil
}

// TYPE key: stream for a topic the connection may see, string for one of
// its lock keys, none otherwise.
func cmdType(s *Server, c *client, args [][]byte) error {
	_, found, err := s.visibleTopic(c, args[1])
	if err != nil {
		return errf("%s", err)
	}
	switch {
	case found:
		c.conn.WriteString(topicKeyType)
	case s.locks.Exists(c.lockSpace(), string(args[1])):
		c.conn.WriteString("string")
	default:
		c.conn.WriteString("none")
	}
	return nil
}

// EXISTS key [key ...]: how many of the keys name topics the connection
// may see or its lock keys (a key given twice counts twice, as in Redis).
func cmdExists(s *Server, c *client, args [][]byte) error {
	names, err := s.visibleTopics(c)
	if err != nil {
		return errf("%s", err)
	}
	n := 0
	for _, key := range args[1:] {
		if name, ok := keyTopic(key); ok {
			if _, found := slices.BinarySearch(names, name); found {
				n++
				continue
			}
		}
		if s.locks.Exists(c.lockSpace(), string(key)) {
			n++
		}
	}
	c.conn.WriteInt(n)
	return nil
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: the visible topic
// keys in name order, COUNT of them per call; the cursor is the position
// of the next one ("0" when done). MATCH and TYPE filter what each call
// looked at, as in Redis.
func cmdScan(s *Server, c *client, args [][]byte) error {
	cursor, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		return errf("invalid cursor")
	}
	match, count, typ := "*", uint64(scanDefaultCount), ""
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return errSyntax
		}
		v := string(args[i+1])
		switch strings.ToLower(string(args[i])) {
		case "match":
			if err := topicname.CheckGlob(v); err != nil {
				return errf("%s", err)
			}
			match = v
		case "count":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errNotInteger
			}
			if n < 1 {
				return errSyntax
			}
			count = uint64(n)
		case "type":
			typ = strings.ToLower(v)
		default:
			return errSyntax
		}
	}
	names, err := s.visibleTopics(c)
	if err != nil {
		return errf("%s", err)
	}
	start := min(cursor, uint64(len(names)))
	end := start + min(count, uint64(len(names))-start)
	next := "0"
	if end < uint64(len(names)) {
		next = strconv.FormatUint(end, 10)
	}
	var keys []string
	if typ == "" || typ == topicKeyType {
		for _, n := range names[start:end] {
			if ok, _ := path.Match(match, n); ok { // topic names have no '/'
				keys = append(keys, n)
			}
		}
	}
	c.conn.WriteArray(2)
	c.conn.WriteBulkString(next)
	c.conn.WriteArray(len(keys))
	for _, k := range keys {
		c.conn.WriteBulkString(k)
	}
	return nil
}

// LLEN key: the messages of the topic the connection's consumer group has
// not committed yet (a partition without a committed offset counts from
// its first message); for a connection without a name, all the topic's
// messages. 0 for a topic the connection may not see.
func cmdLLen(s *Server, c *client, args [][]byte) error {
	group, _, _ := strings.Cut(c.getName(), ":")
	if c.user != nil && !c.user.CanJoin(group) {
		group = "" // a name kept across AUTH as another user: not this user's group
	}
	return s.writeBacklog(c, args[1], group)
}

// writeBacklog replies with the messages of key's topic group has not
// committed (all of them for ""), 0 for a key that is not a visible topic.
func (s *Server) writeBacklog(c *client, key []byte, group string) error {
	name, found, err := s.visibleTopic(c, key)
	if err != nil {
		return errf("%s", err)
	}
	if !found {
		c.conn.WriteInt(0)
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, keyspaceTimeout)
	defer cancel()
	n, err := s.meta.backlog(ctx, name, group)
	if err != nil {
		return errf("%s", err)
	}
	c.conn.WriteInt64(n)
	return nil
}

// MEMORY USAGE key [SAMPLES n]: the memory rafka holds for the key, which
// is none (0): a topic's messages live in Kafka. Null for a key that is
// not a visible topic, as Redis answers for a missing key.
func cmdMemory(s *Server, c *client, args [][]byte) error {
	if !strings.EqualFold(string(args[1]), "usage") {
		return errUnknownSubcommand(string(args[1]))
	}
	if len(args) != 3 && !(len(args) == 5 && strings.EqualFold(string(args[3]), "samples")) {
		return errSyntax
	}
	if len(args) == 5 {
		if _, err := strconv.ParseUint(string(args[4]), 10, 63); err != nil {
			return errNotInteger
		}
	}
	_, found, err := s.visibleTopic(c, args[2])
	if err != nil {
		return errf("%s", err)
	}
	if !found {
		c.writeNullBulk()
		return nil
	}
	c.conn.WriteInt(0)
	return nil
}

// backlog is how many messages of topic group has not committed (all of
// them when group is "").
func (m *metadata) backlog(ctx context.Context, topic, group string) (int64, error) {
	parts, err := m.partitions(topic) // before acquire: it may take the lock itself
	if err != nil {
		return 0, err
	}
	a, release, err := m.acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	low, err := listOffsets(ctx, a, topic, parts, kafka.EarliestOffsetSpec)
	if err != nil {
		return 0, err
	}
	high, err := listOffsets(ctx, a, topic, parts, kafka.LatestOffsetSpec)
	if err != nil {
		return 0, err
	}
	from := low
	if group != "" {
		committed, err := m.committedOffsets(ctx, group, topic, parts)
		if err != nil {
			return 0, err
		}
		for p, off := range committed {
			if off > from[p] {
				from[p] = off
			}
		}
	}
	var n int64
	for p, hi := range high {
		n += max(hi-from[p], 0)
	}
	return n, nil
}

// watermarks are the earliest and latest offsets of each partition of
// topic.
func (m *metadata) watermarks(ctx context.Context, topic string) (low, high map[int32]int64, err error) {
	parts, err := m.partitions(topic)
	if err != nil {
		return nil, nil, err
	}
	a, release, err := m.acquire()
	if err != nil {
		return nil, nil, err
	}
	defer release()
	if low, err = listOffsets(ctx, a, topic, parts, kafka.EarliestOffsetSpec); err != nil {
		return nil, nil, err
	}
	if high, err = listOffsets(ctx, a, topic, parts, kafka.LatestOffsetSpec); err != nil {
		return nil, nil, err
	}
	return low, high, nil
}

// watermarksShared is watermarks from an answer at most xreadPoll old,
// shared by the connections: blocked XREADs of one topic cost Kafka one
// request per interval, not one each.
func (m *metadata) watermarksShared(ctx context.Context, topic string) (low, high map[int32]int64, err error) {
	m.marksMu.Lock()
	if w, ok := m.marks[topic]; ok && time.Since(w.at) < xreadPoll {
		m.marksMu.Unlock()
		return w.low, w.high, nil
	}
	m.marksMu.Unlock()
	if low, high, err = m.watermarks(ctx, topic); err != nil {
		return nil, nil, err
	}
	m.marksMu.Lock()
	if m.marks == nil || len(m.marks) >= maxSharedMarks {
		m.marks = map[string]sharedMarks{}
	}
	m.marks[topic] = sharedMarks{at: time.Now(), low: low, high: high}
	m.marksMu.Unlock()
	return low, high, nil
}

// sharedMarks is one topic's watermarks and when they were asked for.
type sharedMarks struct {
	at        time.Time
	low, high map[int32]int64
}

// maxSharedMarks bounds the topics whose watermarks are kept.
const maxSharedMarks = 1024

// retriable are the errors of a cluster settling (a topic just created, a
// coordinator loading, a leader moving): the admin calls retry them.
var retriable = []kafka.ErrorCode{kafka.ErrCoordinatorLoadInProgress, kafka.ErrNotCoordinator,
	kafka.ErrNotLeaderForPartition, kafka.ErrLeaderNotAvailable, kafka.ErrUnknownTopicOrPart}

// retryDelay is the pause between two tries of a retriable admin call.
const retryDelay = 100 * time.Millisecond

// retry runs call until it succeeds, fails for a reason that is not
// retriable, or ctx ends.
func retry[T any](ctx context.Context, call func() (T, error)) (T, error) {
	for {
		v, err := call()
		var kerr kafka.Error
		if err == nil || !errors.As(err, &kerr) || !slices.Contains(retriable, kerr.Code()) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(retryDelay):
		}
	}
}

// listOffsets are the partitions' offsets of one kind (earliest, latest),
// retrying while the cluster settles.
func listOffsets(ctx context.Context, a *kafka.AdminClient, topic string, parts []int32, spec kafka.OffsetSpec) (map[int32]int64, error) {
	return retry(ctx, func() (map[int32]int64, error) { return listOffsetsOnce(ctx, a, topic, parts, spec) })
}

func listOffsetsOnce(ctx context.Context, a *kafka.AdminClient, topic string, parts []int32, spec kafka.OffsetSpec) (map[int32]int64, error) {
	req := make(map[kafka.TopicPartition]kafka.OffsetSpec, len(parts))
	for _, p := range parts {
		req[kafka.TopicPartition{Topic: &topic, Partition: p}] = spec
	}
	res, err := a.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := make(map[int32]int64, len(parts))
	for tp, info := range res.ResultInfos {
		if info.Error.Code() != kafka.ErrNoError {
			return nil, fmt.Errorf("list offsets of %s:%d: %w", topic, tp.Partition, info.Error)
		}
		out[tp.Partition] = int64(info.Offset)
	}
	return out, nil
}

// committedOffsets are group's committed offsets of topic's partitions
// (those it has committed), read through a consumer of the group that never
// joins it. Not through the admin API: librdkafka 2.11's
// ListConsumerGroupOffsets crashes the process (a NULL group handle in
// rd_kafka_handle_OffsetFetch) when the group's coordinator answers that
// it is still loading, as it does after a broker starts.
func (m *metadata) committedOffsets(ctx context.Context, group, topic string, parts []int32) (map[int32]int64, error) {
	select { // each call makes a librdkafka consumer: a few at a time
	case m.committedSlots <- struct{}{}:
		defer func() { <-m.committedSlots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p := m.props.Clone()
	p["group.id"] = group
	p["enable.auto.commit"] = "false"
	c, err := kafka.NewConsumer(p.ConfigMap())
	if err != nil {
		return nil, fmt.Errorf("read committed offsets: %w", err)
	}
	defer c.Close()
	tps := make([]kafka.TopicPartition, len(parts))
	for i, part := range parts {
		tps[i] = kafka.TopicPartition{Topic: &topic, Partition: part}
	}
	timeout := keyspaceTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	res, err := retry(ctx, func() ([]kafka.TopicPartition, error) { return c.Committed(tps, int(timeout.Milliseconds())) })
	var kerr kafka.Error
	if errors.As(err, &kerr) && kerr.Code() == kafka.ErrGroupIDNotFound {
		return map[int32]int64{}, nil // a group that never committed (the embedded broker says so)
	}
	if err != nil {
		return nil, fmt.Errorf("read committed offsets of group %s: %w", group, err)
	}
	out := map[int32]int64{}
	for _, tp := range res {
		if tp.Error == nil && tp.Offset >= 0 {
			out[tp.Partition] = int64(tp.Offset)
		}
	}
	return out, nil
}
