package stats

import (
	"encoding/json"
	"fmt"
)

// The parts of a librdkafka statistics event (statistics.interval.ms; field
// names from librdkafka's STATISTICS.md) that rafka exports. Everything
// else in the document is skipped by the decoder.
type (
	consumerDoc struct {
		Topics map[string]struct {
			Partitions map[string]struct {
				Partition   int32 `json:"partition"`
				ConsumerLag int64 `json:"consumer_lag"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	producerDoc struct {
		MsgCnt  int64 `json:"msg_cnt"`
		MsgSize int64 `json:"msg_size"`
	}
)

// PartitionLag is one partition's consumer lag: the messages between the
// partition's high watermark (last stable offset with read_committed) and
// the group's committed offset.
type PartitionLag struct {
	Topic     string
	Partition int32
	Lag       int64
}

// ParseConsumerLag returns the consumer lag of every partition in a
// consumer's statistics JSON. librdkafka's internal unassigned partition
// (-1) and unknown lags (-1: no committed offset or no watermark yet) are
// left out. The order is unspecified.
func ParseConsumerLag(doc string) ([]PartitionLag, error) {
	var d consumerDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("parse consumer statistics: %w", err)
	}
	var out []PartitionLag
	for topic, t := range d.Topics {
		for _, p := range t.Partitions {
			if p.Partition < 0 || p.ConsumerLag < 0 {
				continue
			}
			out = append(out, PartitionLag{Topic: topic, Partition: p.Partition, Lag: p.ConsumerLag})
		}
	}
	return out, nil
}

// ParseProducerQueue returns the messages and bytes waiting in a producer's
// librdkafka queues (msg_cnt, msg_size) from its statistics JSON.
func ParseProducerQueue(doc string) (messages, bytes int64, err error) {
	var d producerDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return 0, 0, fmt.Errorf("parse producer statistics: %w", err)
	}
	return d.MsgCnt, d.MsgSize, nil
}
