// Package web is the privacy centre (/privacy), where members see what is
// shared of their data and change their choices and see where their data
// went, and the admin console (/admin) for privacy teams and auditors: a
// front end over the application (gate), plain server-rendered HTML and
// inline SVG charts, embedded in the binary, with a few lines of
// JavaScript only to submit a switch when it changes. Every answer a page
// shows is the application's; the pages only word and draw it.
package web

import (
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/httpmux"
	"github.com/consentgate/consentgate/internal/timestamp"
)

//go:embed templates/*.html static/*
var files embed.FS

// Config is what the pages run on.
type Config struct {
	Gate *gate.Gate
	// SessionKey signs the session cookies (a secret from the keys
	// directory, so that several servers accept each other's).
	SessionKey []byte
	Logger     *slog.Logger
	// PublicURL is the URL members and staff reach the server at (behind
	// a proxy that ends TLS, say), an absolute http or https URL (the
	// caller checks it; anything else is ignored). When it is https the
	// session cookie is Secure; its origin is trusted for the forms
	// besides the request's own host.
	PublicURL string
}

// pages serves the web pages.
type pages struct {
	g      *gate.Gate
	sess   *sessions
	tmpl   *template.Template
	logger *slog.Logger
}

// New returns the pages' handler: /privacy…, /admin… and /static/.
//
// Every page answer is Cache-Control: no-store (the static files
// excepted); a POST from another site (Sec-Fetch-Site, else Origin, by
// http.CrossOriginProtection) is refused with 403 before any handler
// runs, the sign-in exchange included; a path or method no page takes
// answers the HTML error page.
func New(c Config) http.Handler {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	cop := http.NewCrossOriginProtection()
	secure := false
	if u, err := url.Parse(c.PublicURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		secure = u.Scheme == "https"
		cop.AddTrustedOrigin(u.Scheme + "://" + u.Host) // scheme and host alone: always an origin
	}
	p := &pages{g: c.Gate, sess: &sessions{g: c.Gate, key: c.SessionKey, maxAge: 12 * time.Hour, secure: secure}, logger: c.Logger}
	p.tmpl = template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(files))
	mux.HandleFunc("GET /privacy/login", p.loginPage("privacy"))
	mux.HandleFunc("POST /privacy/login", p.login("privacy"))
	mux.HandleFunc("GET /privacy", p.privacy)
	mux.HandleFunc("POST /privacy/consent", p.toggle)
	mux.HandleFunc("GET /privacy/proof", p.proof)
	mux.HandleFunc("POST /privacy/logout", p.logout("privacy"))
	mux.HandleFunc("GET /admin/login", p.loginPage("admin"))
	mux.HandleFunc("POST /admin/login", p.login("admin"))
	mux.HandleFunc("GET /admin", p.admin)
	mux.HandleFunc("POST /admin/impact", p.mark)
	mux.HandleFunc("GET /admin/diff", p.diff)
	mux.HandleFunc("POST /admin/logout", p.logout("admin"))
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused. Open the page here and try again.")
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			p.unmatched(w, r, mux)
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// unmatched answers a path no page serves (404), or a method it does not
// take (405, with the mux's Allow), with the HTML error page.
func (p *pages) unmatched(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	if allow, ok := httpmux.Unmatched(mux, r); ok {
		w.Header().Set("Allow", allow)
		p.fail(w, r, http.StatusMethodNotAllowed, "This page cannot be used that way.")
		return
	}
	p.fail(w, r, http.StatusNotFound, "There is no such page.")
}

var funcs = template.FuncMap{
	"when": func(t timestamp.Time) string { return t.Time().UTC().Format("2 Jan 2006, 15:04 UTC") },
	"day":  func(t timestamp.Time) string { return t.Time().UTC().Format("2 Jan 2006") },
	"svg":  func(s string) template.HTML { return template.HTML(s) }, // built by chart code from numbers and escaped labels
	// count says a number of things with the right plural ("1 record").
	"count": func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	},
	// upto is the first n of a list, and more how many it leaves out.
	"upto": func(n int, xs []string) []string { return xs[:min(n, len(xs))] },
	"more": func(n int, xs []string) int { return max(len(xs)-n, 0) },
}

func (p *pages) render(w http.ResponseWriter, name string, status int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil {
		p.logger.Error("template", "name", name, "err", err)
	}
}

func (p *pages) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	back, where := "/privacy", "your privacy centre"
	if strings.HasPrefix(r.URL.Path, "/admin") {
		back, where = "/admin", "the console"
	}
	p.render(w, "error.html", status, map[string]any{"Status": status, "Message": msg, "Back": back, "Where": where})
}

// failErr answers an application error for a person: what they can do
// about it, never the internals.
func (p *pages) failErr(w http.ResponseWriter, r *http.Request, what string, err error) {
	e := gate.As(err)
	switch e.Code {
	case gate.Invalid:
		p.fail(w, r, http.StatusBadRequest, what+": "+e.Message)
	case gate.NotFound:
		p.fail(w, r, http.StatusNotFound, what+": "+e.Message)
	case gate.Forbidden:
		p.fail(w, r, http.StatusForbidden, what+": you may not do that.")
	case gate.Busy:
		w.Header().Set("Retry-After", "2")
		p.fail(w, r, http.StatusServiceUnavailable, what+": the service is busy for a moment; nothing was changed. Please try again in a few seconds.")
	case gate.Full:
		p.fail(w, r, http.StatusInsufficientStorage, what+": the service cannot record anything right now; nothing was changed. Please try again later.")
	default:
		p.logger.Error("page", "what", what, "err", err)
		p.fail(w, r, http.StatusInternalServerError, what+". Please try again.")
	}
}

// loginPage shows the sign-in form of a login link (/privacy/login?token=…):
// the token is sent by POST, so it is exchanged, not followed.
func (p *pages) loginPage(area string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, "login.html", http.StatusOK, map[string]any{"Area": area, "Token": r.URL.Query().Get("token")})
	}
}

// login exchanges a token for a session cookie. A subject token opens the
// privacy centre; an admin, operator or auditor token the console. A
// privacy-centre login carrying Sec-GPC: 1 applies the signal.
func (p *pages) login(area string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		pr, err := p.g.Authenticate(r.Context(), strings.TrimSpace(r.FormValue("token")))
		if err != nil {
			p.render(w, "login.html", http.StatusUnauthorized, map[string]any{"Area": area, "Error": "That sign-in link is not valid (any more). Ask for a new one."})
			return
		}
		if area == "privacy" && pr.Role != access.Subject || area == "admin" && !pr.Role.Staff() {
			p.render(w, "login.html", http.StatusForbidden, map[string]any{"Area": area, "Error": "That sign-in link is not for this page."})
			return
		}
		if area == "privacy" && r.Header.Get("Sec-GPC") == "1" {
			if _, err := p.g.ApplyGPC(r.Context(), pr, pr.Subject); err != nil {
				p.logger.Error("gpc", "err", err)
				p.fail(w, r, http.StatusInternalServerError, "Your Global Privacy Control signal could not be recorded. Please try again.")
				return
			}
		}
		if err := p.sess.issue(r.Context(), w, r, pr); err != nil {
			p.failErr(w, r, "You could not be signed in", err)
			return
		}
		http.Redirect(w, r, "/"+area, http.StatusSeeOther)
	}
}

// logout signs the session out in the store: its cookie, copied or not,
// works on no server any more.
func (p *pages) logout(area string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := p.session(w, r, true); ok {
			secret, _, _ := p.sess.read(r)
			if err := p.sess.end(r.Context(), w, r, secret); err != nil {
				p.failErr(w, r, "You could not be signed out", err)
				return
			}
		}
		http.Redirect(w, r, "/"+area+"/login", http.StatusSeeOther)
	}
}

// session returns the request's principal from its cookie (checking the
// CSRF token on a POST), answering the failure itself when there is none.
func (p *pages) session(w http.ResponseWriter, r *http.Request, post bool) (access.Principal, string, bool) {
	secret, csrf, ok := p.sess.read(r)
	if !ok {
		http.Redirect(w, r, "/"+area(r)+"/login", http.StatusSeeOther)
		return access.Principal{}, "", false
	}
	if post {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if r.FormValue("csrf") != csrf {
			p.fail(w, r, http.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
			return access.Principal{}, "", false
		}
	}
	pr, err := p.g.SessionPrincipal(r.Context(), secret)
	if err != nil {
		if gate.As(err).Code != gate.Unauthorized {
			p.failErr(w, r, "Your session could not be checked", err)
			return access.Principal{}, "", false
		}
		// Signed out, expired, its token revoked or never opened: to the
		// sign-in page, the cookie cleared.
		p.sess.clear(w, r)
		http.Redirect(w, r, "/"+area(r)+"/login", http.StatusSeeOther)
		return access.Principal{}, "", false
	}
	return pr, csrf, true
}

// area is the pages a request is for: privacy or admin.
func area(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/admin") {
		return "admin"
	}
	return "privacy"
}

// memberSession is session for the privacy centre's pages: members only.
func (p *pages) memberSession(w http.ResponseWriter, r *http.Request, post bool) (access.Principal, string, bool) {
	pr, csrf, ok := p.session(w, r, post)
	if ok && pr.Role != access.Subject {
		p.fail(w, r, http.StatusForbidden, "The privacy centre is for members. The platform's staff use the admin console.")
		return pr, csrf, false
	}
	return pr, csrf, ok
}

func (p *pages) privacy(w http.ResponseWriter, r *http.Request) {
	pr, csrf, ok := p.memberSession(w, r, false)
	if !ok {
		return
	}
	pc, err := p.g.PrivacyCentre(r.Context(), pr, pr.Subject)
	if err != nil {
		p.failErr(w, r, "Your settings could not be loaded", err)
		return
	}
	// The saved message speaks only of a stored choice that is still the
	// member's latest for its use (the application's answer).
	var saved savedChoice
	if at, err := strconv.ParseInt(r.URL.Query().Get("saved"), 10, 64); err == nil {
		if e := pc.Saved(timestamp.Time(at)); e != nil {
			saved = savedChoice{purpose: e.Purpose, class: e.Recipient, state: e.State, at: e.At}
		}
	}
	p.render(w, "privacy.html", http.StatusOK, map[string]any{
		"Subject": pc.Subject, "Policy": pc.Policy, "Notice": pc.Notice, "Known": pc.Known,
		"Sharing": sharingWords(pc.Words, pc.Sharing), "Groups": groups(pc.Words, pc.Settings, pc.Region, saved),
		"History": historyWords(pc.Words, pc.History), "GPC": gpcWords(pc.Words, pc.GPC),
		"Went": wentWords(pc.Words, pc.Report.Exports), "After": aftermathWords(pc.Words, pc.AfterOptOut), "CSRF": csrf,
	})
}

// toggle records a member's choice from the privacy centre, at once.
func (p *pages) toggle(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := p.memberSession(w, r, true)
	if !ok {
		return
	}
	state, purpose, class := r.FormValue("state"), r.FormValue("purpose"), r.FormValue("class")
	if state != "granted" && state != "denied" {
		p.fail(w, r, http.StatusBadRequest, "That setting can only be turned on or off.")
		return
	}
	c := consent.Choice{Subject: &pr.Subject, Purpose: &purpose, Recipient: &class, State: &state}
	recs, err := p.g.RecordConsent(r.Context(), pr, c, r.Header.Get("Sec-GPC") == "1")
	if err != nil {
		p.failErr(w, r, "That setting could not be changed", err)
		return
	}
	for _, rec := range recs {
		if rec.Source == "settings" {
			http.Redirect(w, r, "/privacy?saved="+strconv.FormatInt(int64(rec.At), 10)+"#saved", http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, "/privacy#settings", http.StatusSeeOther)
}

// proof shows the member the evidence that an export held their data
// and is in the log, with how to check it (?format=json: the evidence
// alone, for a tool).
func (p *pages) proof(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := p.memberSession(w, r, false)
	if !ok {
		return
	}
	if id := r.URL.Query().Get("notice"); id != "" {
		p.noticeProof(w, r, pr, id)
		return
	}
	ev, err := p.g.Evidence(r.Context(), pr, pr.Subject, r.URL.Query().Get("export"))
	if err != nil {
		p.failErr(w, r, "The proof could not be made", err)
		return
	}
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="proof-`+ev.ExportID+`.json"`)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(ev)
		return
	}
	pc, err := p.g.PrivacyCentre(r.Context(), pr, pr.Subject)
	if err != nil {
		p.failErr(w, r, "The proof could not be made", err)
		return
	}
	var went *exportView
	for _, e := range wentWords(pc.Words, pc.Report.Exports) {
		if e.ExportID == ev.ExportID {
			went = &e
		}
	}
	p.render(w, "proof.html", http.StatusOK, map[string]any{"E": ev, "Went": went})
}

// noticeProof shows the member the evidence that a notice naming their
// records is in the log: its entry, the entry's audit path and the signed
// checkpoint, from the log's public proof (the same as GET
// /v1/log/proofs/inclusion gives), with a button that checks it.
func (p *pages) noticeProof(w http.ResponseWriter, r *http.Request, pr access.Principal, id string) {
	pc, err := p.g.PrivacyCentre(r.Context(), pr, pr.Subject)
	if err != nil {
		p.failErr(w, r, "The proof could not be made", err)
		return
	}
	var found *noticeView
	var about *aftermathView
	for _, a := range aftermathWords(pc.Words, pc.AfterOptOut) {
		for _, n := range a.Notices {
			if n.ID == id {
				found, about = &n, &a
			}
		}
	}
	if found == nil {
		p.fail(w, r, http.StatusNotFound, "No notice "+id+" names records of yours.")
		return
	}
	data := map[string]any{"N": found, "A": about}
	ev, err := p.g.ProveInclusion(r.Context(), found.LogIndex, 0)
	if err != nil && gate.As(err).Code != gate.Invalid && gate.As(err).Code != gate.Unavailable {
		p.failErr(w, r, "The proof could not be made", err)
		return
	}
	if err == nil {
		path := make([]string, len(ev.Proof))
		for i, h := range ev.Proof {
			path[i] = hex.EncodeToString(h)
		}
		data["E"] = map[string]any{"Index": ev.Index, "Size": ev.Size, "Leaf": hex.EncodeToString(ev.Leaf), "LeafHash": hex.EncodeToString(ev.LeafHash),
			"Root": hex.EncodeToString(ev.Root), "Path": path, "Checkpoint": ev.Checkpoint}
	}
	p.render(w, "noticeproof.html", http.StatusOK, data)
}
