package arrowflight

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/arrowenc"
	"rafka/topic"
)

// Batch caps: the defaults keep every message under the 4 MiB that Go
// Flight clients accept by default.
const (
	defaultBatchRows  = 65536
	defaultBatchBytes = 3670016 // 3.5 MiB
	maxBatchRows      = 1 << 20
	maxBatchBytes     = 64 << 20
	defaultIdle       = 2000 // ms, group mode
)

// request is a CMD descriptor (arrow.md 3.1), or the equivalent of a PATH
// descriptor.
type request struct {
	Topic         string          `json:"topic"`
	Partitions    []int32         `json:"partitions"`
	Start         json.RawMessage `json:"start"`
	End           json.RawMessage `json:"end"`
	Columns       []string        `json:"columns"`
	MaxBatchRows  int             `json:"max_batch_rows"`
	MaxBatchBytes int             `json:"max_batch_bytes"`
	Compression   string          `json:"compression"`
	Group         string          `json:"group"`
	MaxRecords    int64           `json:"max_records"`
	IdleMs        int64           `json:"idle_ms"`
}

// parseDescriptor reads a PATH or CMD descriptor.
func parseDescriptor(d *flight.FlightDescriptor) (*request, error) {
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
		dec := json.NewDecoder(bytes.NewReader(d.Cmd))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "CMD descriptor: %v", err)
		}
		if r.Topic == "" {
			return nil, status.Error(codes.InvalidArgument, `CMD descriptor: "topic" is required`)
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unsupported descriptor type %v", d.Type)
	}
	if err := topic.Check(r.Topic); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	if err := r.validate(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return &r, nil
}

func (r *request) validate() error {
	if r.MaxBatchRows == 0 {
		r.MaxBatchRows = defaultBatchRows
	}
	if r.MaxBatchBytes == 0 {
		r.MaxBatchBytes = defaultBatchBytes
	}
	if r.MaxBatchRows < 1 || r.MaxBatchRows > maxBatchRows {
		return fmt.Errorf("max_batch_rows must be from 1 to %d", maxBatchRows)
	}
	if r.MaxBatchBytes < 1024 || r.MaxBatchBytes > maxBatchBytes {
		return fmt.Errorf("max_batch_bytes must be from 1024 to %d", maxBatchBytes)
	}
	if _, err := arrowenc.ParseCompression(r.Compression); err != nil {
		return err
	}
	if _, err := arrowenc.Schema(r.Columns, ""); err != nil {
		return err
	}
	if r.MaxRecords < 0 || r.IdleMs < 0 {
		return fmt.Errorf("max_records and idle_ms must not be negative")
	}
	if r.Group == "" && (r.MaxRecords != 0 || r.IdleMs != 0) {
		return fmt.Errorf("max_records and idle_ms apply to group mode only")
	}
	if r.Group != "" && (len(r.Start) > 0 || len(r.End) > 0 || len(r.Partitions) > 0) {
		return fmt.Errorf("group mode reads from the group's committed offsets: start, end and partitions do not apply")
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
