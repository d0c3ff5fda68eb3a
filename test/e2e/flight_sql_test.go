package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestFlightSQLUnimplemented: arrow-go's Flight SQL client (what ADBC's
// Flight SQL driver speaks) gets Unimplemented "Flight SQL is not
// supported" for a query, SQL info, a prepared statement, an update and a
// Flight SQL ticket, instead of a JSON parse error for its protobuf.
func TestFlightSQLUnimplemented(t *testing.T) {
	tf := startFlight(t)
	cl, err := flightsql.NewClient(tf.addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Execute", func() error { _, err := cl.Execute(ctx, "SELECT 1"); return err }},
		{"GetSqlInfo", func() error {
			_, err := cl.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName})
			return err
		}},
		{"GetTables", func() error { _, err := cl.GetTables(ctx, &flightsql.GetTablesOpts{}); return err }},
		{"Prepare", func() error { _, err := cl.Prepare(ctx, "SELECT 1"); return err }},
		{"ExecuteUpdate", func() error { _, err := cl.ExecuteUpdate(ctx, "DELETE FROM t"); return err }},
		{"DoGet of a Flight SQL ticket", func() error {
			// A TicketStatementQuery, as a Flight SQL server would hand out.
			rd, err := cl.DoGet(ctx, &flight.Ticket{Ticket: flightSQLTicket()})
			if err == nil {
				rd.Release()
			}
			return err
		}},
	}
	for _, c := range calls {
		err := c.call()
		if st, _ := status.FromError(err); st.Code() != codes.Unimplemented || st.Message() != "Flight SQL is not supported" {
			t.Errorf("%s: %v, want Unimplemented: Flight SQL is not supported", c.name, err)
		}
	}
	// rafka's own requests are unaffected.
	topic := newTopic(t, 1)
	if _, err := dialFlight(t, tf.addr).GetFlightInfo(ctx, pathDesc(topic)); err != nil {
		t.Errorf("GetFlightInfo of a PATH descriptor: %v", err)
	}
}

// flightSQLTicket is a serialized Any holding a TicketStatementQuery.
func flightSQLTicket() []byte {
	const url = "type.googleapis.com/arrow.flight.protocol.sql.TicketStatementQuery"
	// Any{type_url: url}: field 1, length-delimited.
	return append([]byte{0x0a, byte(len(url))}, url...)
}
