package arrowflight

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// flightSQLPrefix begins the type URL of every Flight SQL message, which
// travels as a protobuf Any in a CMD descriptor, a ticket or an action
// body.
const flightSQLPrefix = "type.googleapis.com/arrow.flight.protocol.sql."

// errFlightSQL answers a Flight SQL client (ADBC's driver, say), which
// would otherwise get a JSON parse error for its protobuf.
var errFlightSQL = status.Error(codes.Unimplemented, "Flight SQL is not supported")

// isFlightSQL reports whether b is a Flight SQL message: a protobuf Any
// whose type URL names one.
func isFlightSQL(b []byte) bool {
	if len(b) == 0 || b[0] == '{' { // rafka's own requests are JSON objects
		return false
	}
	var a anypb.Any
	return proto.Unmarshal(b, &a) == nil && strings.HasPrefix(a.GetTypeUrl(), flightSQLPrefix)
}
