package arrowflight

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tokenLifetime is how long a bearer token issued by the Basic handshake
// stays valid.
const tokenLifetime = 12 * time.Hour

// authenticator checks static bearer tokens and Basic credentials; Basic
// credentials are exchanged for a bearer token in the handshake (arrow-go's
// BasicAuthValidator).
type authenticator struct {
	tokens []string          // static bearer tokens
	users  map[string]string // user -> password

	mu     sync.Mutex
	issued map[string]issuedToken
}

type issuedToken struct {
	user    string
	expires time.Time
}

func newAuthenticator(tokens []string, users map[string]string) *authenticator {
	return &authenticator{tokens: tokens, users: users, issued: map[string]issuedToken{}}
}

// enabled reports whether any credential is configured.
func (a *authenticator) enabled() bool { return len(a.tokens) > 0 || len(a.users) > 0 }

// Validate checks Basic credentials and issues a bearer token.
func (a *authenticator) Validate(user, password string) (string, error) {
	want, ok := a.users[user]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
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
	a.issued[token] = issuedToken{user: user, expires: now.Add(tokenLifetime)}
	return token, nil
}

// IsValid checks a bearer token: a static one, or one issued by Validate.
func (a *authenticator) IsValid(token string) (any, error) {
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			return "token", nil
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if it, ok := a.issued[token]; ok && time.Now().Before(it.expires) {
		return it.user, nil
	}
	return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
}
