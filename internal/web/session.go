package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sessions are stateless signed cookies, so that several server processes
// sharing the keys directory accept each other's: the token's hash, an
// expiry and an HMAC-SHA256 under the session key. The CSRF token of a
// session is another HMAC of the same, put in every form and checked on
// every POST; the cookie is HttpOnly and SameSite=Strict besides.
type sessions struct {
	key    []byte
	maxAge time.Duration
}

const cookieName = "consentgate_session"

func (s *sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(m.Sum(nil))
}

// issue sets the session cookie for a token hash.
func (s *sessions) issue(w http.ResponseWriter, r *http.Request, tokenHash string) {
	exp := strconv.FormatInt(time.Now().Add(s.maxAge).Unix(), 10)
	v := tokenHash + "." + exp + "." + s.mac("session", tokenHash, exp)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString([]byte(v)), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(s.maxAge.Seconds())})
}

// read returns the session's token hash and its CSRF token.
func (s *sessions) read(r *http.Request) (tokenHash, csrf string, ok bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return "", "", false
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(s.mac("session", parts[0], parts[1]))) {
		return "", "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return "", "", false
	}
	return parts[0], s.mac("csrf", parts[0], parts[1]), true
}

func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
