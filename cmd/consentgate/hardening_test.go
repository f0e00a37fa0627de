package main

import (
	"io"
	"net/http"
	neturl "net/url"
	"regexp"
	"strings"
	"testing"
)

// visit is one request to the pages without following redirects: the
// session cookie given (if any) and the headers to add, pairwise.
func visit(t *testing.T, method, url, cookie string, form neturl.Values, hdr ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", "consentgate_session="+cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// sessionCookie is the session cookie an answer sets ("" if none).
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "consentgate_session" && c.Value != "" {
			return c
		}
	}
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// signIn exchanges a token for a session at url's area (privacy or
// admin) the way a browser on the same origin does, and returns the
// cookie.
func signIn(t *testing.T, url, area, token string) *http.Cookie {
	t.Helper()
	resp, body := visit(t, "POST", url+"/"+area+"/login", "", neturl.Values{"token": {token}}, "Sec-Fetch-Site", "same-origin", "Origin", url)
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusSeeOther || c == nil {
		t.Fatalf("sign-in at %s: %d, cookie %v\n%.300s", area, resp.StatusCode, c, body)
	}
	return c
}

// signedIn says whether a session cookie opens the area's page on url.
func signedIn(t *testing.T, url, area, cookie string) bool {
	t.Helper()
	resp, body := visit(t, "GET", url+"/"+area, cookie, nil)
	switch {
	case resp.StatusCode == http.StatusOK:
		return true
	case resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/"+area+"/login":
		return false
	}
	t.Fatalf("GET /%s: %d\n%.300s", area, resp.StatusCode, body)
	return false
}

// TestSessionsAcrossServers: two servers on one PostgreSQL store share
// the web sessions and their end. A sign-in from another site is
// refused; signing out on one server ends the session on the other (the
// copied cookie no longer works); revoking the token ends its sessions;
// the pages are no-store and nosniff.
func TestSessionsAcrossServers(t *testing.T) {
	dir, pg, kk := setupPGSchema(t)
	member := strings.TrimSpace(ok(t, dir, pg, kk, "token", "create", "--role", "subject", "--subject", "ana"))
	staff := strings.TrimSpace(ok(t, dir, pg, kk, "token", "create", "--role", "admin"))
	a, b := serve(t, dir, pg, kk), serve(t, dir, pg, kk)

	t.Run("cross-site sign-in refused", func(t *testing.T) {
		for _, area := range []string{"privacy", "admin"} {
			token := map[string]string{"privacy": member, "admin": staff}[area]
			for name, hdr := range map[string][]string{
				"Sec-Fetch-Site: cross-site":  {"Sec-Fetch-Site", "cross-site"},
				"Sec-Fetch-Site: same-site":   {"Sec-Fetch-Site", "same-site"},
				"a foreign Origin":            {"Origin", "https://evil.example"},
				"both, from the other server": {"Sec-Fetch-Site", "cross-site", "Origin", b},
			} {
				resp, body := visit(t, "POST", a+"/"+area+"/login", "", neturl.Values{"token": {token}}, hdr...)
				if resp.StatusCode != http.StatusForbidden || sessionCookie(resp) != nil {
					t.Errorf("%s sign-in with %s: %d, cookie %v", area, name, resp.StatusCode, sessionCookie(resp))
				}
				if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "another site") {
					t.Errorf("%s sign-in with %s: not the error page: %.200s", area, name, body)
				}
			}
		}
	})

	t.Run("sign-out ends the session on every server", func(t *testing.T) {
		c := signIn(t, a, "privacy", member)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure (plain http, no --public-url)", c)
		}
		if !signedIn(t, b, "privacy", c.Value) {
			t.Fatal("the other server does not know the session")
		}
		resp, body := visit(t, "GET", b+"/privacy", c.Value, nil)
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("the privacy centre: Cache-Control %q, X-Content-Type-Options %q", resp.Header.Get("Cache-Control"), resp.Header.Get("X-Content-Type-Options"))
		}
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token on the page:\n%.500s", body)
		}
		// A sign-out from another site is refused too.
		if resp, _ := visit(t, "POST", b+"/privacy/logout", c.Value, neturl.Values{"csrf": {m[1]}}, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a cross-site sign-out: %d", resp.StatusCode)
		}
		resp, _ = visit(t, "POST", b+"/privacy/logout", c.Value, neturl.Values{"csrf": {m[1]}}, "Sec-Fetch-Site", "same-origin")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
		if cleared := resp.Cookies(); len(cleared) != 1 || cleared[0].MaxAge >= 0 {
			t.Errorf("sign-out does not clear the cookie: %v", cleared)
		}
		for _, url := range []string{a, b} {
			if signedIn(t, url, "privacy", c.Value) {
				t.Errorf("%s still takes the signed-out cookie", url)
			}
		}
	})

	t.Run("revoking the token ends its sessions", func(t *testing.T) {
		c1, c2 := signIn(t, a, "admin", staff), signIn(t, b, "admin", staff)
		if !signedIn(t, a, "admin", c1.Value) || !signedIn(t, a, "admin", c2.Value) {
			t.Fatal("sessions not open")
		}
		ok(t, dir, pg, kk, "token", "revoke", staff)
		for _, url := range []string{a, b} {
			for _, c := range []*http.Cookie{c1, c2} {
				if signedIn(t, url, "admin", c.Value) {
					t.Errorf("%s still takes a session of a revoked token", url)
				}
			}
		}
	})
}

// TestPublicURL: with --public-url https://… the session cookie is
// Secure and the public origin may sign in (a proxy in front); the
// login page is no-store; a page that does not exist is the HTML error
// page; a --public-url that is not an http(s) URL is a usage error.
func TestPublicURL(t *testing.T) {
	dir := setupE2E(t)
	member := strings.TrimSpace(ok(t, dir, "token", "create", "--role", "subject", "--subject", "ana"))
	url := serve(t, dir, "--public-url", "https://privacy.example.com/")
	resp, _ := visit(t, "POST", url+"/privacy/login", "", neturl.Values{"token": {member}}, "Origin", "https://privacy.example.com")
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly {
		t.Fatalf("sign-in through the public origin: %d, cookie %+v", resp.StatusCode, c)
	}
	resp, _ = visit(t, "GET", url+"/privacy/login?token="+member, "", nil)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the sign-in page (it holds the token): Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	resp, body := visit(t, "GET", url+"/privacy/nope", "", nil)
	if resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("a page that does not exist: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = visit(t, "GET", url+"/v1/nope", "", nil)
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("an API path that does not exist: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, bad := range []string{"privacy.example.com", "ftp://privacy.example.com", "https://"} {
		if _, stderr, code := cg(t, dir, "serve", "--addr", "127.0.0.1:0", "--public-url", bad); code != 2 || !strings.Contains(stderr, "--public-url") {
			t.Errorf("--public-url %s: exit %d, %s", bad, code, stderr)
		}
	}
}
