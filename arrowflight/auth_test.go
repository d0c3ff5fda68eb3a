package arrowflight

import (
	"context"
	"encoding/base64"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"rafka/authlimit"
)

// TestAuthenticatorHeaders: the authorization header of a handshake and of
// the other calls, as clients send it.
func TestAuthenticatorHeaders(t *testing.T) {
	a := newAuthenticator([]string{"static"}, map[string]string{"alice": "pw:with:colons"}, nil, authlimit.New(1000, 1000, 10))
	basic := func(s string, enc *base64.Encoding) string { return "Basic " + enc.EncodeToString([]byte(s)) }
	incoming := func(header string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(authHeader, header))
	}
	for _, c := range []struct {
		header string
		ok     bool
	}{
		{basic("alice:pw:with:colons", base64.RawStdEncoding), true}, // the Go client
		{basic("alice:pw:with:colons", base64.StdEncoding), true},    // padded (pyarrow)
		{"basic  " + base64.StdEncoding.EncodeToString([]byte("alice:pw:with:colons")), true},
		{basic("alice:wrong", base64.StdEncoding), false},
		{basic("alice", base64.StdEncoding), false},
		{basic("bob:pw:with:colons", base64.StdEncoding), false},
		{"Basic !!!", false},
		{"Bearer static", false},
		{"", false},
	} {
		token, err := a.handshake(incoming(c.header))
		if c.ok != (err == nil) || (err != nil && status.Code(err) != codes.Unauthenticated) {
			t.Errorf("handshake with %q: %v, want ok=%v", c.header, err, c.ok)
			continue
		}
		if err == nil {
			if _, err := a.bearer(incoming("Bearer " + token)); err != nil {
				t.Errorf("the token of handshake %q: %v", c.header, err)
			}
		}
	}
	for _, c := range []struct {
		header string
		ok     bool
	}{
		{"Bearer static", true},
		{"bearer   static", true},
		{"Bearer other", false},
		{"Basic static", false},
		{"Bearer", false},
		{"", false},
	} {
		ctx, err := a.bearer(incoming(c.header))
		if c.ok != (err == nil) || (err != nil && status.Code(err) != codes.Unauthenticated) {
			t.Errorf("bearer %q: %v, want ok=%v", c.header, err, c.ok)
		}
		if err == nil && ctx.Value(callerKey{}) != a.static {
			t.Errorf("bearer %q: the call does not run as the static token", c.header)
		}
	}
}
