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
// without credentials is refused at once; a host that sent too many wrong
// tokens waits before its next token is checked, as for passwords (a
// static token may be guessable).
func (a *authenticator) bearer(ctx context.Context) (context.Context, error) {
	scheme, token := authorization(ctx)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, status.Error(codes.Unauthenticated, "authenticate first: send authorization: Bearer <token>, or use the Basic handshake")
	}
	if err := a.gate(ctx); err != nil {
		return nil, err
	}
	who := a.lookup(token)
	if who == nil {
		a.failed(ctx)
		return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	return context.WithValue(ctx, callerKey{}, who), nil
}

// handshake checks the call's Basic credentials and issues a bearer token.
// A host that sent too many wrong passwords waits before they are checked.
func (a *authenticator) handshake(ctx context.Context) (string, error) {
	scheme, cred := authorization(ctx)
	if !strings.EqualFold(scheme, "Basic") || cred == "" {
		return "", status.Error(codes.Unauthenticated, "a handshake needs Basic credentials: authorization: Basic <base64 user:password>")
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(cred, "="))
	user, password, ok := strings.Cut(string(raw), ":")
	if err := a.gate(ctx); err != nil {
		return "", err
	}
	var who *caller
	if err == nil && ok {
		who = a.check(user, password)
	}
	if who == nil {
		a.failed(ctx)
		return "", status.Error(codes.Unauthenticated, "invalid username or password")
	}
	return a.issue(who)
}

// peerHost is the host of the call's peer, the unit failed logins are
// counted by.
func peerHost(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return authlimit.Host(p.Addr.String())
	}
	return "unknown"
}

// gate waits while the call's host has spent its allowance of failed
// logins, before its credentials are checked: a right guess is not answered
// sooner than a wrong one.
func (a *authenticator) gate(ctx context.Context) error {
	if err := a.limit.Wait(ctx, peerHost(ctx)); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// failed records a failed login of the call's host.
func (a *authenticator) failed(ctx context.Context) { a.limit.Failed(peerHost(ctx)) }

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
	a.issued[token] = issuedToken{caller: who, expires: now.Add(tokenLifetime)}
	return token, nil
}

// lookup returns the caller of a bearer token, a static one or one issued
// by a handshake, nil when the token is not valid.
func (a *authenticator) lookup(token string) *caller {
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			return a.static
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if it, ok := a.issued[token]; ok && time.Now().Before(it.expires) {
		return it.caller
	}
	return nil
}
