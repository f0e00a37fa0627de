// Package web is the privacy centre (/privacy), where members see and
// change their choices and see where their data went, and the admin
// console (/admin) for privacy teams and auditors: plain server-rendered
// HTML and inline SVG charts, embedded in the binary, with a few lines of
// JavaScript only to submit a toggle when it changes.
package web

import (
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/httpapi"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

//go:embed templates/*.html static/*
var files embed.FS

// pages serves the web pages over a server's store.
type pages struct {
	s    *httpapi.Server
	sess *sessions
	tmpl *template.Template
}

// New returns the function that mounts the pages, with sessions signed by
// sessionKey (a secret from the keys directory).
func New(sessionKey []byte) func(mux *http.ServeMux, s *httpapi.Server) {
	return func(mux *http.ServeMux, s *httpapi.Server) {
		p := &pages{s: s, sess: &sessions{key: sessionKey, maxAge: 12 * time.Hour}}
		p.tmpl = template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))
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
		mux.HandleFunc("POST /admin/logout", p.logout("admin"))
	}
}

var funcs = template.FuncMap{
	"when": func(t timestamp.Time) string { return t.Time().UTC().Format("2 Jan 2006, 15:04 UTC") },
	"day":  func(t timestamp.Time) string { return t.Time().UTC().Format("2 Jan 2006") },
	"svg":  func(s string) template.HTML { return template.HTML(s) }, // built by chart code from numbers and escaped labels
}

func (p *pages) render(w http.ResponseWriter, name string, status int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil {
		p.s.Logger.Error("template", "name", name, "err", err)
	}
}

func (p *pages) fail(w http.ResponseWriter, status int, msg string) {
	p.render(w, "error.html", status, map[string]any{"Status": status, "Message": msg})
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
		pr, err := p.s.Authenticate(r.Context(), strings.TrimSpace(r.FormValue("token")))
		if err != nil {
			p.render(w, "login.html", http.StatusUnauthorized, map[string]any{"Area": area, "Error": "That sign-in link is not valid (any more). Ask for a new one."})
			return
		}
		if (area == "privacy") != (pr.Role == access.Subject) {
			p.render(w, "login.html", http.StatusForbidden, map[string]any{"Area": area, "Error": "That sign-in link is not for this page."})
			return
		}
		if area == "privacy" && r.Header.Get("Sec-GPC") == "1" {
			if _, err := p.s.GPC(r, pr.Subject); err != nil {
				p.fail(w, http.StatusInternalServerError, "Your Global Privacy Control signal could not be recorded. Please try again.")
				return
			}
		}
		p.sess.issue(w, r, pr.Token)
		http.Redirect(w, r, "/"+area, http.StatusSeeOther)
	}
}

func (p *pages) logout(area string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := p.session(w, r, true); ok {
			p.sess.clear(w)
		}
		http.Redirect(w, r, "/"+area+"/login", http.StatusSeeOther)
	}
}

// session returns the request's principal from its cookie (checking the
// CSRF token on a POST), answering the failure itself when there is none.
func (p *pages) session(w http.ResponseWriter, r *http.Request, post bool) (access.Principal, string, bool) {
	hash, csrf, ok := p.sess.read(r)
	if !ok {
		area := "privacy"
		if strings.HasPrefix(r.URL.Path, "/admin") {
			area = "admin"
		}
		http.Redirect(w, r, "/"+area+"/login", http.StatusSeeOther)
		return access.Principal{}, "", false
	}
	if post {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if r.FormValue("csrf") != csrf {
			p.fail(w, http.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
			return access.Principal{}, "", false
		}
	}
	t, err := p.s.Store.TokenByHash(r.Context(), hash)
	if err != nil || t.RevokedAt != 0 {
		p.sess.clear(w)
		p.fail(w, http.StatusUnauthorized, "Your session has ended. Use your sign-in link again.")
		return access.Principal{}, "", false
	}
	return access.Principal{Role: access.Role(t.Role), Subject: t.Subject, Token: t.Hash}, csrf, true
}

// setting is one toggle of the privacy centre.
type setting struct {
	Purpose, Class, Recipient string
	On                        bool
	Default                   bool // the state is the policy's default: the member never chose
	Meaning                   string
	By                        string
}

// classWords says in plain words who a recipient class is.
var classWords = map[string]string{
	"first_party": "this platform itself",
	"affiliate":   "companies in the same group as this platform",
	"third_party": "other companies (partners)",
}

// purposeWords says in plain words what a purpose is, from its name.
func purposeWords(p string) string {
	words := strings.NewReplacer("train_ai_system", "train AI systems", ".generative", " that generate text or images", "_", " ", ".", " – ").Replace(p)
	return words
}

func (p *pages) privacy(w http.ResponseWriter, r *http.Request) {
	pr, csrf, ok := p.session(w, r, false)
	if !ok {
		return
	}
	if pr.Role != access.Subject {
		p.fail(w, http.StatusForbidden, "The privacy centre is for members. Use the admin console.")
		return
	}
	id := pr.Subject
	now := timestamp.Now()
	view, err := p.s.Consents(r, id, now, true)
	if err != nil {
		p.fail(w, http.StatusInternalServerError, "Your settings could not be loaded. Please try again.")
		return
	}
	vs, _, err := p.s.Versions(r.Context())
	if err != nil {
		p.fail(w, http.StatusInternalServerError, "Your settings could not be loaded. Please try again.")
		return
	}
	// One toggle per leaf purpose and recipient class: the state of the
	// class's first recipient (choices are recorded for the class).
	var settings []setting
	if vs.IndexAt(now) > 0 {
		doc := vs.At(now).Doc
		seen := map[string]bool{}
		for _, c := range view.Consent {
			key := c.Purpose + "|" + c.RecipientClass
			if seen[key] || !doc.IsLeafPurpose(c.Purpose) {
				continue
			}
			seen[key] = true
			st := setting{Purpose: c.Purpose, Class: c.RecipientClass, Recipient: c.Recipient, On: c.State == "granted", Default: c.DecidedBy == nil}
			who := classWords[c.RecipientClass]
			if st.On {
				st.Meaning = "On: " + who + " may use your posts and messages to " + purposeWords(c.Purpose) + "."
			} else {
				st.Meaning = "Off: " + who + " may not use your posts and messages to " + purposeWords(c.Purpose) + "."
			}
			if st.Default {
				st.By = "You have not chosen; this is the platform's default."
			} else {
				st.By = "Your choice of " + c.DecidedBy.At.Time().UTC().Format("2 Jan 2006, 15:04 UTC") + " (" + c.DecidedBy.Source + ")."
			}
			settings = append(settings, st)
		}
	}
	hist, err := p.s.Store.ConsentHistory(r.Context(), id)
	if err != nil {
		p.fail(w, http.StatusInternalServerError, "Your history could not be loaded.")
		return
	}
	type histRow struct {
		At                                timestamp.Time
		Purpose, Recipient, State, Source string
		GPC                               bool
	}
	var rows []histRow
	var gpc []histRow
	for i := len(hist) - 1; i >= 0; i-- {
		e := hist[i]
		h := histRow{e.At, e.Purpose, e.RecipientLabel(), e.State.String(), e.Source, e.Source == "gpc"}
		rows = append(rows, h)
		if h.GPC {
			gpc = append(gpc, h)
		}
	}
	_, report, err := export.SubjectReport(r.Context(), p.s.Store, id)
	if err != nil {
		p.fail(w, http.StatusInternalServerError, "Where your data went could not be loaded.")
		return
	}
	type went struct {
		export.ReportEntry
		SubjectsRoot string
		Pseudonym    string
	}
	var wents []went
	keys, _ := p.s.Keys.SubjectKeys(r.Context(), []string{id}, false)
	for _, e := range report {
		x := went{ReportEntry: e}
		if m, ok := p.manifest(r, e.ExportID); ok && m.SubjectsRoot != nil {
			x.SubjectsRoot = *m.SubjectsRoot
		}
		if k := keys[id]; k != nil {
			ps := translog.Pseudonym(translog.ExportSalt(k, e.ExportID), []byte(id))
			x.Pseudonym = hex.EncodeToString(ps[:])
		}
		wents = append(wents, x)
	}
	p.render(w, "privacy.html", http.StatusOK, map[string]any{
		"Subject": id, "Policy": view.Policy, "Settings": settings, "History": rows, "GPC": gpc, "Went": wents, "CSRF": csrf,
		"Saved": r.URL.Query().Get("saved"),
	})
}

func (p *pages) manifest(r *http.Request, id string) (*export.Manifest, bool) {
	es, err := p.s.Store.Exports(r.Context())
	if err != nil {
		return nil, false
	}
	for _, e := range es {
		if e.ID == id {
			var m export.Manifest
			return &m, json.Unmarshal(e.Manifest, &m) == nil
		}
	}
	return nil, false
}

// toggle records a member's choice from the privacy centre, at once.
func (p *pages) toggle(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := p.session(w, r, true)
	if !ok {
		return
	}
	if pr.Role != access.Subject {
		p.fail(w, http.StatusForbidden, "The privacy centre is for members.")
		return
	}
	state := r.FormValue("state")
	if state != "granted" && state != "denied" {
		p.fail(w, http.StatusBadRequest, "That setting can only be turned on or off.")
		return
	}
	class := r.FormValue("class")
	if _, ok := policy.ParseClass(class); !ok {
		p.fail(w, http.StatusBadRequest, "That setting does not exist.")
		return
	}
	err := p.s.RecordConsent(r, pr.Subject, r.FormValue("purpose"), class, state, "settings", r.Header.Get("Sec-GPC") == "1")
	var he *httpapi.Error
	if errors.As(err, &he) {
		p.fail(w, http.StatusBadRequest, "That setting could not be changed: "+he.Message)
		return
	} else if err != nil {
		p.fail(w, http.StatusInternalServerError, "Your choice could not be saved. Please try again.")
		return
	}
	http.Redirect(w, r, "/privacy?saved="+r.FormValue("purpose")+"+"+class+"#settings", http.StatusSeeOther)
}

// proof gives the member the inclusion proof of their pseudonym in an
// export's subjects_root, computed on request.
func (p *pages) proof(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := p.session(w, r, false)
	if !ok {
		return
	}
	out, err := subjectProof(r, p.s, pr.Subject, r.URL.Query().Get("export"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
