package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"rafka/streams"
)

// XDEL key id [id ...]: Kafka cannot delete one record, so nothing is
// deleted and the reply is 0, as Redis replies for IDs it does not hold.
func cmdXDel(s *Server, c *client, args [][]byte) error {
	if _, err := streamTopic(args[1]); err != nil {
		return err
	}
	for _, a := range args[2:] {
		if _, err := streams.ParseID(string(a), 0); err != nil {
			return errf("%s", err)
		}
	}
	c.conn.WriteInt(0)
	return nil
}

// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]: MINID (exact)
// deletes, in each partition, the records whose IDs are below threshold
// (Kafka's DeleteRecords) and replies how many went; an approximate trim
// does nothing (Kafka's retention trims) and replies 0; an exact MAXLEN,
// which Kafka cannot express across partitions, is refused.
func cmdXTrim(s *Server, c *client, args [][]byte) error {
	topic, err := streamTopic(args[1])
	if err != nil {
		return err
	}
	// Deleting records takes them from every reader of the topic (every
	// group, BLPOP's too): the unrestricted user's right only.
	if err := c.adminOnly("XTRIM"); err != nil {
		return err
	}
	strategy := strings.ToLower(string(args[2]))
	rest := args[3:]
	approx := false
	if len(rest) > 0 && (string(rest[0]) == "~" || string(rest[0]) == "=") {
		approx, rest = string(rest[0]) == "~", rest[1:]
	}
	if len(rest) != 1 && !(len(rest) == 3 && strings.EqualFold(string(rest[1]), "limit")) {
		return errSyntax
	}
	switch strategy {
	case "maxlen":
		if _, err := strconv.ParseUint(string(rest[0]), 10, 63); err != nil {
			return errNotInteger
		}
		if !approx {
			return errExactTrim
		}
		c.conn.WriteInt(0)
		return nil
	case "minid":
	default:
		return errSyntax
	}
	minID, err := streams.ParseID(string(rest[0]), 0)
	if err != nil {
		return errf("%s", err)
	}
	if approx {
		c.conn.WriteInt(0)
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, keyspaceTimeout)
	defer cancel()
	n, err := s.meta.deleteBelow(ctx, topic, minID)
	if err != nil {
		return errf("%s", err)
	}
	c.conn.WriteInt64(n)
	return nil
}

// deleteBelow deletes every record of topic whose ID is below id and
// returns how many went.
func (m *metadata) deleteBelow(ctx context.Context, topic string, id streams.ID) (int64, error) {
	low, high, err := m.watermarks(ctx, topic)
	if err != nil {
		return 0, err
	}
	var tps []kafka.TopicPartition
	for p, hi := range high {
		if cut := min(streams.FirstOffset(p, id), hi); cut > low[p] {
			tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.Offset(cut)})
		}
	}
	if len(tps) == 0 {
		return 0, nil
	}
	a, release, err := m.acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	res, err := a.DeleteRecords(ctx, tps)
	if err != nil {
		return 0, fmt.Errorf("delete records of %s: %w", topic, err)
	}
	var n int64
	for _, r := range res.DeleteRecordsResults {
		if r.TopicPartition.Error != nil {
			return n, fmt.Errorf("delete records of %s:%d: %w", topic, r.TopicPartition.Partition, r.TopicPartition.Error)
		}
		if r.DeletedRecords != nil {
			n += int64(r.DeletedRecords.LowWatermark) - low[r.TopicPartition.Partition]
		}
	}
	return n, nil
}
