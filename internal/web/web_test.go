package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/httpapi"
	"github.com/consentgate/consentgate/internal/web"
)

const testPolicy = `version: "v1"
effective_from: 2020-01-01T00:00:00Z
purposes: [train_ai_system.generative]
categories: [user.content.public]
recipients:
  self:      { class: first_party }
  partner-x: { class: third_party }
gpc: [third_party]
defaults:
  train_ai_system: granted
rules: []
`

type site struct {
	t      *testing.T
	url    string
	g      *gate.Gate
	tokens map[string]string
}

func newSite(t *testing.T) *site {
	ctx := context.Background()
	dir := t.TempDir()
	g, err := gate.Open(ctx, gate.Config{Store: filepath.Join(dir, "s.db"), Mode: gate.Create, Deployment: "test", Serving: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	pf, err := gate.ReadPolicy("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Publish(ctx, access.Local, pf, false); err != nil {
		t.Fatal(err)
	}
	subjects := filepath.Join(dir, "subjects.jsonl")
	os.WriteFile(subjects, []byte(`{"subject":"ana","at":"1970-01-01T00:00:00.000001Z","region":"US"}`+"\n"), 0o644)
	if _, err := g.ImportSubjects(ctx, subjects); err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, g: g, tokens: map[string]string{}}
	for name, role := range map[string]access.Role{"ana": access.Subject, "admin": access.Admin, "auditor": access.Auditor} {
		subject := ""
		if role == access.Subject {
			subject = name
		}
		secret, err := g.CreateToken(ctx, role, subject)
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[name] = secret
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Config{Gate: g, Logger: logger,
		Pages: web.New(web.Config{Gate: g, SessionKey: []byte("0123456789abcdef0123456789abcdef"), Logger: logger})})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// history is ana's consent history.
func (s *site) history() []gate.ConsentEvent {
	h, err := s.g.ConsentHistory(context.Background(), access.Local, "ana")
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// client is a browser-like client with a cookie jar that does not follow
// redirects, so each step can be checked.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *site) post(c *http.Client, path string, form url.Values, hdr ...string) (int, string) {
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *site) get(c *http.Client, path string) (int, string) {
	resp, err := c.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func TestPrivacySessionAndCSRF(t *testing.T) {
	s := newSite(t)
	c := client()
	if code, _ := s.get(c, "/privacy"); code != http.StatusSeeOther {
		t.Fatalf("without a session: %d, want a redirect to the login", code)
	}
	if code, body := s.post(c, "/privacy/login", url.Values{"token": {"cgt_wrong"}}); code != 401 || !strings.Contains(body, "not valid") {
		t.Fatalf("a wrong token: %d", code)
	}
	if code, _ := s.post(c, "/privacy/login", url.Values{"token": {s.tokens["admin"]}}); code != 403 {
		t.Fatalf("an admin token on the privacy centre: %d", code)
	}
	// With GPC on login, the denial is recorded and shown.
	if code, _ := s.post(c, "/privacy/login", url.Values{"token": {s.tokens["ana"]}}, "Sec-GPC", "1"); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	code, page := s.get(c, "/privacy")
	if code != 200 || !strings.Contains(page, "Global Privacy Control signal") {
		t.Fatalf("privacy centre after a GPC login: %d\n%s", code, page)
	}
	// The platform's own use is on by default (ana never chose), and its
	// switch shows on; the partners' is off by the GPC refusal.
	if !regexp.MustCompile(`role="switch"[^>]*id="t-train_ai_system\.generative-first_party"[^>]*checked`).MatchString(page) ||
		!strings.Contains(page, "On by default") || !strings.Contains(page, "Off: you refused.") {
		t.Fatalf("the default-on setting is not shown on:\n%s", page)
	}
	csrf := csrfRE.FindStringSubmatch(page)[1]
	toggle := url.Values{"purpose": {"train_ai_system.generative"}, "class": {"first_party"}, "state": {"denied"}}
	// Without the CSRF token, nothing changes.
	if code, _ := s.post(c, "/privacy/consent", toggle); code != 403 {
		t.Fatalf("a toggle without the CSRF token: %d", code)
	}
	wrong := []byte(csrf)
	wrong[0] = "01"[(wrong[0]+1)%2] // certainly another first digit
	if wrong[0] == csrf[0] {
		wrong[0] = 'f'
	}
	toggle.Set("csrf", string(wrong))
	if code, _ := s.post(c, "/privacy/consent", toggle); code != 403 {
		t.Fatalf("a toggle with a wrong CSRF token: %d", code)
	}
	hist := s.history()
	if len(hist) != 1 || hist[0].Source != "gpc" {
		t.Fatalf("history after refused toggles: %+v", hist)
	}
	toggle.Set("csrf", csrf)
	if code, _ := s.post(c, "/privacy/consent", toggle); code != http.StatusSeeOther {
		t.Fatalf("a toggle: %d", code)
	}
	hist = s.history()
	if len(hist) != 2 || hist[1].Source != "settings" || hist[1].Recipient != "first_party" || hist[1].State != "denied" {
		t.Fatalf("after the toggle: %+v", hist)
	}
	// A forged cookie is no session.
	u, _ := url.Parse(s.url)
	for _, ck := range c.Jar.Cookies(u) {
		ck.Value = ck.Value[:len(ck.Value)-2] + "AA"
		c.Jar.SetCookies(u, []*http.Cookie{ck})
	}
	if code, _ := s.get(c, "/privacy"); code != http.StatusSeeOther {
		t.Fatalf("a forged session cookie: %d", code)
	}
}

func TestAdminConsoleRoles(t *testing.T) {
	s := newSite(t)
	c := client()
	if code, _ := s.post(c, "/admin/login", url.Values{"token": {s.tokens["ana"]}}); code != 403 {
		t.Fatalf("a subject token on the console: %d", code)
	}
	s.post(c, "/admin/login", url.Values{"token": {s.tokens["auditor"]}})
	code, page := s.get(c, "/admin")
	if code != 200 || !strings.Contains(page, "Policy versions") || !strings.Contains(page, "<svg") {
		t.Fatalf("console as auditor: %d", code)
	}
	if strings.Contains(page, `action="/admin/impact"`) {
		t.Fatal("an auditor is offered the status form")
	}
	csrf := csrfRE.FindStringSubmatch(page)[1]
	if code, _ := s.post(c, "/admin/impact", url.Values{"csrf": {csrf}, "export": {"e"}, "subject": {"ana"}, "status": {"notified"}}); code != 403 {
		t.Fatalf("an auditor marking: %d", code)
	}
	for _, p := range []string{"/privacy/login?token=x", "/admin/login", "/static/style.css"} {
		if code, _ := s.get(client(), p); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
}

// TestUnmatchedPages: a page path nothing serves is the HTML error page's
// 404, and a method a page does not take its 405 with the mux's Allow —
// the pages' own words, not the API's JSON.
func TestUnmatchedPages(t *testing.T) {
	s := newSite(t)
	for _, c := range []struct {
		method, path string
		want         int
		allow, says  string
	}{
		{"GET", "/privacy/nope", 404, "", "There is no such page."},
		{"DELETE", "/privacy", 405, "GET, HEAD", "This page cannot be used that way."},
		{"PUT", "/admin/impact", 405, "POST", "This page cannot be used that way."},
	} {
		req, _ := http.NewRequest(c.method, s.url+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || resp.Header.Get("Allow") != c.allow || !strings.Contains(string(b), c.says) ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s %s: %d, Allow %q, %s\n%.300s", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), b)
		}
	}
}
