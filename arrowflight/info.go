package arrowflight

import (
	"context"
	"fmt"
	"path"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/acl"
	"rafka/arrowenc"
	"rafka/topicname"
)

// GetFlightInfo returns the schema and one endpoint per partition (one for
// group mode), each with a self-contained ticket.
func (s *Service) GetFlightInfo(ctx context.Context, d *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	r, err := parseDescriptor(d, s.maxBatchBytes())
	if err != nil {
		return nil, err
	}
	if err := s.allowRead(ctx, r.Topic, r.Group); err != nil {
		return nil, err
	}
	return s.flightInfo(d, r)
}

func (s *Service) flightInfo(d *flight.FlightDescriptor, r *request) (*flight.FlightInfo, error) {
	schema, err := s.schema(r.Columns)
	if err != nil {
		return nil, err
	}
	parts, err := s.cluster.partitions(r.Topic)
	if err != nil {
		return nil, err
	}
	info := &flight.FlightInfo{
		Schema:           flight.SerializeSchema(schema, s.mem),
		FlightDescriptor: d,
		TotalBytes:       -1,
	}
	base := ticket{readOptions: r.readOptions}
	if r.Group != "" {
		t := base
		info.Endpoint = []*flight.FlightEndpoint{s.endpoint(&t)}
		info.TotalRecords = -1
		return info, nil
	}
	if len(r.Partitions) > 0 {
		for _, p := range r.Partitions {
			if err := checkPartition(r.Topic, parts, p); err != nil {
				return nil, err
			}
		}
		parts = r.Partitions
	}
	start, _ := parseStart(r.Start)
	end, _ := parseEnd(r.End)
	for _, p := range parts {
		t := base
		t.Partition = p
		if t.Start, t.End, err = s.resolve(r.Topic, p, start, end); err != nil {
			return nil, err
		}
		if t.End == followEnd {
			info.TotalRecords = -1
		} else if info.TotalRecords >= 0 {
			info.TotalRecords += t.End - t.Start
		}
		info.Endpoint = append(info.Endpoint, s.endpoint(&t))
	}
	return info, nil
}

// resolve turns start and end into offsets of one partition, using the
// watermarks of now: a bounded read never waits for offsets that do not
// exist yet.
func (s *Service) resolve(topic string, p int32, start, end position) (from, to int64, err error) {
	low, high, err := s.cluster.watermarks(topic, p)
	if err != nil {
		return 0, 0, err
	}
	clamp := func(v int64) int64 { return min(max(v, low), high) }
	switch start.kind {
	case posEarliest:
		from = low
	case posLatest:
		from = high
	case posOffset:
		from = clamp(start.n)
	case posLast:
		from = max(low, high-start.n)
	case posTimestamp:
		if from, err = s.cluster.offsetForTime(topic, p, start.n, high); err != nil {
			return 0, 0, err
		}
		from = clamp(from)
	}
	switch end.kind {
	case posFollow:
		return from, followEnd, nil
	case posLatest:
		to = high
	case posOffset:
		to = clamp(end.n)
	case posTimestamp:
		if to, err = s.cluster.offsetForTime(topic, p, end.n, high); err != nil {
			return 0, 0, err
		}
		to = clamp(to)
	}
	return from, max(from, to), nil
}

func (s *Service) endpoint(t *ticket) *flight.FlightEndpoint {
	ep := &flight.FlightEndpoint{Ticket: &flight.Ticket{Ticket: t.encode()}}
	if s.cfg.Advertise != "" {
		scheme := "grpc+tcp://"
		if s.cfg.TLS != nil {
			scheme = "grpc+tls://"
		}
		ep.Location = []*flight.Location{{Uri: scheme + s.cfg.Advertise}}
	}
	return ep
}

func (s *Service) schema(columns []string) (*arrow.Schema, error) {
	schema, err := arrowenc.Schema(columns, s.cfg.Version)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return schema, nil
}

// GetSchema returns the (projected) schema for a descriptor.
func (s *Service) GetSchema(ctx context.Context, d *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	r, err := parseDescriptor(d, s.maxBatchBytes())
	if err != nil {
		return nil, err
	}
	if err := s.allowRead(ctx, r.Topic, r.Group); err != nil {
		return nil, err
	}
	if _, err := s.cluster.partitions(r.Topic); err != nil {
		return nil, err
	}
	schema, err := s.schema(r.Columns)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(schema, s.mem)}, nil
}

// ListFlights sends one FlightInfo per non-internal topic matching the
// criteria's glob (all when empty), as GetFlightInfo of PATH [topic]. An
// ACL user sees only the topics it may consume.
func (s *Service) ListFlights(c *flight.Criteria, stream flight.FlightService_ListFlightsServer) error {
	user := callerUser(stream.Context())
	glob := string(c.GetExpression())
	if glob == "" {
		glob = "*"
	}
	if err := topicname.CheckGlob(glob); err != nil {
		return status.Errorf(codes.InvalidArgument, "criteria: %v", err)
	}
	topics, err := s.cluster.topics()
	if err != nil {
		return err
	}
	for _, t := range topics {
		if ok, _ := path.Match(glob, t); !ok || user.Check(acl.ConsumeTopic, t) != nil {
			continue
		}
		d := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{t}}
		r := &request{readOptions: readOptions{Topic: t}}
		if err := r.validate(s.maxBatchBytes()); err != nil {
			return status.Errorf(codes.Internal, "%v", err)
		}
		info, err := s.flightInfo(d, r)
		if status.Code(err) == codes.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if err := stream.Send(info); err != nil {
			return fmt.Errorf("send flight info: %w", err)
		}
	}
	return nil
}
