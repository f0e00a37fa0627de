package gate

import (
	"context"
	"errors"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Token is a token as listed: its SHA-256, never the token, and whom it
// reaches (a subject token's subject, a recipient token's recipient).
type Token struct {
	Hash      string         `json:"hash"`
	Role      string         `json:"role"`
	Subject   string         `json:"subject,omitempty"`
	Recipient string         `json:"recipient,omitempty"`
	CreatedAt timestamp.Time `json:"created_at"`
	RevokedAt timestamp.Time `json:"revoked_at,omitempty"` // 0 while valid
}

// CreateToken makes a token for a role and keeps its SHA-256: the secret
// is returned once. scope is the subject a subject token reaches, or the
// recipient id whose notices a recipient token reaches (a recipient some
// published version declares), and "" for the other roles. The store
// keeps the scope in the token's subject column.
func (g *Gate) CreateToken(ctx context.Context, role access.Role, scope string) (string, error) {
	if err := g.writable(); err != nil {
		return "", err
	}
	switch {
	case role.ForSubject() && scope == "":
		return "", invalid("a subject token reaches one subject: name it")
	case role.ForRecipient() && scope == "":
		return "", invalid("a recipient token reaches one recipient's notices: name the recipient")
	case !role.ForSubject() && !role.ForRecipient() && scope != "":
		return "", invalid("only subject and recipient tokens name whom they reach")
	}
	if role.ForRecipient() {
		if err := g.declaredRecipient(ctx, scope); err != nil {
			return "", err
		}
	}
	subject := scope
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

// RevokeToken ends a token, given as the token or its SHA-256, and the
// web sessions opened with it; it returns the hash. NotFound for an
// unknown token.
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
	// Its web sessions end with it (they would be refused anyway: a
	// session's token is looked up on every request).
	if err := g.st.EndTokenSessions(ctx, hash, now()); err != nil {
		return "", err
	}
	return hash, nil
}

// Tokens lists every token's hash, role, subject and whether it is
// revoked, oldest first.
func (g *Gate) Tokens(ctx context.Context) ([]Token, error) {
	ts, err := g.st.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(ts))
	for i, t := range ts {
		out[i] = Token{Hash: t.Hash, Role: t.Role, Subject: t.Subject, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
		if access.Role(t.Role).ForRecipient() {
			out[i].Subject, out[i].Recipient = "", t.Subject
		}
	}
	return out, nil
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
	p := access.Principal{Role: access.Role(t.Role), Subject: t.Subject, Token: t.Hash}
	if p.Role.ForRecipient() { // the subject column holds the recipient id
		p.Subject, p.Recipient = "", t.Subject
	}
	return p, nil
}

// declaredRecipient refuses a recipient id no published version declares.
func (g *Gate) declaredRecipient(ctx context.Context, id string) error {
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return err
	}
	for i := 1; i < vs.Len(); i++ {
		if _, ok := vs.Table(i).Doc.RecipientClass(id); ok {
			return nil
		}
	}
	return invalid("recipient %q: no published policy version declares it", id)
}
