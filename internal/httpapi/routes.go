package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Route is one route of the API, as the OpenAPI document must list it.
type Route struct{ Method, Path string }

// Routes lists every route the server serves (the OpenAPI test checks the
// document against it).
func (s *Server) Routes() []Route { return s.routeList }

func (s *Server) handle(method, path string, h http.HandlerFunc) {
	s.mux.HandleFunc(method+" "+path, h)
	s.routeList = append(s.routeList, Route{method, path})
}

func (s *Server) routes() {
	s.handle("GET", "/healthz", s.public(s.healthz))
	s.mux.Handle("GET /metrics", s.metrics.handler())
	s.routeList = append(s.routeList, Route{"GET", "/metrics"})
	s.handle("GET", "/openapi.json", s.public(s.openapi))

	s.handle("GET", "/v1/subjects/{id}", s.authed(s.getSubject))
	s.handle("PUT", "/v1/subjects/{id}", s.authed(s.putSubject))
	s.handle("POST", "/v1/subjects/{id}/consents", s.authed(s.postConsent))
	s.handle("GET", "/v1/subjects/{id}/consents", s.authed(s.getConsents))
	s.handle("GET", "/v1/subjects/{id}/consents/history", s.authed(s.getHistory))
	s.handle("GET", "/v1/subjects/{id}/report", s.authed(s.getReport))
	s.handle("POST", "/v1/decisions", s.authedUpTo(max(s.MaxBody, maxDecisionsBody), s.postDecisions))
	s.handle("GET", "/v1/policies", s.authed(s.getPolicies))
	s.handle("POST", "/v1/policies", s.authed(s.postPolicy))
	s.handle("GET", "/v1/policies/diff", s.authed(s.getDiff))
	s.handle("GET", "/v1/policies/{version}", s.authed(s.getPolicy))
	s.handle("GET", "/v1/exports", s.authed(s.getExports))
	s.handle("GET", "/v1/exports/{id}", s.authed(s.getExport))
	s.handle("GET", "/v1/impact", s.authed(s.getImpact))
	s.handle("POST", "/v1/impact/marks", s.authed(s.postImpactMark))
	s.logRoutes()
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.Store.LogSize(r.Context()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// asOf reads ?as_of=T (default now).
func asOf(r *http.Request) (timestamp.Time, error) {
	v := r.URL.Query().Get("as_of")
	if v == "" {
		return timestamp.Now(), nil
	}
	t, err := timestamp.Parse(v)
	if err != nil {
		return 0, badRequest("as_of %q: expected an RFC 3339 time", v)
	}
	return t, nil
}

// subjectState is a subject's region and attributes at a time, folded from
// its history.
type subjectState struct {
	Subject    string            `json:"subject"`
	AsOf       timestamp.Time    `json:"as_of"`
	Known      bool              `json:"known"`
	Region     *string           `json:"region"`
	Attributes map[string]string `json:"attributes"`
}

func (s *Server) getSubject(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id := r.PathValue("id")
	if err := must(p, access.ReadSubject, id); err != nil {
		return err
	}
	t, err := asOf(r)
	if err != nil {
		return err
	}
	hist, err := s.Store.SubjectHistory(r.Context(), id)
	if err != nil {
		return err
	}
	out := subjectState{Subject: id, AsOf: t, Attributes: map[string]string{}}
	for _, e := range hist {
		if e.At > t {
			break
		}
		out.Known = true
		if e.RegionSet {
			if e.Region == "" {
				out.Region = nil
			} else {
				reg := e.Region
				out.Region = &reg
			}
		}
		for k, v := range e.Attributes {
			if v == nil {
				delete(out.Attributes, k)
			} else {
				out.Attributes[k] = *v
			}
		}
	}
	if !out.Known {
		return notFound("subject " + id + " as of " + t.String())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putSubject records an attribute change: the body is a subjects-file line
// without the subject ({"at", "region", "attributes"}), validated as one.
func (s *Server) putSubject(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id := r.PathValue("id")
	if err := must(p, access.WriteSubject, id); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := readJSON(r, &body); err != nil {
		return err
	}
	now := timestamp.Now()
	body["subject"], _ = json.Marshal(id)
	if _, ok := body["at"]; !ok {
		body["at"], _ = json.Marshal(now.String())
	}
	line, _ := json.Marshal(body)
	e, err := consent.ParseSubjectLine(line, now)
	if err != nil {
		return badRequest("%v", err)
	}
	n, err := s.Store.AddSubjectEvents(r.Context(), []consent.SubjectEvent{e})
	if err != nil {
		return err
	}
	s.cache.changedBy(id)
	writeJSON(w, http.StatusCreated, map[string]any{"subject": id, "at": e.At, "added": n})
	return nil
}

// consentRequest is the body of POST /v1/subjects/{id}/consents.
type consentRequest struct {
	Purpose   string  `json:"purpose"`
	Recipient string  `json:"recipient,omitempty"`
	State     string  `json:"state"`
	At        *string `json:"at,omitempty"`
	Source    string  `json:"source,omitempty"`
}

func (s *Server) postConsent(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id := r.PathValue("id")
	if err := must(p, access.WriteConsent, id); err != nil {
		return err
	}
	var req consentRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if p.Role == access.Subject && req.At != nil {
		return &Error{http.StatusForbidden, "forbidden", "a subject records its choices as of now: at may not be set"}
	}
	if req.Source == "" {
		req.Source = "api"
	}
	events, err := s.recordConsent(r, id, req, r.Header.Get("Sec-GPC") == "1")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"subject": id, "recorded": events})
	return nil
}

// recordedEvent is an event as the API reports recording it.
type recordedEvent struct {
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	State     string         `json:"state"`
	At        timestamp.Time `json:"at"`
	Source    string         `json:"source"`
	Added     bool           `json:"added"`
}

// recordConsent validates and stores one consent choice; with gpc, first
// the GPC denials it owes (SPEC §7).
func (s *Server) recordConsent(r *http.Request, id string, req consentRequest, gpc bool) ([]recordedEvent, error) {
	ctx := r.Context()
	now := timestamp.Now()
	line := map[string]any{"subject": id, "purpose": req.Purpose, "state": req.State, "source": req.Source}
	if req.Recipient != "" {
		line["recipient"] = req.Recipient
	}
	if req.At != nil {
		line["at"] = *req.At
	} else {
		line["at"] = now.String()
	}
	b, _ := json.Marshal(line)
	e, err := consent.ParseConsentLine(b, now)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	vs, _, err := s.Versions(ctx)
	if err != nil {
		return nil, err
	}
	if err := vs.CheckDeclared(e.Purpose, e.Recipient); err != nil {
		return nil, badRequest("%v", err)
	}
	var out []recordedEvent
	if gpc {
		g, err := s.applyGPC(r, id, now)
		if err != nil {
			return nil, err
		}
		out = append(out, g...)
	}
	n, err := s.Store.AddConsentEvents(ctx, []consent.Event{e})
	if err != nil {
		return nil, err
	}
	s.cache.changedBy(id)
	s.metrics.consent.Add(float64(n))
	return append(out, recordedEvent{e.Purpose, e.RecipientLabel(), e.State.String(), e.At, e.Source, n == 1}), nil
}

// RecordConsent records a subject's choice (the privacy centre's toggles):
// validated as the API validates it, with the GPC denials first when gpc.
func (s *Server) RecordConsent(r *http.Request, subject, purpose, recipient, state, source string, gpc bool) error {
	_, err := s.recordConsent(r, subject, consentRequest{Purpose: purpose, Recipient: recipient, State: state, Source: source}, gpc)
	return err
}

// GPC records, for a request carrying Sec-GPC: 1, a denial (source gpc)
// for each entry of the policy's gpc list the subject has not already
// denied (SPEC §7). Exported for the privacy centre's login.
func (s *Server) GPC(r *http.Request, id string) ([]recordedEvent, error) {
	return s.applyGPC(r, id, timestamp.Now())
}

func (s *Server) applyGPC(r *http.Request, id string, now timestamp.Time) ([]recordedEvent, error) {
	ctx := r.Context()
	vs, _, err := s.Versions(ctx)
	if err != nil || vs.IndexAt(now) == 0 {
		return nil, err
	}
	doc := vs.At(now).Doc
	hist, err := s.Store.ConsentHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	var evs []consent.Event
	for _, g := range doc.GPC {
		// An entry names a purpose (denied for every recipient) or a
		// recipient class (denied for every purpose: each root of the
		// declared purposes).
		uses := [][2]string{{g, ""}}
		if _, isClass := policy.ParseClass(g); isClass {
			uses = uses[:0]
			for _, root := range rootPurposes(doc) {
				uses = append(uses, [2]string{root, g})
			}
		}
		for _, u := range uses {
			if !latestIsDenied(hist, u[0], u[1]) {
				evs = append(evs, consent.Event{Subject: id, Purpose: u[0], Recipient: u[1], State: policy.Denied, At: now, Source: "gpc"})
			}
		}
	}
	if len(evs) == 0 {
		return nil, nil
	}
	if _, err := s.Store.AddConsentEvents(ctx, evs); err != nil {
		return nil, err
	}
	s.cache.changedBy(id)
	out := make([]recordedEvent, len(evs))
	for i, e := range evs {
		out[i] = recordedEvent{e.Purpose, e.RecipientLabel(), e.State.String(), e.At, e.Source, true}
	}
	return out, nil
}

// rootPurposes are the roots of the declared purpose hierarchies.
func rootPurposes(d *policy.Document) []string {
	var out []string
	for _, p := range d.Purposes {
		root, _, _ := strings.Cut(p, ".")
		if !slices.Contains(out, root) {
			out = append(out, root)
		}
	}
	return out
}

// latestIsDenied reports whether the subject's latest event for exactly
// this purpose and recipient is a denial.
func latestIsDenied(hist []consent.Event, purpose, recipient string) bool {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Purpose == purpose && hist[i].Recipient == recipient {
			return hist[i].State == policy.Denied
		}
	}
	return false
}

// ConsentCell is a subject's consent for one purpose and recipient: the
// state ("granted", "denied", or "none" when the subject never chose) and
// the event that decided it.
type ConsentCell struct {
	Purpose        string     `json:"purpose"`
	Recipient      string     `json:"recipient"`
	RecipientClass string     `json:"recipient_class"`
	State          string     `json:"state"`
	DecidedBy      *EventJSON `json:"decided_by"`
}

// EventJSON is a consent event as the API gives it.
type EventJSON struct {
	Seq       int64          `json:"seq"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	State     string         `json:"state"`
	At        timestamp.Time `json:"at"`
	Source    string         `json:"source"`
}

func eventJSON(e *consent.Event) *EventJSON {
	if e == nil {
		return nil
	}
	return &EventJSON{e.Seq, e.Purpose, e.RecipientLabel(), e.State.String(), e.At, e.Source}
}

// ConsentView is a subject's consent per purpose and recipient under the
// version in force at a time.
type ConsentView struct {
	Subject string         `json:"subject"`
	AsOf    timestamp.Time `json:"as_of"`
	Policy  string         `json:"policy"`
	Known   bool           `json:"known"`
	Consent []ConsentCell  `json:"consent"`
}

// Consents computes a subject's consent view (also for the privacy
// centre); now answers from the view cache.
func (s *Server) Consents(r *http.Request, id string, t timestamp.Time, now bool) (*ConsentView, error) {
	ctx := r.Context()
	vs, _, err := s.Versions(ctx)
	if err != nil {
		return nil, err
	}
	var view *consent.View
	if now {
		view, err = s.cache.view(ctx, id, vs.Attributes())
	} else {
		view, err = store.LoadView(ctx, s.Store, t, vs.Attributes(), []string{id})
	}
	if err != nil {
		return nil, err
	}
	out := &ConsentView{Subject: id, AsOf: t, Consent: []ConsentCell{}}
	idx, known := view.Lookup(id)
	out.Known = known
	if vs.IndexAt(t) == 0 {
		return out, nil
	}
	doc := vs.At(t).Doc
	out.Policy = doc.Version
	if !known {
		return out, nil
	}
	for _, purpose := range doc.Purposes {
		for _, rc := range doc.Recipients {
			st, ev := decision.ConsentState(vs, view, idx, decision.Target{Purpose: purpose, Recipient: rc.ID, Class: rc.Class})
			out.Consent = append(out.Consent, ConsentCell{Purpose: purpose, Recipient: rc.ID, RecipientClass: rc.Class.String(), State: st.String(), DecidedBy: eventJSON(ev)})
		}
	}
	return out, nil
}

func (s *Server) getConsents(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id := r.PathValue("id")
	if err := must(p, access.ReadSubject, id); err != nil {
		return err
	}
	t, err := asOf(r)
	if err != nil {
		return err
	}
	v, err := s.Consents(r, id, t, r.URL.Query().Get("as_of") == "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id := r.PathValue("id")
	if err := must(p, access.ReadSubject, id); err != nil {
		return err
	}
	hist, err := s.Store.ConsentHistory(r.Context(), id)
	if err != nil {
		return err
	}
	events := make([]*EventJSON, len(hist))
	for i := range hist {
		events[i] = eventJSON(&hist[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"subject": id, "events": events})
	return nil
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id := r.PathValue("id")
	if err := must(p, access.ReadSubject, id); err != nil {
		return err
	}
	known, entries, err := export.SubjectReport(r.Context(), s.Store, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"subject": id, "known": known, "exports": entries})
	return nil
}

// decisionRequest is one record to decide.
type decisionRequest struct {
	Subjects []struct {
		ID   string `json:"id"`
		Role string `json:"role,omitempty"`
	} `json:"subjects"`
	Category  string  `json:"category"`
	Created   string  `json:"created"`
	Purpose   string  `json:"purpose"`
	Recipient string  `json:"recipient"`
	AsOf      *string `json:"as_of,omitempty"`
}

// maxDecisions bounds one batch, and maxDecisionsBody its body: 10,000
// records of a few subjects each.
const (
	maxDecisions     = 10_000
	maxDecisionsBody = 16 << 20
)

// maxViewSubjects is the most subjects a batch's view is loaded for by
// name; beyond, it is loaded for every subject (one scan, not a query
// with thousands of parameters).
const maxViewSubjects = 2_000

func (s *Server) postDecisions(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.Decide, ""); err != nil {
		return err
	}
	var reqs []decisionRequest
	if err := readJSON(r, &reqs); err != nil {
		return err
	}
	if len(reqs) == 0 || len(reqs) > maxDecisions {
		return badRequest("expected a list of 1 to %d records to decide", maxDecisions)
	}
	ctx := r.Context()
	vs, _, err := s.Versions(ctx)
	if err != nil {
		return err
	}
	// Read every record first; then one view per as-of time (of the
	// batch's subjects) and one plan per as-of time, purpose and recipient.
	type item struct {
		at  timestamp.Time
		rec decision.Record
	}
	now := timestamp.Now()
	items := make([]item, len(reqs))
	subjectsAt := map[timestamp.Time]map[string]bool{}
	for i, q := range reqs {
		at := now
		if q.AsOf != nil {
			if at, err = timestamp.Parse(*q.AsOf); err != nil {
				return badRequest("record %d: as_of %q: expected an RFC 3339 time", i, *q.AsOf)
			}
		}
		created, err := timestamp.Parse(q.Created)
		if err != nil {
			return badRequest("record %d: created %q: expected an RFC 3339 time", i, q.Created)
		}
		if len(q.Subjects) == 0 || q.Category == "" || q.Purpose == "" || q.Recipient == "" {
			return badRequest("record %d: subjects, category, created, purpose and recipient are required", i)
		}
		items[i] = item{at: at, rec: decision.Record{Category: []byte(q.Category), Created: created}}
		if subjectsAt[at] == nil {
			subjectsAt[at] = map[string]bool{}
		}
		for _, sr := range q.Subjects {
			role := policy.Author
			if sr.Role != "" {
				var ok bool
				if role, ok = policy.ParseRole(sr.Role); !ok {
					return badRequest("record %d: role %q is not author, recipient or mentioned", i, sr.Role)
				}
			}
			if sr.ID == "" {
				return badRequest("record %d: a subject without an id", i)
			}
			items[i].rec.Subjects = append(items[i].rec.Subjects, decision.SubjectRef{ID: []byte(sr.ID), Role: role})
			subjectsAt[at][sr.ID] = true
		}
	}
	views := map[timestamp.Time]*consent.View{}
	for at, set := range subjectsAt {
		var ids []string // nil: every subject, for a batch naming many
		if len(set) <= maxViewSubjects {
			ids = make([]string, 0, len(set))
			for id := range set {
				ids = append(ids, id)
			}
		}
		if views[at], err = store.LoadView(ctx, s.Store, at, vs.Attributes(), ids); err != nil {
			return err
		}
	}
	type planKey struct {
		at                 timestamp.Time
		purpose, recipient string
	}
	plans := map[planKey]*decision.Plan{}
	out := make([]any, len(reqs))
	for i, q := range reqs {
		k := planKey{items[i].at, q.Purpose, q.Recipient}
		plan, ok := plans[k]
		if !ok {
			if plan, err = decision.NewPlan(vs, views[k.at], q.Purpose, q.Recipient); err != nil {
				return badRequest("record %d: %v", i, err)
			}
			plans[k] = plan
		}
		out[i] = plan.Explain(&items[i].rec).JSON()
	}
	s.metrics.decisions.Add(float64(len(reqs)))
	writeJSON(w, http.StatusOK, map[string]any{"decisions": out})
	return nil
}

// policyInfo is a published version as listed.
type policyInfo struct {
	Version       string         `json:"version"`
	EffectiveFrom timestamp.Time `json:"effective_from"`
	SHA256        string         `json:"sha256"`
	PublishedAt   timestamp.Time `json:"published_at"`
	Forced        bool           `json:"forced"`
}

func info(p store.Policy) policyInfo {
	return policyInfo{p.Version, p.EffectiveFrom, p.Digest, p.PublishedAt, p.Forced}
}

func (s *Server) getPolicies(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.ReadPolicies, ""); err != nil {
		return err
	}
	ps, err := s.Store.Policies(r.Context())
	if err != nil {
		return err
	}
	out := make([]policyInfo, len(ps))
	for i, x := range ps {
		out[i] = info(x)
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": out})
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.ReadPolicies, ""); err != nil {
		return err
	}
	v := r.PathValue("version")
	ps, err := s.Store.Policies(r.Context())
	if err != nil {
		return err
	}
	for _, x := range ps {
		if x.Version == v {
			writeJSON(w, http.StatusOK, map[string]any{"policy": info(x), "source": string(x.Source)})
			return nil
		}
	}
	return notFound("policy version " + v)
}

// postPolicy publishes a version: the body is the policy YAML; ?force=true
// publishes past a notice violation, recorded as forced.
func (s *Server) postPolicy(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.Publish, ""); err != nil {
		return err
	}
	var src bytes.Buffer
	if _, err := src.ReadFrom(r.Body); err != nil {
		return err
	}
	doc, _, err := policy.Parse("request body", src.Bytes())
	if err != nil {
		return badRequest("%v", err)
	}
	t, err := policy.Compile(doc)
	if err != nil {
		return badRequest("%v", err)
	}
	force := r.URL.Query().Get("force") == "true"
	msg, err := store.Publish(r.Context(), s.Store, t, force, timestamp.Now())
	if err != nil {
		return err
	}
	s.forgetVersions()
	s.checkpoint(r.Context())
	writeJSON(w, http.StatusCreated, map[string]any{"version": doc.Version, "message": msg})
	return nil
}

func (s *Server) getDiff(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.ReadPolicies, ""); err != nil {
		return err
	}
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if from == "" || to == "" {
		return badRequest("from and to (published versions) are required")
	}
	vs, ps, err := s.Versions(r.Context())
	if err != nil {
		return err
	}
	oldT, ok := vs.ByLabel(from)
	if !ok {
		return notFound("policy version " + from)
	}
	newT, ok := vs.ByLabel(to)
	if !ok {
		return notFound("policy version " + to)
	}
	announced := timestamp.Time(0)
	for _, x := range ps {
		if x.Version == to {
			announced = x.PublishedAt
		}
	}
	d, err := policy.Compare(oldT, newT, announced)
	if err != nil {
		return err
	}
	lines := make([]string, len(d.Changes))
	for i, c := range d.Changes {
		lines[i] = c.String()
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "diff": d, "summary": lines})
	return nil
}

// exportInfo is an export as listed.
type exportInfo struct {
	ID        string         `json:"id"`
	CreatedAt timestamp.Time `json:"created_at"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	AsOf      timestamp.Time `json:"as_of"`
	Status    string         `json:"status"`
}

func (s *Server) getExports(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.ReadExports, ""); err != nil {
		return err
	}
	es, err := s.Store.Exports(r.Context())
	if err != nil {
		return err
	}
	out := make([]exportInfo, len(es))
	for i, e := range es {
		out[i] = exportInfo{e.ID, e.CreatedAt, e.Purpose, e.Recipient, e.AsOf, e.Status}
	}
	writeJSON(w, http.StatusOK, map[string]any{"exports": out})
	return nil
}

func (s *Server) getExport(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.ReadExports, ""); err != nil {
		return err
	}
	id := r.PathValue("id")
	es, err := s.Store.Exports(r.Context())
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.ID == id {
			s.metrics.exports.Inc()
			writeJSON(w, http.StatusOK, map[string]any{"export": exportInfo{e.ID, e.CreatedAt, e.Purpose, e.Recipient, e.AsOf, e.Status},
				"manifest": json.RawMessage(e.Manifest)})
			return nil
		}
	}
	return notFound("export " + id)
}

func (s *Server) getImpact(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.ReadExports, ""); err != nil {
		return err
	}
	since := timestamp.Min
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := timestamp.Parse(v)
		if err != nil {
			return badRequest("since %q: expected an RFC 3339 time", v)
		}
		since = t
	}
	items, err := impact.Items(r.Context(), s.Store, since)
	if err != nil {
		return err
	}
	if items == nil {
		items = []impact.Item{}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].ExportID < items[j].ExportID })
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// markRequest is the body of POST /v1/impact/marks.
type markRequest struct {
	Export  string `json:"export"`
	Subject string `json:"subject"`
	Status  string `json:"status"`
	Note    string `json:"note,omitempty"`
}

func (s *Server) postImpactMark(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := must(p, access.MarkImpact, ""); err != nil {
		return err
	}
	var q markRequest
	if err := readJSON(r, &q); err != nil {
		return err
	}
	if !impact.ValidStatus(q.Status) {
		return badRequest("status %q: expected open, notified, retrained or waived", q.Status)
	}
	m := store.ImpactMark{ExportID: q.Export, Subject: q.Subject, Status: q.Status, Note: q.Note, At: timestamp.Now()}
	if err := impact.Mark(r.Context(), s.Store, m); errors.Is(err, impact.ErrNotItem) {
		return notFound("impact item (export " + q.Export + ", subject " + q.Subject + ")")
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"export": q.Export, "subject": q.Subject, "status": q.Status})
	return nil
}
