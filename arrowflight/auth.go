package arrowflight

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/acl"
)

// tokenLifetime is how long a bearer token issued by the Basic handshake
// stays valid.
const tokenLifetime = 12 * time.Hour

// caller is who a call runs as. The auth middleware puts it in the call's
// context (flight.AuthFromContext).
type caller struct {
	name string
	// user is the ACL user whose permissions apply; nil means full access
	// (a static token or a --flight-user).
	user *acl.User
}

// callerUser returns the ACL user a call runs as, nil for full access
// (including a service without authentication).
func callerUser(ctx context.Context) *acl.User {
	if c, ok := flight.AuthFromContext(ctx).(*caller); ok {
		return c.user
	}
	return nil
}

// authenticator checks static bearer tokens and Basic credentials; Basic
// credentials (a --flight-user or a user of the ACL file) are exchanged for
// a bearer token in the handshake (arrow-go's BasicAuthValidator).
type authenticator struct {
	tokens []string          // static bearer tokens, full access
	users  map[string]string // --flight-user: user -> password, full access
	acl    *acl.List         // ACL users, limited by their permissions; may be nil
	static *caller           // the identity of a static token

	mu     sync.Mutex
	issued map[string]issuedToken
}

type issuedToken struct {
	caller  *caller
	expires time.Time
}

func newAuthenticator(tokens []string, users map[string]string, list *acl.List) *authenticator {
	return &authenticator{
		tokens: tokens, users: users, acl: list,
		static: &caller{name: "token"},
		issued: map[string]issuedToken{},
	}
}

// enabled reports whether any credential is configured.
func (a *authenticator) enabled() bool {
	return len(a.tokens) > 0 || len(a.users) > 0 || a.acl != nil
}

// Validate checks Basic credentials and issues a bearer token bound to the
// user. A --flight-user is looked up first; New refuses a name that is in
// both places.
func (a *authenticator) Validate(user, password string) (string, error) {
	var who *caller
	if want, ok := a.users[user]; ok {
		if subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1 {
			who = &caller{name: user}
		}
	} else if a.acl != nil {
		if u := a.acl.Authenticate(user, []byte(password)); u != nil {
			who = &caller{name: user, user: u}
		}
	}
	if who == nil {
		return "", status.Error(codes.Unauthenticated, "invalid username or password")
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", status.Errorf(codes.Internal, "issue token: %v", err)
	}
	token := hex.EncodeToString(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for t, it := range a.issued {
		if now.After(it.expires) {
			delete(a.issued, t)
		}
	}
	a.issued[token] = issuedToken{caller: who, expires: now.Add(tokenLifetime)}
	return token, nil
}

// IsValid checks a bearer token, a static one or one issued by Validate,
// and returns the *caller it stands for.
func (a *authenticator) IsValid(token string) (any, error) {
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			return a.static, nil
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if it, ok := a.issued[token]; ok && time.Now().Before(it.expires) {
		return it.caller, nil
	}
	return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
}
