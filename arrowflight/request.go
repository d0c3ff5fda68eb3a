package arrowflight

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/arrowenc"
	"rafka/clientname"
	"rafka/topicname"
)

// Limits of a read. Descriptors and tickets get the same ones: a ticket is
// client-held JSON, so it is checked again when it is redeemed. The default
// batch caps keep every message under the 4 MiB that Go Flight clients
// accept by default.
const (
	defaultBatchRows  = 65536
	defaultBatchBytes = 3670016 // 3.5 MiB
	maxBatchRows      = 1 << 20
	minBatchBytes     = 1024
	defaultIdle       = 2000 // ms, group mode
	maxIdleMs         = 10 * 60 * 1000
	maxMaxRecords     = 1 << 53 // the largest integer every JSON reader keeps exact
)

// readOptions are the fields a CMD descriptor and the tickets made from it
// share. check is their one validation, for a descriptor at GetFlightInfo
// and for a ticket again at DoGet.
type readOptions struct {
	Topic         string   `json:"topic"`
	Columns       []string `json:"columns,omitempty"`
	MaxBatchRows  int      `json:"max_batch_rows"`
	MaxBatchBytes int      `json:"max_batch_bytes"`
	Compression   string   `json:"compression,omitempty"`
	Group         string   `json:"group,omitempty"` // group mode
	MaxRecords    int64    `json:"max_records,omitempty"`
	IdleMs        int64    `json:"idle_ms,omitempty"`
}

// check validates every field against the limits above and the server's
// ceiling of max_batch_bytes. It does not apply defaults: a descriptor's are
// applied before, a ticket always carries them.
func (o *readOptions) check(maxBatchBytes int) error {
	if o.Topic == "" {
		return errors.New(`"topic" is required`)
	}
	// A topic that is not a legal Kafka name could be a regular expression
	// to a group-mode subscription.
	if err := topicname.Check(o.Topic); err != nil {
		return err
	}
	if o.MaxBatchRows < 1 || o.MaxBatchRows > maxBatchRows {
		return fmt.Errorf("max_batch_rows must be from 1 to %d, got %d", maxBatchRows, o.MaxBatchRows)
	}
	if o.MaxBatchBytes < minBatchBytes || o.MaxBatchBytes > maxBatchBytes {
		return fmt.Errorf("max_batch_bytes must be from %d to %d, got %d", minBatchBytes, maxBatchBytes, o.MaxBatchBytes)
	}
	if _, err := arrowenc.ParseCompression(o.Compression); err != nil {
		return err
	}
	if _, err := arrowenc.Schema(o.Columns, ""); err != nil {
		return err
	}
	if o.MaxRecords < 0 || o.MaxRecords > maxMaxRecords {
		return fmt.Errorf("max_records must be from 0 (no limit) to %d, got %d", int64(maxMaxRecords), o.MaxRecords)
	}
	if o.IdleMs < 0 || o.IdleMs > maxIdleMs {
		return fmt.Errorf("idle_ms must be from 0 (the default, %d) to %d, got %d", defaultIdle, maxIdleMs, o.IdleMs)
	}
	if o.Group == "" && (o.MaxRecords != 0 || o.IdleMs != 0) {
		return errors.New("max_records and idle_ms apply to group mode only")
	}
	// librdkafka cuts a group name at a NUL: "bob-g\x00-carol" would pass
	// the ACL pattern "*-carol" and join group "bob-g".
	if o.Group != "" {
		if err := clientname.CheckGroup(o.Group); err != nil {
			return err
		}
	}
	return nil
}

// request is a CMD descriptor (arrow.md 3.1), or the equivalent of a PATH
// descriptor.
type request struct {
	readOptions
	Partitions []int32         `json:"partitions"`
	Start      json.RawMessage `json:"start"`
	End        json.RawMessage `json:"end"`
}

// parseDescriptor reads a PATH or CMD descriptor.
// maxBatchBytes is the server's ceiling of max_batch_bytes.
func parseDescriptor(d *flight.FlightDescriptor, maxBatchBytes int) (*request, error) {
	if d == nil {
		return nil, status.Error(codes.InvalidArgument, "missing flight descriptor")
	}
	var r request
	switch d.Type {
	case flight.DescriptorPATH:
		if len(d.Path) != 1 || d.Path[0] == "" {
			return nil, status.Errorf(codes.InvalidArgument, "a PATH descriptor is [<topic>], got %q", d.Path)
		}
		r.Topic = d.Path[0]
	case flight.DescriptorCMD:
		if isFlightSQL(d.Cmd) {
			return nil, errFlightSQL
		}
		dec := json.NewDecoder(bytes.NewReader(d.Cmd))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "CMD descriptor: %v", err)
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unsupported descriptor type %v", d.Type)
	}
	if err := r.validate(maxBatchBytes); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return &r, nil
}

// validate applies the defaults and checks the request.
func (r *request) validate(maxBatchBytes int) error {
	if r.MaxBatchRows == 0 {
		r.MaxBatchRows = defaultBatchRows
	}
	if r.MaxBatchBytes == 0 {
		r.MaxBatchBytes = min(defaultBatchBytes, maxBatchBytes)
	}
	if err := r.check(maxBatchBytes); err != nil {
		return err
	}
	if r.Group != "" && (len(r.Start) > 0 || len(r.End) > 0 || len(r.Partitions) > 0) {
		return errors.New("group mode reads from the group's committed offsets: start, end and partitions do not apply")
	}
	seen := make(map[int32]bool, len(r.Partitions))
	for _, p := range r.Partitions {
		if seen[p] {
			return fmt.Errorf("partitions: %d is listed twice", p)
		}
		seen[p] = true
	}
	if _, err := parseStart(r.Start); err != nil {
		return err
	}
	if _, err := parseEnd(r.End); err != nil {
		return err
	}
	return nil
}

// positionKind says how a start or end position is given.
type positionKind int

const (
	posEarliest positionKind = iota
	posLatest
	posOffset
	posTimestamp
	posLast
	posFollow
)

// position is a parsed start or end.
type position struct {
	kind positionKind
	n    int64 // offset, timestamp (ms) or count
}

// parseStart reads "earliest" | "latest" | <offset> | {"timestamp": ms} |
// {"last": n}; absent means earliest.
func parseStart(raw json.RawMessage) (position, error) {
	p, err := parsePosition(raw, position{kind: posEarliest})
	if err != nil {
		return p, fmt.Errorf("start: %w", err)
	}
	if p.kind == posFollow {
		return p, fmt.Errorf(`start: "follow" is an end`)
	}
	return p, nil
}

// parseEnd reads "latest" | <offset> | {"timestamp": ms} | "follow"; absent
// means latest.
func parseEnd(raw json.RawMessage) (position, error) {
	p, err := parsePosition(raw, position{kind: posLatest})
	if err != nil {
		return p, fmt.Errorf("end: %w", err)
	}
	if p.kind == posEarliest || p.kind == posLast {
		return p, fmt.Errorf(`end: "earliest" and "last" are starts`)
	}
	return p, nil
}

func parsePosition(raw json.RawMessage, def position) (position, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return def, nil
	}
	var word string
	if json.Unmarshal(raw, &word) == nil {
		switch word {
		case "earliest":
			return position{kind: posEarliest}, nil
		case "latest":
			return position{kind: posLatest}, nil
		case "follow":
			return position{kind: posFollow}, nil
		}
		return position{}, fmt.Errorf("unknown position %q", word)
	}
	var num json.Number
	if err := json.Unmarshal(raw, &num); err == nil {
		n, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil || n < 0 {
			return position{}, fmt.Errorf("offset must be a non-negative integer, got %s", num)
		}
		return position{kind: posOffset, n: n}, nil
	}
	var obj map[string]int64
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		return position{}, fmt.Errorf(`expected "earliest", "latest", an offset, {"timestamp": ms} or {"last": n}, got %s`, raw)
	}
	for k, v := range obj {
		if v < 0 {
			return position{}, fmt.Errorf("%s must not be negative", k)
		}
		switch k {
		case "timestamp":
			return position{kind: posTimestamp, n: v}, nil
		case "last":
			return position{kind: posLast, n: v}, nil
		}
		return position{}, fmt.Errorf("unknown position field %q", k)
	}
	return position{}, nil
}
