package arrowflight

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestIsFlightSQL(t *testing.T) {
	wrap := func(url string) []byte {
		b, err := proto.Marshal(&anypb.Any{TypeUrl: url, Value: []byte{0x0a, 0x01, 'x'}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want bool
	}{
		{"statement query", wrap(flightSQLPrefix + "CommandStatementQuery"), true},
		{"sql info", wrap(flightSQLPrefix + "CommandGetSqlInfo"), true},
		{"another Any", wrap("type.googleapis.com/google.protobuf.Empty"), false},
		{"prefix only as a substring", wrap("x" + flightSQLPrefix + "CommandStatementQuery"), false},
		{"rafka JSON", []byte(`{"topic":"t"}`), false},
		{"empty", nil, false},
		{"garbage", []byte{0xff, 0xff, 0xff, 0x01}, false},
	} {
		if got := isFlightSQL(tc.in); got != tc.want {
			t.Errorf("%s: isFlightSQL = %v, want %v", tc.name, got, tc.want)
		}
	}
}
