package arrowflight

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/config"
)

// kafkaTimeoutMs bounds one metadata or offsets request.
const kafkaTimeoutMs = 10000

// cluster answers metadata and offsets questions through one shared
// consumer handle that never subscribes, and creates the consumers of reads.
type cluster struct {
	props config.Properties // consumer properties (bootstrap servers included)
	meta  *kafka.Consumer
}

func newCluster(props config.Properties) (*cluster, error) {
	p := props.Clone()
	p["group.id"] = "rafka-flight-metadata"
	p["enable.auto.commit"] = "false"
	// This handle is never polled: statistics events would pile up in its
	// queue.
	p[config.StatsIntervalProperty] = "0"
	kc, err := kafka.NewConsumer(p.ConfigMap())
	if err != nil {
		return nil, fmt.Errorf("create metadata handle: %w", err)
	}
	return &cluster{props: props, meta: kc}, nil
}

func (c *cluster) close() { _ = c.meta.Close() }

// topics returns every non-internal topic name, sorted.
func (c *cluster) topics() ([]string, error) {
	md, err := c.meta.GetMetadata(nil, true, kafkaTimeoutMs)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "get metadata: %v", err)
	}
	var out []string
	for name, t := range md.Topics {
		if !strings.HasPrefix(name, "__") && t.Error.Code() == kafka.ErrNoError {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// partitions returns the partition ids of topic, sorted; NotFound when the
// topic does not exist.
func (c *cluster) partitions(topic string) ([]int32, error) {
	md, err := c.meta.GetMetadata(&topic, false, kafkaTimeoutMs)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "get metadata of %s: %v", topic, err)
	}
	t, ok := md.Topics[topic]
	if !ok || t.Error.Code() == kafka.ErrUnknownTopicOrPart || t.Error.Code() == kafka.ErrUnknownTopic || len(t.Partitions) == 0 {
		return nil, status.Errorf(codes.NotFound, "topic %q does not exist", topic)
	}
	if t.Error.Code() != kafka.ErrNoError {
		return nil, status.Errorf(codes.Unavailable, "topic %s: %v", topic, t.Error)
	}
	ids := make([]int32, len(t.Partitions))
	for i, p := range t.Partitions {
		ids[i] = p.ID
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// checkPartition returns InvalidArgument unless p is one of parts, the
// sorted partition ids of topic.
func checkPartition(topic string, parts []int32, p int32) error {
	if _, ok := slices.BinarySearch(parts, p); !ok {
		return status.Errorf(codes.InvalidArgument, "topic %s has no partition %d (it has %d)", topic, p, len(parts))
	}
	return nil
}

// watermarks returns a partition's low and high watermarks.
func (c *cluster) watermarks(topic string, partition int32) (low, high int64, err error) {
	low, high, err = c.meta.QueryWatermarkOffsets(topic, partition, kafkaTimeoutMs)
	if err != nil {
		return 0, 0, status.Errorf(codes.Unavailable, "watermarks of %s/%d: %v", topic, partition, err)
	}
	return low, high, nil
}

// offsetForTime returns the first offset whose timestamp is at or after ms,
// or the high watermark when there is none.
func (c *cluster) offsetForTime(topic string, partition int32, ms int64, high int64) (int64, error) {
	res, err := c.meta.OffsetsForTimes([]kafka.TopicPartition{{Topic: &topic, Partition: partition, Offset: kafka.Offset(ms)}}, kafkaTimeoutMs)
	if err != nil {
		return 0, status.Errorf(codes.Unavailable, "offsets for time in %s/%d: %v", topic, partition, err)
	}
	if len(res) != 1 || res[0].Error != nil {
		return 0, status.Errorf(codes.Unavailable, "offsets for time in %s/%d: %v", topic, partition, res)
	}
	if res[0].Offset < 0 {
		return high, nil
	}
	return int64(res[0].Offset), nil
}

// newReader returns an assign-mode consumer (no group, no commits) that
// reports the end of the partition.
func (c *cluster) newReader() (*kafka.Consumer, error) {
	p := c.props.Clone()
	p["group.id"] = "rafka-flight-reader"
	p["enable.auto.commit"] = "false"
	p[config.StatsIntervalProperty] = "0" // reads report no statistics
	p["enable.auto.offset.store"] = "false"
	p["enable.partition.eof"] = "true"
	p["auto.offset.reset"] = "earliest"
	kc, err := kafka.NewConsumer(p.ConfigMap())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "create reader: %v", err)
	}
	return kc, nil
}

// newGroupReader returns a consumer in group that commits only when told.
func (c *cluster) newGroupReader(group string) (*kafka.Consumer, error) {
	p := c.props.Clone()
	p["group.id"] = group
	p["enable.auto.commit"] = "false"
	p[config.StatsIntervalProperty] = "0" // reads report no statistics
	p["enable.auto.offset.store"] = "false"
	p["auto.offset.reset"] = "earliest"
	kc, err := kafka.NewConsumer(p.ConfigMap())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "create group reader: %v", err)
	}
	return kc, nil
}

// isFatal reports whether a consumer error ends a read.
func isFatal(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && ke.IsFatal()
}
