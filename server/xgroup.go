package server

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/clientname"
	"rafka/consumer"
	"rafka/streams"
)

// Stream consumer groups (streams.md 4): a Redis group is the Kafka group
// of the same name; this instance runs one Kafka member per group and
// topic set (streams.Groups), shared by the group's Redis consumers here.

// errNoGroup is Redis's NOGROUP of XREADGROUP (cmd set) and of XPENDING,
// XCLAIM and XAUTOCLAIM (cmd "").
func errNoGroup(key, group, cmd string) error {
	msg := "No such key '" + clip(key, 256) + "' or consumer group '" + clip(group, 256) + "'"
	if cmd != "" {
		msg += " in " + cmd + " with GROUP option"
	}
	return &replyError{code: "NOGROUP", msg: msg}
}

// errNoSuchGroup is Redis's NOGROUP of XGROUP and XINFO CONSUMERS.
func errNoSuchGroup(key, group string) error {
	return &replyError{code: "NOGROUP", msg: "No such consumer group '" + clip(group, 256) + "' for key name '" + clip(key, 256) + "'"}
}

var (
	errBusyGroup      = &replyError{code: "BUSYGROUP", msg: "Consumer Group name already exists"}
	errXGroupNoStream = errf("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
)

// groupExists reports whether group exists for topic: this instance has a
// member of it, or Kafka has committed offsets of it in topic.
func (s *Server) groupExists(ctx context.Context, group, topic string) (bool, error) {
	if s.groups.Known(group, topic) {
		return true, nil
	}
	parts, err := s.meta.partitions(topic)
	if err != nil {
		return false, nil // no topic, no group on it
	}
	committed, err := s.meta.committedOffsets(ctx, group, topic, parts)
	if err != nil {
		return false, err
	}
	if len(committed) > 0 {
		s.groups.Remember(group, topic)
		return true, nil
	}
	return false, nil
}

// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n] | DESTROY key group
func cmdXGroup(s *Server, c *client, args [][]byte) error {
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "create", "setid", "destroy", "createconsumer", "delconsumer":
	default:
		return errUnknownSubcommand(string(args[1]))
	}
	if len(args) < 4 {
		return errWrongArgs("xgroup|" + sub)
	}
	topic, err := streamTopic(args[2])
	if err != nil {
		return err
	}
	group := string(args[3])
	if err := checkGroupName(group); err != nil {
		return err
	}
	if err := c.canConsume(group, []string{topic}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, keyspaceTimeout)
	defer cancel()
	switch sub {
	case "destroy":
		// It deletes the Kafka group, its offsets on every topic, while
		// an ACL user's permission is checked for this one topic only.
		if err := c.adminOnly("XGROUP DESTROY"); err != nil {
			return err
		}
		return s.xgroupDestroy(ctx, c, topic, group)
	case "createconsumer", "delconsumer":
		if len(args) != 5 {
			return errWrongArgs("xgroup|" + sub)
		}
		if sub == "createconsumer" {
			if err := checkConsumerName(string(args[4])); err != nil {
				return err
			}
		}
		return s.xgroupConsumer(ctx, c, sub, topic, group, string(args[4]))
	}
	if len(args) < 5 {
		return errWrongArgs("xgroup|" + sub)
	}
	if sub == "setid" {
		return s.xgroupSetID(ctx, c, topic, group, string(args[4]))
	}
	mkStream := false
	for i := 5; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "mkstream":
			mkStream = true
		case "entriesread":
			i++ // accepted, no meaning here: Kafka's offsets say how far the group read
		default:
			return errSyntax
		}
	}
	exists, err := s.topicExists(topic)
	if err != nil {
		return errf("%s", err)
	}
	if !exists {
		if !mkStream {
			return errXGroupNoStream
		}
		if err := c.canProduce([]byte(topic)); err != nil {
			return err // creating a topic is producing's right
		}
		if err := s.meta.createTopic(ctx, topic); err != nil {
			return errf("%s", err)
		}
	}
	if busy, err := s.groupExists(ctx, group, topic); err != nil {
		return errf("%s", err)
	} else if busy {
		return errBusyGroup
	}
	if err := s.setGroupStart(ctx, group, topic, string(args[4])); err != nil {
		return err
	}
	s.groups.Remember(group, topic)
	c.conn.WriteString("OK")
	return nil
}

// setGroupStart commits group's offsets of topic for an XGROUP ID argument:
// $ the ends now, an ID the first offsets after it.
func (s *Server) setGroupStart(ctx context.Context, group, topic, idArg string) error {
	low, high, err := s.meta.watermarks(ctx, topic)
	if err != nil {
		return errf("%s", err)
	}
	start := high // $
	if idArg != "$" {
		id, err := streams.ParseID(idArg, 0)
		if err != nil {
			return errf("%s", err)
		}
		start = map[int32]int64{}
		after, ok := id.Next()
		for p := range high {
			start[p] = high[p] // after the largest ID: nothing yet
			if ok {
				start[p] = min(max(low[p], streams.FirstOffset(p, after)), high[p])
			}
		}
	}
	if err := s.meta.setGroupOffsets(ctx, group, topic, start); err != nil {
		return errf("%s", err)
	}
	return nil
}

// xgroupSetID moves the group's offsets (XGROUP SETID): this rafka's
// members of the group are closed first, as Kafka takes new offsets only
// for a group without active members (their pending entries are then
// redelivered from the new offsets or not at all, as in Redis).
func (s *Server) xgroupSetID(ctx context.Context, c *client, topic, group, idArg string) error {
	if ok, err := s.groupExists(ctx, group, topic); err != nil {
		return errf("%s", err)
	} else if !ok {
		return errNoSuchGroup(topic, group)
	}
	if err := s.groups.Reset(ctx, group, func() error { return s.setGroupStart(ctx, group, topic, idArg) }); err != nil {
		return asReply(err)
	}
	s.groups.Remember(group, topic)
	c.conn.WriteString("OK")
	return nil
}

func (s *Server) xgroupDestroy(ctx context.Context, c *client, topic, group string) error {
	exists, err := s.groupExists(ctx, group, topic)
	if err != nil {
		return errf("%s", err)
	}
	if !exists {
		c.conn.WriteInt(0)
		return nil
	}
	if err := s.groups.Reset(ctx, group, func() error { return s.meta.deleteGroup(ctx, group) }); err != nil {
		return asReply(err)
	}
	c.conn.WriteInt(1)
	return nil
}

// xgroupConsumer is XGROUP CREATECONSUMER (1 when new) and DELCONSUMER (the
// consumer's pending entries, which stay pending: see RemoveConsumer).
func (s *Server) xgroupConsumer(ctx context.Context, c *client, sub, topic, group, consumerName string) error {
	if ok, err := s.groupExists(ctx, group, topic); err != nil {
		return errf("%s", err)
	} else if !ok {
		return errNoSuchGroup(topic, group)
	}
	if sub == "createconsumer" {
		m, gone, err := s.groupMember(ctx, ctx, c.owner(), group, []string{topic})
		if gone != "" {
			return errNoSuchGroup(topic, group)
		}
		if err != nil {
			return errf("%s", err)
		}
		added, err := m.AddConsumer(c.owner(), consumerName)
		if err != nil {
			return errf("%s", err)
		}
		if added {
			c.conn.WriteInt(1)
		} else {
			c.conn.WriteInt(0)
		}
		return nil
	}
	pending := 0
	for _, m := range s.groups.Of(group, topic) {
		_, n := m.RemoveConsumer(topic, consumerName)
		pending += n
	}
	c.conn.WriteInt(pending)
	return nil
}

// maxReadStreams bounds the streams of one XREADGROUP (each distinct set
// of them is a Kafka member) and of one XREAD (each is read whole, up to
// COUNT entries from each partition, before the reply is written).
const maxReadStreams = 16

// checkConsumerName checks a Redis consumer name: it is kept per group and
// shown by XPENDING and XINFO, so it is bounded and printable.
func checkConsumerName(name string) error {
	if name == "" || len(name) > 255 || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return errf("invalid consumer name '%s': 1 to 255 printable ASCII characters without spaces", shownName(name))
	}
	return nil
}

// checkGroupName checks a group name as a connection name's group part is.
func checkGroupName(group string) error {
	if group == "" || strings.ContainsAny(group, ":") || checkID(group+":x") != nil {
		return errf("invalid consumer group name '%s': printable ASCII without spaces or ':', at most %d bytes", shownName(group), clientname.MaxGroup)
	}
	return nil
}

// shownName is a refused name as an error shows it: clipped, and every
// byte outside printable ASCII as '?'.
func shownName(name string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, clip(name, 64))
}

// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key [key ...] id [id ...]
func cmdXReadGroup(s *Server, c *client, args [][]byte) error {
	if len(args) < 7 || !strings.EqualFold(string(args[1]), "group") {
		return errSyntax
	}
	group, consumerName := string(args[2]), string(args[3])
	if err := checkGroupName(group); err != nil {
		return err
	}
	if err := checkConsumerName(consumerName); err != nil {
		return err
	}
	count, block, noAck := streamRangeMax, time.Duration(-1), false
	i := 4
	for ; i < len(args) && !strings.EqualFold(string(args[i]), "streams"); i++ {
		switch strings.ToLower(string(args[i])) {
		case "noack":
			noAck = true
		case "count", "block":
			if i+1 >= len(args) {
				return errSyntax
			}
			n, err := strconv.ParseInt(string(args[i+1]), 10, 64)
			if err != nil || n < 0 {
				return errNotInteger
			}
			if strings.EqualFold(string(args[i]), "count") {
				count = int(min(n, streamRangeMax))
				if n == 0 { // Redis: COUNT 0 is no limit
					count = streamRangeMax
				}
			} else {
				block = time.Duration(min(n, int64(time.Hour*24*365/time.Millisecond))) * time.Millisecond
			}
			i++
		default:
			return errSyntax
		}
	}
	rest := args[min(i+1, len(args)):]
	if i >= len(args) || len(rest) == 0 || len(rest)%2 != 0 {
		return errf("Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.")
	}
	keys, ids := rest[:len(rest)/2], rest[len(rest)/2:]
	if len(keys) > maxReadStreams {
		return errf("XREADGROUP reads at most %d streams at once here", maxReadStreams)
	}
	topics := make([]string, len(keys))
	for j, k := range keys {
		t, err := streamTopic(k)
		if err != nil {
			return err
		}
		topics[j] = t
	}
	if err := c.canConsume(group, topics); err != nil {
		return err
	}
	ctx, done := c.block(s.ctx)
	defer done()
	for _, t := range topics {
		ok, err := s.groupExists(ctx, group, t)
		if err != nil {
			return errf("%s", err)
		}
		if !ok {
			return errNoGroup(t, group, "XREADGROUP")
		}
	}
	reads := make([]*xreadStream, len(topics))
	for j, t := range topics {
		reads[j] = &xreadStream{key: t}
	}
	allNew := true
	for _, id := range ids {
		allNew = allNew && string(id) == ">"
	}
	if allNew {
		sorted := slices.Clone(topics)
		slices.Sort(sorted)
		sorted = slices.Compact(sorted)
		if block >= 0 {
			s.blocked.Add(1)
			defer s.blocked.Add(-1)
		}
		msgs, err := s.readGroupNew(ctx, c.owner(), group, sorted, consumerName, count, block, noAck)
		switch {
		case errors.Is(err, streams.ErrPELFull):
			return errf("%s", err)
		case errors.Is(err, errGroupGone):
			return &replyError{code: "NOGROUP", msg: "the consumer group this client was blocked on no longer exists"}
		case errors.Is(err, consumer.ErrClosed) || s.shuttingDown.Load():
			return errServerShutdown
		case err != nil && ctx.Err() != nil:
			return nil // the client is gone
		case err != nil:
			return asReply(err)
		}
		for _, msg := range msgs {
			for _, r := range reads {
				if r.key == *msg.TopicPartition.Topic {
					r.entries = append(r.entries, streamEntry{id: streams.IDOf(msg.TopicPartition.Partition, int64(msg.TopicPartition.Offset)), msg: msg})
				}
			}
		}
	} else {
		for j, t := range topics {
			if string(ids[j]) == ">" {
				return errf("XREADGROUP with '>' and history IDs in one call is not supported here")
			}
			after, err := streams.ParseID(string(ids[j]), 0)
			if err != nil {
				return errf("%s", err)
			}
			if from, ok := after.Next(); ok { // none after the largest ID
				if reads[j].entries, err = s.pendingEntries(ctx, c.owner(), group, t, consumerName, from, count); err != nil {
					return errf("%s", err)
				}
			}
		}
		// A history read answers even when empty: [key, []] per stream.
		s.writeXReadAll(c, reads)
		return nil
	}
	if n := countEntries(reads); n == 0 {
		c.writeNullArray()
		return nil
	}
	s.writeXReadStreams(c, reads)
	return nil
}

// errGroupGone is readGroupNew's error when the group was destroyed while
// the read waited.
var errGroupGone = errors.New("the group no longer exists")

// maxMemberRetries bounds how often one XREADGROUP takes a new member
// after the one it read from was closed by the idle sweep.
const maxMemberRetries = 3

// readGroupNew reads new entries of the topics (sorted) for consumerName
// through the group's member here, waiting up to block (0: for ever;
// negative: not at all), the wait for a member included. A member closed
// under the read (XGROUP SETID or DESTROY from another client, the idle
// sweep) is not the end of it, as on Redis: the read goes on with the
// group's next member for the time it has left, or ends with errGroupGone
// (NOGROUP without BLOCK) when the group was destroyed. Time running out
// is no entries and no error.
func (s *Server) readGroupNew(ctx context.Context, user, group string, topics []string, consumerName string, count int, block time.Duration, noAck bool) ([]*kafka.Message, error) {
	var deadline time.Time // none for BLOCK 0
	if block != 0 {
		deadline = time.Now().Add(max(block, 0))
	}
	goneErr := func(topic string) error {
		if block < 0 {
			return errNoGroup(topic, group, "XREADGROUP")
		}
		return errGroupGone
	}
	for closes := 0; ; {
		wait, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			wait, cancel = context.WithDeadline(ctx, deadline)
		}
		m, gone, err := s.groupMember(ctx, wait, user, group, topics)
		cancel()
		switch {
		case gone != "":
			return nil, goneErr(gone)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			return nil, nil // its time ran out while the group was reset
		case err != nil:
			return nil, err
		}
		for _, t := range topics {
			s.groups.Remember(group, t)
		}
		if block > 0 { // what is left of it
			if block = time.Until(deadline); block <= 0 {
				return nil, nil
			}
		}
		msgs, err := m.Next(ctx, user, consumerName, count, block, noAck)
		if len(msgs) > 0 {
			return msgs, nil // what was taken before a close is delivered
		}
		if !errors.Is(err, consumer.ErrClosed) || s.shuttingDown.Load() {
			return nil, err
		}
		if closes++; closes > maxMemberRetries {
			return nil, nil
		}
		// The member was closed: a DESTROY may have deleted the group.
		if gone, err := s.groupGone(ctx, group, topics); err != nil || gone != "" {
			return nil, cmp.Or(err, goneErr(gone))
		}
	}
}

// groupMember is the group's member here for topics (sorted), waiting with
// wait while a Reset of the group (SETID, DESTROY) runs; after one it asks
// again once the group is seen to exist still. gone is a topic on which it
// no longer does.
func (s *Server) groupMember(ctx, wait context.Context, user, group string, topics []string) (m *streams.Member, gone string, err error) {
	for {
		m, err := s.groups.Member(wait, group, topics, user)
		if !errors.Is(err, streams.ErrGroupReset) {
			return m, "", err
		}
		if gone, err := s.groupGone(ctx, group, topics); err != nil || gone != "" {
			return nil, gone, err
		}
	}
}

// groupGone is the first of topics on which group does not exist, "" when
// it exists on all.
func (s *Server) groupGone(ctx context.Context, group string, topics []string) (string, error) {
	for _, t := range topics {
		ok, err := s.groupExists(ctx, group, t)
		if err != nil {
			return "", err
		}
		if !ok {
			return t, nil
		}
	}
	return "", nil
}

func countEntries(reads []*xreadStream) int {
	n := 0
	for _, r := range reads {
		n += len(r.entries)
	}
	return n
}

// pendingEntries are consumerName's pending entries of topic from start,
// at most count, their data read again from Kafka in user's read turn.
func (s *Server) pendingEntries(ctx context.Context, user, group, topic, consumerName string, start streams.ID, count int) ([]streamEntry, error) {
	var pending []streams.Pending
	for _, m := range s.groups.Of(group, topic) {
		pending = append(pending, m.PendingOf(topic, consumerName, start, streams.Max)...)
	}
	return s.claimedEntries(ctx, user, topic, pending[:min(len(pending), count)])
}

// groupKey reads a group command's key and group (args[1], args[2]) and
// checks the connection may use them.
func groupKey(c *client, args [][]byte) (topic, group string, err error) {
	if topic, err = streamTopic(args[1]); err != nil {
		return "", "", err
	}
	group = string(args[2])
	if err = checkGroupName(group); err != nil {
		return "", "", err
	}
	if err = c.canConsume(group, []string{topic}); err != nil {
		return "", "", err
	}
	return topic, group, nil
}

// XACK key group id [id ...]
func cmdXAck(s *Server, c *client, args [][]byte) error {
	topic, group, err := groupKey(c, args)
	if err != nil {
		return err
	}
	ids := make([]streams.ID, 0, len(args)-3)
	for _, a := range args[3:] {
		id, err := streams.ParseID(string(a), 0)
		if err != nil {
			return errf("%s", err)
		}
		ids = append(ids, id)
	}
	n := 0
	for _, m := range s.groups.Of(group, topic) {
		n += m.Ack(topic, ids)
	}
	c.conn.WriteInt(n)
	return nil
}

// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
func cmdXPending(s *Server, c *client, args [][]byte) error {
	topic, group, err := groupKey(c, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, keyspaceTimeout)
	defer cancel()
	if ok, err := s.groupExists(ctx, group, topic); err != nil {
		return errf("%s", err)
	} else if !ok {
		return errNoGroup(topic, group, "")
	}
	var pending []streams.Pending
	collect := func(consumerName string, start, end streams.ID) {
		pending = pending[:0]
		for _, m := range s.groups.Of(group, topic) {
			pending = append(pending, m.PendingOf(topic, consumerName, start, end)...)
		}
		slices.SortFunc(pending, func(a, b streams.Pending) int { return a.ID.Compare(b.ID) })
	}
	if len(args) == 3 {
		collect("", streams.Min, streams.Max)
		s.writePendingSummary(c, pending)
		return nil
	}
	rest := args[3:]
	var minIdle time.Duration
	if strings.EqualFold(string(rest[0]), "idle") {
		if len(rest) < 2 {
			return errSyntax
		}
		ms, err := strconv.ParseInt(string(rest[1]), 10, 64)
		if err != nil || ms < 0 {
			return errNotInteger
		}
		minIdle, rest = time.Duration(ms)*time.Millisecond, rest[2:]
	}
	if len(rest) != 3 && len(rest) != 4 {
		return errSyntax
	}
	start, err := streams.RangeBound(string(rest[0]), true)
	if err != nil {
		return errf("%s", err)
	}
	end, err := streams.RangeBound(string(rest[1]), false)
	if err != nil {
		return errf("%s", err)
	}
	count, err := strconv.ParseInt(string(rest[2]), 10, 64)
	if err != nil {
		return errNotInteger
	}
	consumerName := ""
	if len(rest) == 4 {
		consumerName = string(rest[3])
	}
	collect(consumerName, start, end)
	now := time.Now()
	var out []streams.Pending
	for _, p := range pending {
		if int64(len(out)) >= count {
			break
		}
		if now.Sub(p.Delivered) >= minIdle {
			out = append(out, p)
		}
	}
	c.conn.WriteArray(len(out))
	for _, p := range out {
		c.conn.WriteArray(4)
		c.conn.WriteBulkString(p.ID.String())
		c.conn.WriteBulkString(p.Consumer)
		c.conn.WriteInt64(now.Sub(p.Delivered).Milliseconds())
		c.conn.WriteInt64(p.Deliveries)
	}
	return nil
}

// writePendingSummary is XPENDING's summary: the count, the smallest and
// largest IDs and each consumer's count.
func (s *Server) writePendingSummary(c *client, pending []streams.Pending) {
	c.conn.WriteArray(4)
	c.conn.WriteInt(len(pending))
	if len(pending) == 0 {
		c.writeNullBulk()
		c.writeNullBulk()
		c.writeNullArray()
		return
	}
	c.conn.WriteBulkString(pending[0].ID.String())
	c.conn.WriteBulkString(pending[len(pending)-1].ID.String())
	per := map[string]int{}
	for _, p := range pending {
		per[p.Consumer]++
	}
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	slices.Sort(names)
	c.conn.WriteArray(len(names))
	for _, n := range names {
		c.conn.WriteArray(2)
		c.conn.WriteBulkString(n)
		c.conn.WriteBulkString(strconv.Itoa(per[n]))
	}
}
