package arrowflight

import (
	"encoding/json"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/acl"
	"rafka/topicname"
)

const actionTopicInfo = "topic-info"

// ListActions lists the actions DoAction serves.
func (s *Service) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	return stream.Send(&flight.ActionType{
		Type:        actionTopicInfo,
		Description: `watermarks of every partition of a topic; body: {"topic": "<name>"} or the name`,
	})
}

// topicInfo is the result of the topic-info action.
type topicInfo struct {
	Topic      string          `json:"topic"`
	Partitions []partitionInfo `json:"partitions"`
}

type partitionInfo struct {
	Partition int32 `json:"partition"`
	Low       int64 `json:"low"`
	High      int64 `json:"high"`
}

// DoAction serves topic-info.
func (s *Service) DoAction(a *flight.Action, stream flight.FlightService_DoActionServer) error {
	if isFlightSQL(a.GetBody()) {
		return errFlightSQL
	}
	if a.GetType() != actionTopicInfo {
		return status.Errorf(codes.InvalidArgument, "unknown action %q (actions: %s)", a.GetType(), actionTopicInfo)
	}
	topic := strings.TrimSpace(string(a.GetBody()))
	if strings.HasPrefix(topic, "{") {
		var body struct {
			Topic string `json:"topic"`
		}
		if err := json.Unmarshal(a.GetBody(), &body); err != nil {
			return status.Errorf(codes.InvalidArgument, "topic-info body: %v", err)
		}
		topic = body.Topic
	}
	if topic == "" {
		return status.Error(codes.InvalidArgument, "topic-info needs a topic")
	}
	if err := topicname.Check(topic); err != nil {
		return status.Errorf(codes.InvalidArgument, "topic-info: %v", err)
	}
	if err := s.allow(stream.Context(), acl.ConsumeTopic, topic); err != nil {
		return err
	}
	parts, err := s.cluster.partitions(topic)
	if err != nil {
		return err
	}
	info := topicInfo{Topic: topic}
	for _, p := range parts {
		low, high, err := s.cluster.watermarks(topic, p)
		if err != nil {
			return err
		}
		info.Partitions = append(info.Partitions, partitionInfo{Partition: p, Low: low, High: high})
	}
	body, _ := json.Marshal(info)
	return stream.Send(&flight.Result{Body: body})
}
