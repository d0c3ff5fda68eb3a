package arrowflight

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"rafka/acl"
	"rafka/authlimit"
)

// tokenLifetime is how long a bearer token issued by the Basic handshake
// stays valid.
const tokenLifetime = 12 * time.Hour

// maxIssued bounds the live issued tokens (a few MB): a user with valid
// credentials cannot grow the table without bound by logging in again and
// again.
const maxIssued = 100_000

// handshakeMethod is the Flight call that exchanges Basic credentials for a
// bearer token.
const handshakeMethod = "/arrow.flight.protocol.FlightService/Handshake"

// authHeader carries "Basic <base64 user:password>" in a handshake and
// "Bearer <token>" in every other call, and the issued token in the
// handshake's trailer (the Flight Basic->Bearer exchange pyarrow and the Go
// client speak).
const authHeader = "authorization"

// caller is who a call runs as. The auth interceptors put it in the call's
// context.
type caller struct {
	name string
	// user is the ACL user whose permissions apply; nil means full access
	// (a static token or a --flight-user).
	user *acl.User
}

// callerKey is the context key of the call's *caller.
type callerKey struct{}

// callerUser returns the ACL user a call runs as, nil for full access
// (including a service without authentication).
func callerUser(ctx context.Context) *acl.User {
	if c, ok := ctx.Value(callerKey{}).(*caller); ok {
		return c.user
	}
	return nil
}

// authenticator checks static bearer tokens and Basic credentials; Basic
// credentials (a --flight-user or a user of the ACL file) are exchanged for
// a bearer token in the handshake. Failed logins are slowed per peer host.
type authenticator struct {
	tokens []string          // static bearer tokens, full access
	users  map[string]string // --flight-user: user -> password, full access
	acl    *acl.List         // ACL users, limited by their permissions; may be nil
	static *caller           // the identity of a static token
	limit  *authlimit.Limiter

	mu     sync.Mutex
	issued map[string]issuedToken
}

type issuedToken struct {
	caller  *caller
	expires time.Time
}

func newAuthenticator(tokens []string, users map[string]string, list *acl.List, limit *authlimit.Limiter) *authenticator {
	return &authenticator{
		tokens: tokens, users: users, acl: list,
		static: &caller{name: "token"},
		limit:  limit,
		issued: map[string]issuedToken{},
	}
}

// enabled reports whether any credential is configured.
func (a *authenticator) enabled() bool {
	return len(a.tokens) > 0 || len(a.users) > 0 || a.acl != nil
}

// unary admits a unary call with a valid bearer token.
func (a *authenticator) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := a.bearer(ctx)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// stream admits a streaming call with a valid bearer token, and answers a
// handshake with valid Basic credentials with a bearer token in the
// trailer.
func (a *authenticator) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if info.FullMethod == handshakeMethod {
		token, err := a.handshake(ss.Context())
		if err != nil {
			return err
		}
		ss.SetTrailer(metadata.Pairs(authHeader, "Bearer "+token))
		return h(srv, ss)
	}
	ctx, err := a.bearer(ss.Context())
	if err != nil {
		return err
	}
	return h(srv, &callerStream{ServerStream: ss, ctx: ctx})
}

// callerStream is a stream whose context carries the caller.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }

// authorization returns the scheme ("Basic", "Bearer") and the credential of
// the call's authorization header, empty when there is none.
func authorization(ctx context.Context) (scheme, credential string) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(authHeader)
	if len(vals) == 0 {
		return "", ""
	}
	scheme, credential, _ = strings.Cut(strings.TrimSpace(vals[0]), " ")
	return scheme, strings.TrimLeft(credential, " ")
}

// bearer returns ctx with the caller of the call's bearer token. A call
// without credentials is refused at once. A token issued by a handshake (192
// random bits) is looked up first; any other token is a login attempt, held
// to the host's allowance of failed logins as a password is (a static token
// may be guessable).
func (a *authenticator) bearer(ctx context.Context) (context.Context, error) {
	scheme, token := authorization(ctx)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, status.Error(codes.Unauthenticated, "authenticate first: send authorization: Bearer <token>, or use the Basic handshake")
	}
	if who := a.lookupIssued(token); who != nil {
		return context.WithValue(ctx, callerKey{}, who), nil
	}
	attempt, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	if !a.isStatic(token) {
		attempt.Failed()
		return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	attempt.Succeeded()
	return context.WithValue(ctx, callerKey{}, a.static), nil
}

// handshake checks the call's Basic credentials and issues a bearer token.
// A host that has spent its allowance of failed logins is refused without a
// check.
func (a *authenticator) handshake(ctx context.Context) (string, error) {
	scheme, cred := authorization(ctx)
	if !strings.EqualFold(scheme, "Basic") || cred == "" {
		return "", status.Error(codes.Unauthenticated, "a handshake needs Basic credentials: authorization: Basic <base64 user:password>")
	}
	attempt, err := a.begin(ctx)
	if err != nil {
		return "", err
	}
	raw, derr := base64.RawStdEncoding.DecodeString(strings.TrimRight(cred, "="))
	user, password, ok := strings.Cut(string(raw), ":")
	var who *caller
	if derr == nil && ok {
		who = a.check(user, password)
	}
	if who == nil {
		attempt.Failed()
		return "", status.Error(codes.Unauthenticated, "invalid username or password")
	}
	attempt.Succeeded()
	return a.issue(who)
}

// begin claims a login attempt of the call's peer host, or refuses the call
// while that host has spent its allowance of failed logins.
func (a *authenticator) begin(ctx context.Context) (authlimit.Attempt, error) {
	host := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host = authlimit.Host(p.Addr.String())
	}
	attempt, ok, retry := a.limit.Begin(host)
	if !ok {
		return attempt, status.Errorf(codes.ResourceExhausted, "too many failed logins from this address; retry in %d ms", max(retry.Milliseconds(), 1))
	}
	return attempt, nil
}

// check returns the caller of valid Basic credentials, nil otherwise. A
// --flight-user is looked up first; New refuses a name that is in both
// places.
func (a *authenticator) check(user, password string) *caller {
	if want, ok := a.users[user]; ok {
		if subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1 {
			return &caller{name: user}
		}
		return nil
	}
	if a.acl != nil {
		if u := a.acl.Authenticate(user, []byte(password)); u != nil {
			return &caller{name: user, user: u}
		}
	}
	return nil
}

// issue returns a new bearer token bound to who, valid for tokenLifetime,
// and forgets the expired ones.
func (a *authenticator) issue(who *caller) (string, error) {
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
	if len(a.issued) >= maxIssued {
		return "", status.Errorf(codes.ResourceExhausted, "%d bearer tokens are live; retry later", maxIssued)
	}
	a.issued[token] = issuedToken{caller: who, expires: now.Add(tokenLifetime)}
	return token, nil
}

// isStatic reports whether token is one of the static bearer tokens.
func (a *authenticator) isStatic(token string) bool {
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			return true
		}
	}
	return false
}

// lookupIssued returns the caller of a token issued by a handshake, nil
// when it is not one (or has expired).
func (a *authenticator) lookupIssued(token string) *caller {
	a.mu.Lock()
	defer a.mu.Unlock()
	if it, ok := a.issued[token]; ok && time.Now().Before(it.expires) {
		return it.caller
	}
	return nil
}
