package httpapi

import (
	"compress/gzip"
	"io"
	"net/http"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/lineage"
	"github.com/consentgate/consentgate/internal/policy"
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
	s.schemaRoutes()

	s.handle("GET", "/v1/subjects/{id}", s.authed(s.getSubject))
	s.handle("PUT", "/v1/subjects/{id}", s.authed(s.putSubject))
	s.handle("POST", "/v1/subjects/{id}/consents", s.authed(s.postConsent))
	s.handle("GET", "/v1/subjects/{id}/consents", s.authed(s.getConsents))
	s.handle("GET", "/v1/subjects/{id}/consents/history", s.authed(s.getHistory))
	s.handle("GET", "/v1/subjects/{id}/report", s.authed(s.getReport))
	s.handle("GET", "/v1/subjects/{id}/notices", s.authed(s.getAftermaths))
	s.handle("POST", "/v1/decisions", s.authedUpTo(max(s.MaxBody, maxDecisionsBody), s.postDecisions))
	s.handle("GET", "/v1/policies", s.authed(s.getPolicies))
	s.handle("POST", "/v1/policies", s.authed(s.postPolicy))
	s.handle("GET", "/v1/policies/diff", s.authed(s.getDiff))
	s.handle("GET", "/v1/policies/{version}", s.authed(s.getPolicy))
	s.handle("GET", "/v1/exports", s.authed(s.getExports))
	s.handle("GET", "/v1/exports/{id}", s.authed(s.getExport))
	s.handle("GET", "/v1/impact", s.authed(s.getImpact))
	s.handle("POST", "/v1/impact/marks", s.authed(s.postImpactMark))
	s.handle("GET", "/v1/notices", s.authed(s.getNotices))
	s.handle("GET", "/v1/notices/{id}", s.authed(s.getNotice))
	s.handle("POST", "/v1/notices/{id}/answers", s.authed(s.postNoticeAnswer))
	s.handle("POST", "/api/v1/lineage", s.authed(s.postLineage))
	s.logRoutes()
}

// healthz answers 200 when the store answers and can be written to; 503
// naming the cause when it cannot — it does not answer, its disk is (nearly)
// full, or a write failed for lack of space and none has succeeded since.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	err := s.Gate.Health(r.Context())
	if err == nil {
		if since := s.fullSince.Load(); since != 0 {
			err = &Error{Status: http.StatusServiceUnavailable, Code: string(gate.Full),
				Message: "the store is not writable: a write failed for lack of space at " + time.Unix(0, since).UTC().Format(time.RFC3339) + ", and none has gone through since"}
		}
	}
	if err != nil {
		e := asError(err)
		status := "unavailable"
		if e.Code == string(gate.Full) {
			status = "unwritable"
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": status, "error": e})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// asOf reads ?as_of=T (nil when absent: now).
func asOf(r *http.Request) (*timestamp.Time, error) {
	v := r.URL.Query().Get("as_of")
	if v == "" {
		return nil, nil
	}
	t, err := timestamp.Parse(v)
	if err != nil {
		return nil, badRequest("as_of %q: expected an RFC 3339 time", v)
	}
	return &t, nil
}

func (s *Server) getSubject(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	t, err := asOf(r)
	if err != nil {
		return err
	}
	st, err := s.Gate.Subject(r.Context(), p, r.PathValue("id"), t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// putSubject records an attribute change: the body is a subjects-file line
// without the subject ({"at", "region", "attributes"}), read as one.
func (s *Server) putSubject(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	e, added, err := s.Gate.RecordSubjectJSON(r.Context(), p, id, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"subject": id, "at": e.At, "added": added})
	return nil
}

// postConsent records a choice: the body is a consent-file line without the
// subject, read as one; Sec-GPC: 1 first records what the signal owes.
func (s *Server) postConsent(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	events, err := s.Gate.RecordConsentJSON(r.Context(), p, id, body, r.Header.Get("Sec-GPC") == "1")
	if err != nil {
		return err
	}
	for _, e := range events {
		if e.Added {
			s.metrics.consent.Inc()
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"subject": id, "recorded": events})
	return nil
}

func (s *Server) getConsents(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	t, err := asOf(r)
	if err != nil {
		return err
	}
	v, err := s.Gate.Consents(r.Context(), p, r.PathValue("id"), t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pr, err := pageOf(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	hist, err := s.Gate.ConsentHistory(r.Context(), p, id)
	if err != nil {
		return err
	}
	pg, err := gate.Paginate(hist, pr, gate.ConsentEventKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paged(map[string]any{"subject": id}, "events", pg))
	return nil
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pr, err := pageOf(r)
	if err != nil {
		return err
	}
	rep, err := s.Gate.Report(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg, err := gate.Paginate(rep.Exports, pr, gate.ReportKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paged(map[string]any{"subject": rep.Subject, "known": rep.Known}, "exports", pg))
	return nil
}

// decisionRequest is one record to decide, as the body gives it.
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

// maxDecisionsBody bounds a batch's body: 10,000 records of a few subjects
// each.
const maxDecisionsBody = 16 << 20

func (s *Server) postDecisions(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if !p.Can(access.Decide, "") { // before the body is read: who may not ask is not told what is wrong with it
		return gate.Errorf(gate.Forbidden, gate.NoHint, "this token may not ask for decisions")
	}
	var body []decisionRequest
	if err := readJSON(r, &body); err != nil {
		return err
	}
	reqs := make([]gate.DecisionRequest, len(body))
	for i, q := range body {
		d := &reqs[i]
		d.Category, d.Purpose, d.Recipient = q.Category, q.Purpose, q.Recipient
		created, err := timestamp.Parse(q.Created)
		if err != nil {
			return badRequest("record %d: created %q: expected an RFC 3339 time", i, q.Created)
		}
		d.Created = created
		if q.AsOf != nil {
			t, err := timestamp.Parse(*q.AsOf)
			if err != nil {
				return badRequest("record %d: as_of %q: expected an RFC 3339 time", i, *q.AsOf)
			}
			d.AsOf = &t
		}
		for _, sr := range q.Subjects {
			role := policy.Author
			if sr.Role != "" {
				var ok bool
				if role, ok = policy.ParseRole(sr.Role); !ok {
					return badRequest("record %d: role %q is not author, recipient or mentioned", i, sr.Role)
				}
			}
			d.Subjects = append(d.Subjects, gate.SubjectRole{ID: sr.ID, Role: role})
		}
	}
	exs, err := s.Gate.Decide(r.Context(), p, reqs)
	if err != nil {
		return err
	}
	out := make([]any, len(exs))
	for i, ex := range exs {
		out[i] = ex.JSON()
	}
	s.metrics.decisions.Add(float64(len(exs)))
	writeJSON(w, http.StatusOK, map[string]any{"decisions": out})
	return nil
}

func (s *Server) getPolicies(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pr, err := pageOf(r)
	if err != nil {
		return err
	}
	ps, err := s.Gate.Policies(r.Context(), p)
	if err != nil {
		return err
	}
	pg, err := gate.Paginate(ps, pr, gate.PolicyKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paged(map[string]any{}, "policies", pg))
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	info, src, err := s.Gate.Policy(r.Context(), p, r.PathValue("version"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy": info, "source": string(src)})
	return nil
}

// postPolicy publishes a version: the body is the policy YAML (or JSON);
// ?force=true publishes past the checks, recorded as forced.
func (s *Server) postPolicy(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if !p.Can(access.Publish, "") { // before the body is read: a token that may not publish learns nothing of it
		return gate.Errorf(gate.Forbidden, gate.NoHint, "this token may not publish policy versions")
	}
	body, err := readPolicyBody(r)
	if err != nil {
		return err
	}
	pf, err := gate.ReadPolicy("the request body", body)
	if err != nil {
		return err
	}
	pub, err := s.Gate.Publish(r.Context(), p, pf, r.URL.Query().Get("force") == "true")
	if err != nil {
		return err
	}
	s.Checkpoint(r.Context())
	status := http.StatusCreated
	if pub.Already {
		status = http.StatusOK
	}
	warnings := make([]string, len(pf.Warnings))
	for i, w := range pf.Warnings {
		warnings[i] = w.String()
	}
	writeJSON(w, status, map[string]any{"version": pub.Version, "published": pub, "warnings": warnings})
	return nil
}

func (s *Server) getDiff(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if from == "" || to == "" {
		return badRequest("from and to (published versions) are required")
	}
	d, err := s.Gate.Diff(r.Context(), p, gate.PolicyArg{Label: from}, gate.PolicyArg{Label: to})
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

func (s *Server) getExports(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pr, err := pageOf(r)
	if err != nil {
		return err
	}
	es, err := s.Gate.Exports(r.Context(), p)
	if err != nil {
		return err
	}
	pg, err := gate.Paginate(es, pr, gate.ExportKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paged(map[string]any{}, "exports", pg))
	return nil
}

func (s *Server) getExport(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	info, manifest, err := s.Gate.ExportManifest(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.metrics.exports.Inc()
	writeJSON(w, http.StatusOK, map[string]any{"export": info, "manifest": manifest})
	return nil
}

func (s *Server) getImpact(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pr, err := pageOf(r)
	if err != nil {
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
	items, err := s.Gate.Impact(r.Context(), p, since)
	if err != nil {
		return err
	}
	pg, err := gate.Paginate(items, pr, gate.ImpactKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paged(map[string]any{}, "items", pg))
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
	var q markRequest
	if err := readJSON(r, &q); err != nil {
		return err
	}
	it, err := s.Gate.MarkImpact(r.Context(), p, q.Export, q.Subject, q.Status, q.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"export": q.Export, "subject": q.Subject, "status": q.Status, "item": it})
	return nil
}

// getNotices lists notices: a recipient token's own, every one for staff;
// ?overdue=true for the overdue ones only.
func (s *Server) getNotices(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pr, err := pageOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := gate.NoticeFilter{Recipient: q.Get("recipient"), Export: q.Get("export")}
	switch v := q.Get("overdue"); v {
	case "", "false":
	case "true":
		f.Overdue = true
	default:
		return badRequest("overdue %q: expected true or false", v)
	}
	ns, err := s.Gate.Notices(r.Context(), p, f)
	if err != nil {
		return err
	}
	pg, err := gate.Paginate(ns, pr, gate.NoticeKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paged(map[string]any{}, "notices", pg))
	return nil
}

func (s *Server) getNotice(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	b, err := s.Gate.NoticeByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// answerRequest is the body of POST /v1/notices/{id}/answers.
type answerRequest struct {
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

func (s *Server) postNoticeAnswer(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var q answerRequest
	if err := readJSON(r, &q); err != nil {
		return err
	}
	n, err := s.Gate.AnswerNotice(r.Context(), p, r.PathValue("id"), q.Status, q.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

// postLineage takes one OpenLineage run event, as Marquez does at this
// path (an OpenLineage client's HTTP transport posts here with its API key
// as the bearer token), and links its job to the exports it read.
func (s *Server) postLineage(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if r.Header.Get("Content-Encoding") == "gzip" { // a client's compression setting
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return badRequest("the body is not gzip: %v", err)
		}
		r.Body = http.MaxBytesReader(nil, io.NopCloser(zr), s.MaxBody)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ev, err := lineage.ParseRunEvent(body)
	if err != nil {
		return badRequest("%s", err)
	}
	res, err := s.Gate.RecordLineage(r.Context(), p, []lineage.RunEvent{*ev})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// getAftermaths answers what happened after a member stopped allowing
// exports' use of their data: the privacy centre's "after my opt-out".
func (s *Server) getAftermaths(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pr, err := pageOf(r)
	if err != nil {
		return err
	}
	as, err := s.Gate.Aftermaths(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg, err := gate.Paginate(as, pr, gate.AftermathKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paged(map[string]any{"subject": r.PathValue("id")}, "after_opt_out", pg))
	return nil
}
