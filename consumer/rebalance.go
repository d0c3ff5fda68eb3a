package consumer

import (
	"strconv"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// rebalance is librdkafka's rebalance callback; it runs inside Poll (and
// Close) on the poll goroutine. It keeps the assignment set that Ack checks,
// applies the assignment itself, and keeps a paused consumer paused.
func (c *Consumer) rebalance(kc *kafka.Consumer, ev kafka.Event) error {
	cooperative := kc.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, tp := range e.Partitions {
			k := partitionKey{topic: *tp.Topic, partition: tp.Partition}
			c.assigned[k] = true
			c.epochs[k]++
		}
		var err error
		if cooperative {
			err = kc.IncrementalAssign(e.Partitions)
		} else {
			err = kc.Assign(e.Partitions)
		}
		if err != nil {
			c.log.Error().Err(err).Msg("assign partitions")
			return err
		}
		if c.paused {
			if err := kc.Pause(e.Partitions); err != nil {
				c.log.Warn().Err(err).Msg("pause newly assigned partitions")
			}
		}
		c.log.Info().Str("partitions", partitionList(e.Partitions)).Msg("partitions assigned")
	case kafka.RevokedPartitions:
		c.mu.Lock()
		defer c.mu.Unlock()
		revoked := make(map[partitionKey]bool, len(e.Partitions))
		for _, tp := range e.Partitions {
			k := partitionKey{topic: *tp.Topic, partition: tp.Partition}
			revoked[k] = true
			delete(c.assigned, k)
			c.lag.Forget(k.topic, k.partition)
		}
		c.dropLocked(revoked)
		var err error
		if cooperative {
			err = kc.IncrementalUnassign(e.Partitions)
		} else {
			err = kc.Unassign()
		}
		if err != nil {
			c.log.Error().Err(err).Msg("unassign partitions")
			return err
		}
		c.log.Info().Str("partitions", partitionList(e.Partitions)).
			Bool("lost", kc.AssignmentLost()).Msg("partitions revoked")
	}
	return nil
}

// dropLocked removes buffered messages of revoked partitions: they were
// never handed out, and the partitions' new owners will receive them.
func (c *Consumer) dropLocked(revoked map[partitionKey]bool) {
	kept := c.buf[:0]
	for _, m := range c.buf {
		if revoked[keyOf(m)] {
			c.bufBytes -= messageSize(m)
			continue
		}
		kept = append(kept, m)
	}
	for i := len(kept); i < len(c.buf); i++ {
		c.buf[i] = nil
	}
	c.buf = kept
}

func partitionList(parts []kafka.TopicPartition) string {
	b := make([]byte, 0, 16*len(parts))
	for i, tp := range parts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, *tp.Topic...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(tp.Partition), 10)
	}
	return string(b)
}
