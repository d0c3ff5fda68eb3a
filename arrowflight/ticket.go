package arrowflight

import (
	"bytes"
	"encoding/json"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ticketVersion is the version of the ticket format below.
const ticketVersion = 1

// followEnd is a ticket's end for a read that follows the partition.
const followEnd = -1

// ticket fully describes one endpoint's read, so any rafka instance of the
// same cluster can redeem it: no server-side state. In group mode the
// partition and range are unused.
type ticket struct {
	V int `json:"v"`
	readOptions
	Partition int32 `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"` // exclusive; followEnd follows
}

func (t *ticket) encode() []byte {
	t.V = ticketVersion
	b, _ := json.Marshal(t)
	return b
}

// decodeTicket reads a ticket and checks every field as its descriptor was
// checked: the client holds the ticket and may have edited it.
// maxBatchBytes is the server's ceiling of max_batch_bytes.
func decodeTicket(b []byte, maxBatchBytes int) (*ticket, error) {
	if isFlightSQL(b) {
		return nil, errFlightSQL
	}
	var t ticket
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "ticket: %v", err)
	}
	if t.V != ticketVersion {
		return nil, status.Errorf(codes.InvalidArgument, "ticket version %d is not supported (want %d)", t.V, ticketVersion)
	}
	if err := t.check(maxBatchBytes); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "ticket: %v", err)
	}
	if t.Group == "" && (t.Start < 0 || (t.End < t.Start && t.End != followEnd)) {
		return nil, status.Errorf(codes.InvalidArgument, "ticket: bad range %d..%d", t.Start, t.End)
	}
	return &t, nil
}
