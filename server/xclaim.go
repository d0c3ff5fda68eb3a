package server

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/streams"
)

// maxIdleMillis bounds the idle times XCLAIM and XAUTOCLAIM take: what a
// time.Duration holds.
const maxIdleMillis = math.MaxInt64 / int64(time.Millisecond)

// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms-unix]
// [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]
func cmdXClaim(s *Server, c *client, args [][]byte) error {
	topic, group, consumerName, minIdle, err := claimHead(c, args)
	if err != nil {
		return err
	}
	var ids []streams.ID
	given := map[streams.ID]bool{}
	i := 5
	for ; i < len(args); i++ {
		id, err := streams.ParseID(string(args[i]), 0)
		if err != nil {
			break // the options begin
		}
		// An ID given again is claimed once: Redis would claim it again
		// (with min-idle-time 0) and repeat its entry in the reply, so a
		// command of the same ID many times made a reply of that many
		// copies of one record.
		if !given[id] {
			given[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return errf("%s", "Invalid stream ID specified as stream command argument")
	}
	var o streams.ClaimOptions
	o.MinIdle = minIdle
	for ; i < len(args); i++ {
		opt := strings.ToLower(string(args[i]))
		switch opt {
		case "force":
		case "justid":
			o.JustID = true
		case "idle", "time", "retrycount", "lastid":
			if i+1 >= len(args) {
				return errSyntax
			}
			v := string(args[i+1])
			i++
			if opt == "lastid" {
				if _, err := streams.ParseID(v, 0); err != nil {
					return errf("%s", err)
				}
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || opt == "idle" && n > maxIdleMillis {
				return errf("Invalid %s option argument for XCLAIM", strings.ToUpper(opt))
			}
			switch opt {
			case "idle":
				d := time.Duration(n) * time.Millisecond
				o.Idle = &d
			case "time":
				d := max(time.Since(time.UnixMilli(n)), 0)
				o.Idle = &d
			case "retrycount":
				o.RetryCount = &n
			}
		default:
			return errf("Unrecognized XCLAIM option '%s'", clip(string(args[i]), 64))
		}
	}
	if err := s.requireGroup(c, topic, group); err != nil {
		return err
	}
	var claimed []streams.Claimed
	members := s.groups.Of(group, topic)
	for _, m := range members {
		got, err := m.Claim(topic, c.owner(), consumerName, ids, o)
		if err != nil {
			streams.Unclaim(claimed)
			return errf("%s", err)
		}
		claimed = append(claimed, got...)
	}
	if len(members) > 1 {
		// Each member's claims are in the order of the IDs given, as
		// Redis replies; so are all of them together.
		at := make(map[streams.ID]int, len(ids))
		for i, id := range slices.Backward(ids) {
			at[id] = i // the first place an ID is given
		}
		slices.SortStableFunc(claimed, func(a, b streams.Claimed) int { return cmp.Compare(at[a.ID], at[b.ID]) })
	}
	if o.JustID {
		c.conn.WriteArray(len(claimed))
		for _, p := range claimed {
			c.conn.WriteBulkString(p.ID.String())
		}
		return nil
	}
	ctx, done := c.block(s.ctx)
	defer done()
	entries, err := s.claimedRead(ctx, c.owner(), topic, claimed)
	if err != nil {
		return errf("%s", err)
	}
	s.writeEntries(c, entries)
	return nil
}

// claimedRead reads the claimed entries' data (claimedEntries); the claims
// of those the reply cannot hold, or of all of them when the read fails,
// are undone.
func (s *Server) claimedRead(ctx context.Context, user, topic string, claimed []streams.Claimed) ([]streamEntry, error) {
	pending := make([]streams.Pending, len(claimed))
	for i, c := range claimed {
		pending[i] = c.Pending
	}
	entries, err := s.claimedEntries(ctx, user, topic, pending)
	if err != nil {
		streams.Unclaim(claimed)
		return nil, err
	}
	streams.Unclaim(claimed[len(entries):])
	return entries, nil
}

// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
func cmdXAutoClaim(s *Server, c *client, args [][]byte) error {
	topic, group, consumerName, minIdle, err := claimHead(c, args)
	if err != nil {
		return err
	}
	start, err := streams.RangeBound(string(args[5]), true)
	if err != nil {
		return errf("%s", err)
	}
	count, justID := 100, false
	for i := 6; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "count":
			if i+1 >= len(args) {
				return errSyntax
			}
			n, err := strconv.ParseInt(string(args[i+1]), 10, 64)
			if err != nil || n < 1 || n > streamRangeMax {
				return errf("COUNT must be > 0")
			}
			count, i = int(n), i+1
		case "justid":
			justID = true
		default:
			return errSyntax
		}
	}
	if err := s.requireGroup(c, topic, group); err != nil {
		return err
	}
	next := streams.Min
	var claimed []streams.Claimed
	for _, m := range s.groups.Of(group, topic) {
		n, got, err := m.AutoClaim(topic, c.owner(), consumerName, minIdle, start, count-len(claimed), justID)
		if err != nil {
			streams.Unclaim(claimed)
			return errf("%s", err)
		}
		claimed = append(claimed, got...)
		if next == streams.Min || (n != streams.Min && n.Less(next)) {
			next = n
		}
	}
	slices.SortFunc(claimed, func(a, b streams.Claimed) int { return a.ID.Compare(b.ID) })
	// The entries are read before any of the reply is written: a failed
	// read is the whole reply.
	var entries []streamEntry
	if !justID {
		ctx, done := c.block(s.ctx)
		entries, err = s.claimedRead(ctx, c.owner(), topic, claimed)
		done()
		if err != nil {
			return errf("%s", err)
		}
		if len(entries) < len(claimed) {
			// The rest were given back: the next call starts at them (or
			// before, where another member's scan stopped).
			if back := claimed[len(entries)].ID; next == streams.Min || back.Less(next) {
				next = back
			}
			claimed = claimed[:len(entries)]
		}
	}
	c.conn.WriteArray(3)
	c.conn.WriteBulkString(next.String())
	if justID {
		c.conn.WriteArray(len(claimed))
		for _, p := range claimed {
			c.conn.WriteBulkString(p.ID.String())
		}
	} else {
		s.writeEntries(c, entries)
	}
	c.conn.WriteArray(0) // deleted IDs: Kafka keeps every record the PEL names
	return nil
}

// requireGroup answers NOGROUP for a group that does not exist on topic.
func (s *Server) requireGroup(c *client, topic, group string) error {
	ctx, cancel := context.WithTimeout(s.ctx, keyspaceTimeout)
	defer cancel()
	ok, err := s.groupExists(ctx, group, topic)
	if err != nil {
		return errf("%s", err)
	}
	if !ok {
		return errNoGroup(topic, group, "")
	}
	return nil
}

// claimHead parses XCLAIM's and XAUTOCLAIM's key, group, consumer and
// min-idle-time, and checks the connection may use them.
func claimHead(c *client, args [][]byte) (topic, group, consumerName string, minIdle time.Duration, err error) {
	if topic, err = streamTopic(args[1]); err != nil {
		return
	}
	group, consumerName = string(args[2]), string(args[3])
	if err = checkGroupName(group); err != nil {
		return
	}
	if err = checkConsumerName(consumerName); err != nil {
		return
	}
	if err = c.canConsume(group, []string{topic}); err != nil {
		return
	}
	ms, perr := strconv.ParseInt(string(args[4]), 10, 64)
	if perr != nil || ms < 0 || ms > maxIdleMillis {
		err = errf("Invalid min-idle-time argument for XCLAIM")
		return
	}
	return topic, group, consumerName, time.Duration(ms) * time.Millisecond, nil
}

// claimedEntries reads pending entries' data again from Kafka (XCLAIM,
// XAUTOCLAIM, a history XREADGROUP), in their order; an entry whose record
// is gone has none. The offsets of one partition that lie close together
// are read at once (one request to the shared readers, not one per entry),
// reading at most claimReadGap records between two of them and
// claimReadSpan in one read. Once the records read take
// maxStreamReadBytes, the entries not read yet are left out: the first
// ones are returned, at least one. It reads in user's read turn.
func (s *Server) claimedEntries(ctx context.Context, user, topic string, claimed []streams.Pending) ([]streamEntry, error) {
	release, err := s.turns.take(ctx, user)
	if err != nil {
		return nil, err
	}
	defer release()
	out := make([]streamEntry, len(claimed))
	read := make([]bool, len(claimed))
	byPartition := make(map[int32][]int) // indexes into claimed, by offset
	for i, p := range claimed {
		out[i].id = p.ID
		part, _, _ := p.ID.Record()
		byPartition[part] = append(byPartition[part], i)
	}
	offset := func(i int) int64 { _, off, _ := claimed[i].ID.Record(); return off }
	if low, _, err := s.meta.watermarks(ctx, topic); err == nil {
		// Gone with retention: no read (each would take a fetch, one by
		// one in readClaimRun's fallback).
		for i, p := range claimed {
			part, off, _ := p.ID.Record()
			if first, ok := low[part]; ok && off < first {
				read[i] = true
			}
		}
	}
	pos := make([]int, len(claimed)) // each entry's place in its partition's list
	for _, idx := range byPartition {
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(offset(a), offset(b)) })
		for k, i := range idx {
			pos[i] = k
		}
	}
	budget := streams.NewReadBudget(maxStreamReadBytes)
	// A run reads ahead in its partition entries that come later in the
	// reply; past the budget only those before the first unread one are
	// returned. So a run takes only entries within the next runMax of the
	// reply, as many as the budget left is likely to hold at the sizes read
	// so far (claimFirstRun before any is read).
	runMax, records := claimFirstRun, 0
	for i := range claimed {
		if read[i] {
			continue
		}
		if budget.Spent() {
			return out[:i], nil
		}
		part, _, _ := claimed[i].ID.Record()
		idx := byPartition[part]
		k := pos[i]
		// The run: this entry, and the partition's unread ones close after it.
		run := []int{i}
		for j := k + 1; j < len(idx) && !read[idx[j]] && idx[j] < i+runMax; j++ {
			next := offset(idx[j])
			if next-offset(run[len(run)-1]) > claimReadGap || next-offset(i) >= claimReadSpan {
				break
			}
			run = append(run, idx[j])
		}
		offsets := make([]int64, len(run))
		for j, r := range run {
			offsets[j] = offset(r)
		}
		at, reached, err := s.readClaimRun(ctx, topic, part, offsets, budget)
		if err != nil {
			return nil, err
		}
		if records += len(at); records > 0 {
			size := max((maxStreamReadBytes-budget.Left())/int64(records), 1)
			runMax = int(max(budget.Left()/size, 1))
		}
		for _, r := range run {
			if offset(r) <= reached {
				out[r].msg, read[r] = at[offset(r)], true // nil: the record is gone
			}
		}
	}
	return out, nil
}

// readClaimRun reads the records at offsets (ascending, close together)
// of a partition in one read, and says up to which offset it read (the
// last, unless budget ran out first). A read starting below the
// partition's first record (gone with retention) finds nothing at all:
// then each is read alone, as the later ones may still be there.
func (s *Server) readClaimRun(ctx context.Context, topic string, part int32, offsets []int64, budget *streams.ReadBudget) (at map[int64]*kafka.Message, reached int64, err error) {
	first, last := offsets[0], offsets[len(offsets)-1]
	msgs, err := s.reader.Read(ctx, topic, part, first, last, int(last-first+1), budget)
	if err != nil {
		return nil, 0, err
	}
	reached = last
	if n := len(msgs); n > 0 && budget.Spent() {
		reached = int64(msgs[n-1].TopicPartition.Offset) // the read stopped there
	}
	if len(msgs) == 0 && len(offsets) > 1 {
		for _, off := range offsets {
			one, err := s.reader.Read(ctx, topic, part, off, off, 1, budget)
			if err != nil {
				return nil, 0, err
			}
			msgs, reached = append(msgs, one...), off
			if budget.Spent() {
				break // each read gives its record, past the budget too
			}
		}
	}
	at = make(map[int64]*kafka.Message, len(msgs))
	for _, m := range msgs {
		at[int64(m.TopicPartition.Offset)] = m
	}
	return at, reached, nil
}

// claimReadGap and claimReadSpan bound what claimedEntries reads beyond
// the claimed records: the offsets between two of them, and one read.
const (
	claimReadGap  = 4
	claimReadSpan = 1000
)

// claimFirstRun bounds how far in the reply the first run claimedEntries
// reads goes, before it knows the records' sizes.
const claimFirstRun = 16

// XINFO STREAM key | GROUPS key | CONSUMERS key group
func cmdXInfo(s *Server, c *client, args [][]byte) error {
	sub := strings.ToLower(string(args[1]))
	if len(args) < 3 {
		return errWrongArgs("xinfo|" + sub)
	}
	topic, err := streamTopic(args[2])
	if err != nil {
		return err
	}
	if c.user != nil && !c.user.CanConsume(topic) {
		return errNoPerm(c.userName(), "consume topic", topic)
	}
	exists, err := s.topicExists(topic)
	if err != nil {
		return errf("%s", err)
	}
	if !exists {
		return errf("no such key")
	}
	ctx, done := c.block(s.ctx)
	defer done()
	switch sub {
	case "stream":
		ctx, cancel := context.WithTimeout(ctx, keyspaceTimeout)
		defer cancel()
		return s.xinfoStream(ctx, c, topic)
	case "groups":
		names := s.visibleGroups(c, topic)
		// Every group's lag first: an error after the reply began would
		// leave the client half a reply.
		lags := make([]int64, len(names))
		for i, g := range names {
			lag, err := s.groupLag(ctx, topic, g)
			if err != nil {
				return errf("%s", err)
			}
			lags[i] = lag
		}
		c.conn.WriteArray(len(names))
		for i, g := range names {
			var consumers, pending int
			last := streams.Min
			for _, m := range s.groups.Of(g, topic) {
				for _, ci := range m.ConsumerInfos(topic) {
					consumers++
					pending += ci.Pending
				}
				if l := m.LastDelivered(topic); last.Less(l) {
					last = l
				}
			}
			c.writeMapHeader(6)
			c.conn.WriteBulkString("name")
			c.conn.WriteBulkString(g)
			c.conn.WriteBulkString("consumers")
			c.conn.WriteInt(consumers)
			c.conn.WriteBulkString("pending")
			c.conn.WriteInt(pending)
			c.conn.WriteBulkString("last-delivered-id")
			c.conn.WriteBulkString(last.String())
			c.conn.WriteBulkString("entries-read")
			c.writeNullBulk()
			c.conn.WriteBulkString("lag")
			c.conn.WriteInt64(lags[i])
		}
		return nil
	case "consumers":
		if len(args) != 4 {
			return errWrongArgs("xinfo|consumers")
		}
		group := string(args[3])
		if err := checkGroupName(group); err != nil {
			return err
		}
		if err := c.canConsume(group, []string{topic}); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, keyspaceTimeout)
		defer cancel()
		if ok, err := s.groupExists(ctx, group, topic); err != nil {
			return errf("%s", err)
		} else if !ok {
			return errNoSuchGroup(topic, group)
		}
		var infos []streams.ConsumerInfo
		for _, m := range s.groups.Of(group, topic) {
			infos = append(infos, m.ConsumerInfos(topic)...)
		}
		c.conn.WriteArray(len(infos))
		for _, ci := range infos {
			idle := time.Since(ci.LastSeen).Milliseconds()
			c.writeMapHeader(4)
			c.conn.WriteBulkString("name")
			c.conn.WriteBulkString(ci.Name)
			c.conn.WriteBulkString("pending")
			c.conn.WriteInt(ci.Pending)
			c.conn.WriteBulkString("idle")
			c.conn.WriteInt64(idle)
			c.conn.WriteBulkString("inactive")
			c.conn.WriteInt64(idle)
		}
		return nil
	}
	return errUnknownSubcommand(string(args[1]))
}

// xinfoStream writes XINFO STREAM: the length, the last ID, the first and
// last entries, the groups with a member here.
func (s *Server) xinfoStream(ctx context.Context, c *client, topic string) error {
	length, err := s.meta.backlog(ctx, topic, "")
	if err != nil {
		return errf("%s", err)
	}
	first, err := s.readRange(ctx, c.owner(), topic, streams.Min, streams.Max, 1, false)
	if err != nil {
		return errf("%s", err)
	}
	last, err := s.readRange(ctx, c.owner(), topic, streams.Min, streams.Max, 1, true)
	if err != nil {
		return errf("%s", err)
	}
	lastID := streams.Min
	if len(last) == 1 {
		lastID = last[0].id
	}
	c.writeMapHeader(10)
	c.conn.WriteBulkString("length")
	c.conn.WriteInt64(length)
	c.conn.WriteBulkString("radix-tree-keys")
	c.conn.WriteInt(0)
	c.conn.WriteBulkString("radix-tree-nodes")
	c.conn.WriteInt(0)
	c.conn.WriteBulkString("last-generated-id")
	c.conn.WriteBulkString(lastID.String())
	c.conn.WriteBulkString("max-deleted-entry-id")
	c.conn.WriteBulkString("0-0")
	c.conn.WriteBulkString("entries-added")
	c.conn.WriteInt64(length)
	c.conn.WriteBulkString("recorded-first-entry-id")
	if len(first) == 1 {
		c.conn.WriteBulkString(first[0].id.String())
	} else {
		c.conn.WriteBulkString("0-0")
	}
	c.conn.WriteBulkString("groups")
	c.conn.WriteInt(len(s.visibleGroups(c, topic)))
	for _, e := range []struct {
		name    string
		entries []streamEntry
	}{{"first-entry", first}, {"last-entry", last}} {
		c.conn.WriteBulkString(e.name)
		if len(e.entries) == 0 {
			c.writeNullArray()
			continue
		}
		s.writeEntry(c, e.entries[0])
	}
	return nil
}

// visibleGroups is the topic's groups here that c may join: XINFO shows
// an ACL user no other tenant's group, nor how many there are.
func (s *Server) visibleGroups(c *client, topic string) []string {
	var names []string
	for _, g := range s.groups.Names(topic) {
		if c.user == nil || c.user.CanJoin(g) {
			names = append(names, g)
		}
	}
	return names
}

// groupLag is a group's lag on topic for XINFO GROUPS, each group's asked
// within the keyspace commands' bound.
func (s *Server) groupLag(ctx context.Context, topic, group string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, keyspaceTimeout)
	defer cancel()
	return s.meta.backlog(ctx, topic, group)
}
