package gate

import (
	"context"
	"errors"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// errNoSession is a session that is unknown, ended, expired, or whose
// token is revoked: the member signs in again.
var errNoSession = &Error{Code: Unauthorized, Message: "the session has ended: sign in again"}

// OpenSession opens a web session for p (signed in with its token) that
// lasts ttl at most, kept in the store so that every server on it knows
// it and its end. It returns the session's secret (the cookie's value),
// never stored.
func (g *Gate) OpenSession(ctx context.Context, p access.Principal, ttl time.Duration) (string, error) {
	if err := g.writable(); err != nil {
		return "", err
	}
	if p.Token == "" {
		return "", Errorf(Internal, NoHint, "a session is opened with a token")
	}
	secret, err := access.NewSecret()
	if err != nil {
		return "", err
	}
	at := now()
	x := store.Session{Hash: access.Hash(secret), Token: p.Token, CreatedAt: at, ExpiresAt: at + timestamp.Time(ttl/time.Microsecond)}
	if err := g.st.AddSession(ctx, x); err != nil {
		return "", err
	}
	return secret, nil
}

// SessionPrincipal resolves a session's secret to the principal of the
// token it was opened with, asking the store every time: Unauthorized
// when the session is unknown, signed out, expired, or its token revoked
// — on whichever server that happened.
func (g *Gate) SessionPrincipal(ctx context.Context, secret string) (access.Principal, error) {
	if secret == "" {
		return access.Principal{}, errNoSession
	}
	x, err := g.st.SessionByHash(ctx, access.Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return access.Principal{}, errNoSession
	}
	if err != nil {
		return access.Principal{}, err
	}
	if x.EndedAt != 0 || now() >= x.ExpiresAt {
		return access.Principal{}, errNoSession
	}
	p, err := g.Principal(ctx, x.Token)
	if err != nil && As(err).Code == Unauthorized {
		return access.Principal{}, errNoSession
	}
	return p, err
}

// EndSession signs a session out: from now on no server on the store
// accepts its secret. An unknown or already ended session is no error.
func (g *Gate) EndSession(ctx context.Context, secret string) error {
	if err := g.writable(); err != nil {
		return err
	}
	err := g.st.EndSession(ctx, access.Hash(secret), now())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
