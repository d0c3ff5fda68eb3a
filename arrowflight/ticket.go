package arrowflight

import (
	"encoding/json"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/topic"
)

// ticketVersion is the version of the ticket format below.
const ticketVersion = 1

// followEnd is a ticket's end for a read that follows the partition.
const followEnd = -1

// ticket fully describes one endpoint's read, so any rafka instance of the
// same cluster can redeem it: no server-side state.
type ticket struct {
	V             int      `json:"v"`
	Topic         string   `json:"topic"`
	Partition     int32    `json:"partition"`
	Start         int64    `json:"start"`
	End           int64    `json:"end"` // exclusive; followEnd follows
	Columns       []string `json:"columns,omitempty"`
	MaxBatchRows  int      `json:"max_batch_rows"`
	MaxBatchBytes int      `json:"max_batch_bytes"`
	Compression   string   `json:"compression,omitempty"`
	Group         string   `json:"group,omitempty"` // group mode
	MaxRecords    int64    `json:"max_records,omitempty"`
	IdleMs        int64    `json:"idle_ms,omitempty"`
}

func (t *ticket) encode() []byte {
	t.V = ticketVersion
	b, _ := json.Marshal(t)
	return b
}

func decodeTicket(b []byte) (*ticket, error) {
	var t ticket
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "ticket: %v", err)
	}
	if t.V != ticketVersion {
		return nil, status.Errorf(codes.InvalidArgument, "ticket version %d is not supported (want %d)", t.V, ticketVersion)
	}
	if t.Topic == "" || t.MaxBatchRows < 1 || t.MaxBatchBytes < 1 {
		return nil, status.Error(codes.InvalidArgument, "ticket: missing topic or batch limits")
	}
	// Tickets are client-held: a hand-made one must not name a regular
	// expression for a group-mode subscription.
	if err := topic.Check(t.Topic); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "ticket: %v", err)
	}
	if t.Group == "" && (t.Start < 0 || (t.End < t.Start && t.End != followEnd)) {
		return nil, status.Errorf(codes.InvalidArgument, "ticket: bad range %d..%d", t.Start, t.End)
	}
	return &t, nil
}
