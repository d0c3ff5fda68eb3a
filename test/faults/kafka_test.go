package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaClient returns a franz-go client for admin requests to brokers,
// closed when t ends.
func kafkaClient(t *testing.T, brokers string) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("create Kafka client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// createTopic creates topic with the given partitions, replication factor
// and topic configs, and waits until every partition has a leader.
func createTopic(t *testing.T, ctx context.Context, client *kgo.Client, topic string, partitions, replicas int, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = int32(partitions)
	rt.ReplicationFactor = int16(replicas)
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		led, err := leaders(ctx, client, topic)
		if err == nil && len(led) == partitions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: partitions without a leader after 30 s (%v, %v)", topic, led, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leaders returns the leader node id of each partition of topic that has
// one.
func leaders(ctx context.Context, client *kgo.Client, topic string) (map[int32]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	out := map[int32]int32{}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return nil, fmt.Errorf("metadata for %s: %w", topic, err)
		}
		for _, p := range rt.Partitions {
			if p.Leader >= 0 && p.ErrorCode == 0 {
				out[p.Partition] = p.Leader
			}
		}
	}
	return out, nil
}

// groupCoordinator returns the node id of group's coordinator.
func groupCoordinator(ctx context.Context, client *kgo.Client, group string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	req.CoordinatorKeys = []string{group}
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return 0, fmt.Errorf("find coordinator of %s: %w", group, err)
	}
	if len(resp.Coordinators) > 0 {
		c := resp.Coordinators[0]
		if err := kerr.ErrorForCode(c.ErrorCode); err != nil {
			return 0, fmt.Errorf("find coordinator of %s: %w", group, err)
		}
		return c.NodeID, nil
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, fmt.Errorf("find coordinator of %s: %w", group, err)
	}
	return resp.NodeID, nil
}

// groupState returns group's state (e.g. "Stable") and its member ids, as
// its coordinator describes it.
func groupState(ctx context.Context, client *kgo.Client, group string) (string, []string, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return "", nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	if len(resp.Groups) != 1 {
		return "", nil, fmt.Errorf("describe group %s: %d groups in the reply", group, len(resp.Groups))
	}
	g := resp.Groups[0]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return "", nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	ids := make([]string, len(g.Members))
	for i, m := range g.Members {
		ids[i] = m.MemberID
	}
	slices.Sort(ids)
	return g.State, ids, nil
}

// waitGroupStable waits until group is Stable with members members and has
// kept the same members for longer than the session timeout, for at most
// limit. (A coordinator that restarts or takes over reloads a group as
// Stable with its old members, who only expire a session timeout later.)
// Each attempt uses a new client on brokers: a client keeps dialling a
// coordinator it knows even after that broker died.
func waitGroupStable(ctx context.Context, brokers, group string, members int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var since time.Time // when the current stable member set was first seen
	var seen []string
	var lastErr error
	for {
		state, ids, err := describeOnce(ctx, brokers, group)
		switch {
		case err != nil:
			// A failed look-up (a coordinator moving) says nothing either
			// way.
		case state != "Stable" || len(ids) != members:
			since, seen = time.Time{}, nil
		case !slices.Equal(ids, seen):
			since, seen = time.Now(), ids
		case time.Since(since) > sessionTimeout+time.Second:
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("group %s not steadily Stable with %d members after %s (last: %q with %d members %v; last error %v)", group, members, limit, state, len(ids), ids, lastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// describeOnce asks for group's state through a new client on brokers.
func describeOnce(ctx context.Context, brokers, group string) (string, []string, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.DialTimeout(time.Second), kgo.RetryTimeout(3*time.Second))
	if err != nil {
		return "", nil, fmt.Errorf("create Kafka client: %w", err)
	}
	defer client.Close()
	attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return groupState(attempt, client, group)
}
