package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

// Sessions are kept in the store (gate.OpenSession): the cookie holds the
// session's secret, the store its SHA-256, the token it was opened with,
// its expiry and its end. Signing out ends it in the store, so a copied
// cookie no longer works on any server sharing it; revoking the token
// ends it too. The CSRF token of a session is an HMAC of its secret under
// the session key (shared by the servers through the keys directory), put
// in every form and checked on every POST; the cookie is HttpOnly,
// SameSite=Strict, and Secure when the public URL is https or TLS ends in
// the process.
type sessions struct {
	g      *gate.Gate
	key    []byte
	maxAge time.Duration
	secure bool // the public URL is https
}

const cookieName = "consentgate_session"

func (s *sessions) csrf(secret string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("csrf\x00" + secret))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *sessions) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure || r.TLS != nil}
}

// issue opens a session for a principal signed in with its token and sets
// its cookie.
func (s *sessions) issue(ctx context.Context, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	secret, err := s.g.OpenSession(ctx, p, s.maxAge)
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(r, secret, int(s.maxAge.Seconds())))
	return nil
}

// read returns the request's session secret and its CSRF token; whether
// the session is still open is the store's to say (gate.SessionPrincipal).
func (s *sessions) read(r *http.Request) (secret, csrf string, ok bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || !access.IsSecret(c.Value) {
		return "", "", false
	}
	return c.Value, s.csrf(c.Value), true
}

// end signs the session out in the store and clears the cookie.
func (s *sessions) end(ctx context.Context, w http.ResponseWriter, r *http.Request, secret string) error {
	s.clear(w, r)
	return s.g.EndSession(ctx, secret)
}

func (s *sessions) clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookie(r, "", -1))
}
