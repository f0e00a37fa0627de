package gate

import (
	"context"
	"errors"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/store"
)

// Token is a token as listed: its SHA-256, never the token.
type Token = store.Token

// CreateToken makes a token for a role (and, for the subject role, the
// subject it reaches) and keeps its SHA-256: the secret is returned once.
func (g *Gate) CreateToken(ctx context.Context, role access.Role, subject string) (string, error) {
	if err := g.writable(); err != nil {
		return "", err
	}
	if role.ForSubject() && subject == "" {
		return "", invalid("a %s token reaches one subject: name it", role)
	}
	if !role.ForSubject() && subject != "" {
		return "", invalid("only subject tokens name a subject")
	}
	secret, err := access.NewSecret()
	if err != nil {
		return "", err
	}
	t := store.Token{Hash: access.Hash(secret), Role: string(role), Subject: subject, CreatedAt: now()}
	if err := g.st.AddToken(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

// RevokeToken ends a token, given as the token or its SHA-256; it returns
// the hash. NotFound for an unknown token.
func (g *Gate) RevokeToken(ctx context.Context, token string) (string, error) {
	if err := g.writable(); err != nil {
		return "", err
	}
	hash := token
	if access.IsSecret(token) {
		hash = access.Hash(token)
	}
	if err := g.st.RevokeToken(ctx, hash, now()); errors.Is(err, store.ErrNotFound) {
		return "", notFound("there is no such token")
	} else if err != nil {
		return "", err
	}
	g.tokens.Delete(hash)
	return hash, nil
}

// Tokens lists every token's hash, role, subject and whether it is
// revoked, oldest first.
func (g *Gate) Tokens(ctx context.Context) ([]Token, error) {
	ts, err := g.st.Tokens(ctx)
	if ts == nil && err == nil {
		ts = []Token{}
	}
	return ts, err
}

// tokenTTL is how long a looked-up token is trusted without asking the
// store again: a revocation takes effect within it.
const tokenTTL = 2 * time.Second

type cachedToken struct {
	p       access.Principal
	expires time.Time
}

var errUnauthorized = &Error{Code: Unauthorized, Message: "a valid token is required"}

// Authenticate resolves a bearer token to its principal; Unauthorized for
// a missing, unknown or revoked one. Valid tokens are remembered for two
// seconds.
func (g *Gate) Authenticate(ctx context.Context, token string) (access.Principal, error) {
	if token == "" {
		return access.Principal{}, errUnauthorized
	}
	hash := access.Hash(token)
	if c, ok := g.tokens.Load(hash); ok && time.Now().Before(c.(cachedToken).expires) {
		return c.(cachedToken).p, nil
	}
	p, err := g.Principal(ctx, hash)
	if err == nil {
		g.tokens.Store(hash, cachedToken{p, time.Now().Add(tokenTTL)})
	}
	return p, err
}

// Principal resolves a token's hash (a web session's) to its principal,
// asking the store every time: a revoked token's session ends at once.
func (g *Gate) Principal(ctx context.Context, hash string) (access.Principal, error) {
	t, err := g.st.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.RevokedAt != 0) {
		return access.Principal{}, errUnauthorized
	}
	if err != nil {
		return access.Principal{}, err
	}
	return access.Principal{Role: access.Role(t.Role), Subject: t.Subject, Token: t.Hash}, nil
}
