package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/httpapi"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

const testPolicy = `version: "v1"
effective_from: 2020-01-01T00:00:00Z
purposes: [train_ai_system.generative]
categories: [user.content.public, user.content.private.message]
recipients:
  self:      { class: first_party }
  partner-x: { class: third_party }
regions:
  strict: ["@EEA", GB]
attributes:
  tier: [free, premium]
gpc: [third_party]
defaults:
  train_ai_system: granted
rules:
  - id: strict
    effect: deny
    when: { purpose: train_ai_system, region: strict }
  - id: messages-need-consent
    effect: require_consent
    when: { category: user.content.private }
`

// world is a server on a real listener over a SQLite store, with a token
// per role.
type world struct {
	t      testing.TB
	url    string
	srv    *httpapi.Server
	g      *gate.Gate
	dir    string
	tokens map[string]string // admin, operator, auditor, ana (subject), ben (subject), revoked
	oa     *responseChecker  // every answer do receives is checked against openapi.json
}

// writeFile writes a test file into dir and returns its path.
func writeFile(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// openGate opens a session on dir's store for the test.
func openGate(t testing.TB, dir string, mode gate.Mode, serving bool) *gate.Gate {
	t.Helper()
	g, err := gate.Open(context.Background(), gate.Config{Store: filepath.Join(dir, "s.db"), Mode: mode, Deployment: "test", Serving: serving})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// publish publishes a policy document through the gate.
func publish(t testing.TB, g *gate.Gate, src string) {
	t.Helper()
	pf, err := gate.ReadPolicy("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Publish(context.Background(), access.Local, pf, false); err != nil {
		t.Fatal(err)
	}
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	g := openGate(t, dir, gate.Create, true)
	publish(t, g, testPolicy)
	subjects := writeFile(t, dir, "subjects.jsonl", `{"subject":"ana","at":"2021-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}
{"subject":"ben","at":"2021-01-01T00:00:00Z","region":"DE"}
`)
	if _, err := g.ImportSubjects(ctx, subjects); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, g: g, dir: dir, tokens: map[string]string{}}
	for name, role := range map[string]access.Role{"admin": access.Admin, "operator": access.Operator, "auditor": access.Auditor, "ana": access.Subject, "ben": access.Subject, "revoked": access.Operator} {
		subject := ""
		if role == access.Subject {
			subject = name
		}
		secret, err := g.CreateToken(ctx, role, subject)
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[name] = secret
	}
	if _, err := g.RevokeToken(ctx, w.tokens["revoked"]); err != nil {
		t.Fatal(err)
	}
	w.srv = httpapi.New(httpapi.Config{Gate: g, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBody: 64 << 10})
	hs := httptest.NewServer(w.srv.Handler())
	t.Cleanup(hs.Close)
	w.url = hs.URL
	return w
}

// history is a subject's consent history as the store keeps it.
func (w *world) history(subject string) []gate.ConsentEvent {
	w.t.Helper()
	h, err := w.g.ConsentHistory(context.Background(), access.Local, subject)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

// do sends a request as who ("" for no token) and returns status and body.
func (w *world) do(who, method, path string, body string, hdr ...string) (int, []byte) {
	w.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, w.url+path, rd)
	if who != "" {
		tok, ok := w.tokens[who]
		if !ok {
			tok = who // a literal token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if w.oa == nil {
		w.oa = newResponseChecker(w.t, w.srv)
	}
	if err := w.oa.check(req, resp, b); err != nil {
		w.t.Errorf("the answer is not the one openapi.json documents: %v\n%.300s", err, b)
	}
	return resp.StatusCode, b
}

func (w *world) json(who, method, path, body string, want int) map[string]any {
	w.t.Helper()
	code, b := w.do(who, method, path, body)
	if code != want {
		w.t.Fatalf("%s %s as %s: %d, want %d\n%s", method, path, who, code, want, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		w.t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	return v
}

const consentBody = `{"purpose":"train_ai_system","recipient":"third_party","state":"denied"}`

// TestRolesAndRoutes: every route, every role, and the status each gets.
func TestRolesAndRoutes(t *testing.T) {
	w := newWorld(t)
	export := "none"
	decisions := `[{"subjects":[{"id":"ana"}],"category":"user.content.public","created":"2023-01-01T00:00:00Z","purpose":"train_ai_system.generative","recipient":"partner-x"}]`
	type call struct{ method, path, body string }
	calls := []call{
		{"GET", "/v1/subjects/ana", ""},
		{"PUT", "/v1/subjects/ana", `{"attributes":{"tier":"premium"}}`},
		{"POST", "/v1/subjects/ana/consents", consentBody},
		{"GET", "/v1/subjects/ana/consents", ""},
		{"GET", "/v1/subjects/ana/consents/history", ""},
		{"GET", "/v1/subjects/ana/report", ""},
		{"POST", "/v1/decisions", decisions},
		{"GET", "/v1/policies", ""},
		{"GET", "/v1/policies/v1", ""},
		{"GET", "/v1/policies/diff?from=v1&to=v1", ""},
		{"POST", "/v1/policies", testPolicy},
		{"GET", "/v1/exports", ""},
		{"GET", "/v1/exports/" + export, ""},
		{"GET", "/v1/impact", ""},
		{"POST", "/v1/impact/marks", `{"export":"none","subject":"ana","status":"notified"}`},
	}
	// The status each role gets: ok is the route's success (200, 201, or
	// 404 for the export that does not exist).
	allowed := map[string][]string{
		"admin":    {"*"},
		"operator": {"GET /v1/subjects/ana", "PUT /v1/subjects/ana", "POST /v1/subjects/ana/consents", "GET /v1/subjects/ana/consents", "GET /v1/subjects/ana/consents/history", "GET /v1/subjects/ana/report", "POST /v1/decisions", "GET /v1/policies", "GET /v1/policies/v1", "GET /v1/policies/diff?from=v1&to=v1", "GET /v1/exports", "GET /v1/exports/none", "GET /v1/impact", "POST /v1/impact/marks"},
		"auditor":  {"GET /v1/subjects/ana", "GET /v1/subjects/ana/consents", "GET /v1/subjects/ana/consents/history", "GET /v1/subjects/ana/report", "POST /v1/decisions", "GET /v1/policies", "GET /v1/policies/v1", "GET /v1/policies/diff?from=v1&to=v1", "GET /v1/exports", "GET /v1/exports/none", "GET /v1/impact"},
		"ben":      {"GET /v1/policies", "GET /v1/policies/v1", "GET /v1/policies/diff?from=v1&to=v1"},
		"ana":      {"GET /v1/subjects/ana", "POST /v1/subjects/ana/consents", "GET /v1/subjects/ana/consents", "GET /v1/subjects/ana/consents/history", "GET /v1/subjects/ana/report", "GET /v1/policies", "GET /v1/policies/v1", "GET /v1/policies/diff?from=v1&to=v1"},
	}
	for _, who := range []string{"admin", "operator", "auditor", "ana", "ben", "", "revoked", "cgt_notatoken"} {
		for _, c := range calls {
			code, body := w.do(who, c.method, c.path, c.body)
			key := c.method + " " + c.path
			want := "forbidden"
			switch {
			case who == "" || who == "revoked" || who == "cgt_notatoken":
				want = "unauthorized"
			case slices.Contains(allowed[who], "*") || slices.Contains(allowed[who], key):
				want = "ok"
			}
			var got string
			switch {
			case code == 401:
				got = "unauthorized"
			case code == 403:
				got = "forbidden"
			case code < 300, code == 404 && (strings.Contains(c.path, "none") || strings.Contains(c.body, `"none"`)), code == 409 && c.method == "POST" && c.path == "/v1/policies":
				got = "ok"
			default:
				got = fmt.Sprint(code)
			}
			if got != want {
				t.Errorf("%s as %q: %d (%s), want %s\n%s", key, who, code, got, want, body)
			}
			if code >= 400 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal(body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("%s as %q: error body %s", key, who, body)
				}
				if code == 401 && !strings.Contains(string(body), "a valid bearer token is required") {
					t.Errorf("401 says more than it should: %s", body)
				}
			}
		}
	}
}

// TestSubjectIsolation: a subject token on another subject's routes gets
// 403 whether or not that subject exists, and may not backdate.
func TestSubjectIsolation(t *testing.T) {
	w := newWorld(t)
	for _, other := range []string{"ben", "zed"} {
		for _, c := range [][2]string{{"GET", ""}, {"PUT", ""}, {"POST", "/consents"}, {"GET", "/consents"}, {"GET", "/consents/history"}, {"GET", "/report"}} {
			body := ""
			if c[0] != "GET" {
				body = consentBody
			}
			code, b := w.do("ana", c[0], "/v1/subjects/"+other+c[1], body)
			if code != 403 {
				t.Errorf("ana %s %s%s: %d %s", c[0], other, c[1], code, b)
			}
		}
	}
	code, b := w.do("ana", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","state":"denied","at":"2024-01-01T00:00:00Z"}`)
	if code != 403 || !strings.Contains(string(b), "at may not be given") {
		t.Fatalf("a subject backdating: %d %s", code, b)
	}
	// Their own choice is recorded and shows at once.
	w.json("ana", "POST", "/v1/subjects/ana/consents", consentBody, 201)
	v := w.json("ana", "GET", "/v1/subjects/ana/consents", "", 200)
	if !strings.Contains(fmt.Sprint(v["consent"]), "partner-x recipient_class:third_party state:denied") {
		t.Fatalf("consent after the change: %v", v["consent"])
	}
}

// TestBadRequests: malformed, invalid and oversized bodies are refused
// with a coded JSON error and change nothing.
func TestBadRequests(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before, _ := w.g.LogSize(ctx)
	for _, c := range []struct {
		method, path, body string
		code               int
		says               string
	}{
		{"POST", "/v1/subjects/ana/consents", `{"purpose":`, 400, "not valid JSON"},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","state":"maybe"}`, 400, "state"},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"sell_data","state":"denied"}`, 400, "sell_data"},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","state":"denied","extra":1}`, 400, "unknown field"},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","state":"denied","at":"2999-01-01T00:00:00Z"}`, 400, "future"},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","state":"denied"} {}`, 400, "bytes after the object"},
		{"PUT", "/v1/subjects/ana", `{"region":"XX"}`, 400, "XX"},
		{"POST", "/v1/decisions", `[]`, 400, "records to decide"},
		{"POST", "/v1/decisions", `[{"subjects":[{"id":"ana","role":"boss"}],"category":"c","created":"2023-01-01T00:00:00Z","purpose":"p","recipient":"r"}]`, 400, "boss"},
		{"POST", "/v1/policies", "version: v2\npurposes: [\n", 400, "request body"},
		{"GET", "/v1/subjects/ana?as_of=yesterday", "", 400, "as_of"},
		{"GET", "/v1/subjects/ana?as_of=2024-10-20T1:03:10Z", "", 400, "as_of"},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","state":"denied","at":"2024-10-20T10:03:10,5Z"}`, 400, "RFC 3339"},
		{"POST", "/v1/decisions", `[{"subjects":[{"id":"ana"}],"category":"user.content.public","created":"2024-10-20 10:03:10Z","purpose":"train_ai_system.generative","recipient":"self"}]`, 400, "created"},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"` + strings.Repeat("x", 70<<10) + `","state":"denied"}`, 413, "larger than"},
		{"GET", "/v1/log/proofs/inclusion?index=-1", "", 400, "index"},
	} {
		code, b := w.do("admin", c.method, c.path, c.body)
		if code != c.code || !strings.Contains(string(b), c.says) {
			t.Errorf("%s %s %.40q: %d %s, want %d %q", c.method, c.path, c.body, code, b, c.code, c.says)
		}
	}
	if after, _ := w.g.LogSize(ctx); after != before {
		t.Fatalf("bad requests changed the store: log %d → %d", before, after)
	}
}

// TestGPC: a consent request with Sec-GPC: 1 records the denials the
// policy's gpc list asks for, once; a later explicit grant stays.
func TestGPC(t *testing.T) {
	w := newWorld(t)
	code, b := w.do("ana", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system.generative","recipient":"self","state":"granted"}`, "Sec-GPC", "1")
	if code != 201 || !strings.Contains(string(b), `"source":"gpc"`) {
		t.Fatalf("with GPC: %d %s", code, b)
	}
	hist := w.history("ana")
	if len(hist) != 2 || hist[0].Source != "gpc" || hist[0].Recipient != "third_party" || hist[0].State != "denied" {
		t.Fatalf("history %+v", hist)
	}
	// Again: already denied, nothing more from GPC.
	_, b = w.do("ana", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system.generative","recipient":"self","state":"denied"}`, "Sec-GPC", "1")
	if strings.Contains(string(b), `"source":"gpc"`) {
		t.Fatalf("GPC recorded twice: %s", b)
	}
	// An explicit grant for third parties is the subject's choice; without
	// the header it stands.
	w.json("ana", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","recipient":"third_party","state":"granted","source":"settings"}`, 201)
	v := w.json("ana", "GET", "/v1/subjects/ana/consents", "", 200)
	if !strings.Contains(fmt.Sprint(v["consent"]), "partner-x recipient_class:third_party state:granted") {
		t.Fatalf("after the explicit grant: %v", v["consent"])
	}
	// A later signal does not undo the grant made after a GPC denial
	// (SPEC §7): nothing from GPC, and the grant still decides.
	n := len(w.history("ana"))
	_, b = w.do("ana", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system.generative","recipient":"self","state":"granted"}`, "Sec-GPC", "1")
	if strings.Contains(string(b), `"source":"gpc"`) || len(w.history("ana")) != n+1 {
		t.Fatalf("a signal after the grant: %s", b)
	}
	v = w.json("ana", "GET", "/v1/subjects/ana/consents", "", 200)
	if !strings.Contains(fmt.Sprint(v["consent"]), "partner-x recipient_class:third_party state:granted") {
		t.Fatalf("after a later signal: %v", v["consent"])
	}
	// A subject token records only its own settings.
	code, b = w.do("ana", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system","state":"denied","source":"support"}`)
	if code != 403 || !strings.Contains(string(b), "source settings") {
		t.Fatalf("a subject recording source support: %d %s", code, b)
	}
}

// TestEffectiveOverHTTP: GET consents answers the effective state (SPEC
// §7), one entry per leaf purpose × declared recipient × leaf category,
// each what POST /v1/decisions gives a record of that category created at
// the as-of time with the subject as author.
func TestEffectiveOverHTTP(t *testing.T) {
	w := newWorld(t)
	for _, subject := range []string{"ana", "ben"} {
		v := w.json("admin", "GET", "/v1/subjects/"+subject+"/consents", "", 200)
		eff, _ := v["effective"].([]any)
		if len(eff) != 2*2 {
			t.Fatalf("%s: %d effective entries, want 2 recipients × 2 categories: %v", subject, len(eff), v)
		}
		asOf := v["as_of"].(string)
		for _, x := range eff {
			e := x.(map[string]any)
			body := fmt.Sprintf(`[{"subjects":[{"id":%q}],"category":%q,"created":%q,"purpose":%q,"recipient":%q,"as_of":%q}]`,
				subject, e["category"], asOf, e["purpose"], e["recipient"], asOf)
			code, b := w.do("admin", "POST", "/v1/decisions", body)
			var got struct {
				Decisions []struct {
					Decision, Reason string
					Checks           []struct{ Reason string }
				}
			}
			if code != 200 || json.Unmarshal(b, &got) != nil || len(got.Decisions) != 1 {
				t.Fatalf("decide %s: %d %s", body, code, b)
			}
			// An allowed record's reason is its now check's.
			d := got.Decisions[0]
			reason := d.Reason
			if d.Decision == "allow" {
				reason = d.Checks[0].Reason
			}
			if d.Decision != e["decision"] || reason != e["reason"] {
				t.Errorf("%s %s %s: effective %s %s, decide %s %s", subject, e["recipient"], e["category"], e["decision"], e["reason"], d.Decision, reason)
			}
		}
	}
}

// TestLogOverHTTP: the checkpoint, tiles and proofs the server gives check
// with the merkle library.
func TestLogOverHTTP(t *testing.T) {
	w := newWorld(t)
	var lines strings.Builder
	for i := range 300 {
		fmt.Fprintf(&lines, `{"subject":"s%d","purpose":"train_ai_system","state":"denied","at":%q,"source":"api"}`+"\n", i, timestamp.Time(i+1).String())
	}
	if _, err := w.g.ImportConsent(context.Background(), writeFile(t, w.dir, "c.jsonl", lines.String())); err != nil {
		t.Fatal(err)
	}
	w.srv.Checkpoint(context.Background())
	code, note := w.do("", "GET", "/log/checkpoint", "")
	if code != 200 {
		t.Fatalf("checkpoint %d", code)
	}
	// The published verifier key is the keys folder's, and checks it.
	pub, _ := os.ReadFile(filepath.Join(w.dir, "s.db.keys", "log.pub"))
	code, key := w.do("", "GET", "/log/key", "")
	if code != 200 || strings.TrimSpace(string(key)) != strings.TrimSpace(string(pub)) {
		t.Fatalf("GET /log/key: %d %q, want %q", code, key, pub)
	}
	cp, err := translog.OpenCheckpoint(note, strings.TrimSpace(string(key)))
	if err != nil || cp.Size < 300 {
		t.Fatalf("checkpoint %v %s", err, note)
	}
	var inc struct {
		Index, Size int64
		LeafHash    []byte `json:"leaf_hash"`
		Root        []byte
		Proof       []string
	}
	_, b := w.do("", "GET", "/v1/log/proofs/inclusion?index=260", "")
	json.Unmarshal(b, &inc)
	var hs [][]byte
	for _, p := range inc.Proof {
		var h []byte
		json.Unmarshal([]byte(`"`+p+`"`), &h)
		hs = append(hs, h)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 260, uint64(cp.Size), inc.LeafHash, hs, cp.Root); err != nil {
		t.Fatalf("inclusion over HTTP: %v (%s)", err, b)
	}
	code, tile := w.do("", "GET", "/log/tile/0/000", "")
	if code != 200 || len(tile) != 256*32 {
		t.Fatalf("tile 0/000: %d, %d bytes", code, len(tile))
	}
	code, part := w.do("", "GET", fmt.Sprintf("/log/tile/0/001.p/%d", cp.Size-256), "")
	if code != 200 || len(part) != int(cp.Size-256)*32 || !bytes.Equal(part[4*32:5*32], inc.LeafHash) {
		t.Fatalf("partial tile: %d, %d bytes", code, len(part))
	}
	if code, _ := w.do("", "GET", "/log/tile/0/001.p/3", ""); code != 404 {
		t.Fatalf("a partial tile of the wrong width: %d", code)
	}
	if code, b := w.do("", "GET", "/log/tile/entries/000", ""); code != 200 || len(b) < 256*60 {
		t.Fatalf("entry bundle: %d %d", code, len(b))
	}
}

// TestOpenAPI: the document lists exactly the routes the server serves.
func TestOpenAPI(t *testing.T) {
	w := newWorld(t)
	code, b := w.do("", "GET", "/openapi.json", "")
	if code != 200 {
		t.Fatal(code)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("document: %v %s", err, doc.OpenAPI)
	}
	wild := regexp.MustCompile(`\{(\w+)\.\.\.\}`)
	served := map[string]bool{}
	for _, r := range w.srv.Routes() {
		p := wild.ReplaceAllString(r.Path, "{$1}")
		served[strings.ToLower(r.Method)+" "+p] = true
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but not in openapi.json", r.Method, p)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !served[m+" "+p] {
				t.Errorf("%s %s is in openapi.json but not served", m, p)
			}
		}
	}
}

// TestHealthAndMetrics: /healthz answers and /metrics counts requests.
func TestHealthAndMetrics(t *testing.T) {
	w := newWorld(t)
	if code, b := w.do("", "GET", "/healthz", ""); code != 200 || !strings.Contains(string(b), "ok") {
		t.Fatalf("healthz %d %s", code, b)
	}
	w.json("operator", "POST", "/v1/subjects/ana/consents", consentBody, 201)
	_, m := w.do("", "GET", "/metrics", "")
	for _, want := range []string{`consentgate_http_requests_total{method="POST",route="POST /v1/subjects/{id}/consents",status="201"} 1`,
		"consentgate_consent_events_total 1", "consentgate_http_request_duration_seconds_bucket"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestReadsFollowOtherWriters: reads come from memory, yet a change stored
// by another process (here: straight into the store) shows within the
// sync interval, and this server's own writes at once.
func TestReadsFollowOtherWriters(t *testing.T) {
	w := newWorld(t)
	state := func() string {
		v := w.json("operator", "GET", "/v1/subjects/ben/consents", "", 200)
		for _, c := range v["consent"].([]any) {
			m := c.(map[string]any)
			if m["recipient"] == "partner-x" {
				return m["state"].(string)
			}
		}
		return ""
	}
	if got := state(); got != "none" {
		t.Fatalf("before: %s", got)
	}
	// Another process's session on the same store.
	other := openGate(t, w.dir, gate.Write, false)
	ben, purpose, recipient, denied := "ben", "train_ai_system", "third_party", "denied"
	if _, err := other.RecordConsent(context.Background(), access.Local, consent.Choice{Subject: &ben, Purpose: &purpose, Recipient: &recipient, State: &denied}, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for state() != "denied" {
		if time.Now().After(deadline) {
			t.Fatal("a change stored by another writer never showed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.json("operator", "POST", "/v1/subjects/ben/consents", `{"purpose":"train_ai_system","recipient":"third_party","state":"granted"}`, 201)
	if got := state(); got != "granted" {
		t.Fatalf("this server's own write is not read back at once: %s", got)
	}
	// A subject change too.
	if _, _, err := other.RecordSubjectJSON(context.Background(), access.Local, "ben", []byte(`{"region":"US"}`)); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for w.json("operator", "GET", "/v1/subjects/ben", "", 200)["region"] != "US" {
		if time.Now().After(deadline) {
			t.Fatal("a subject change stored by another writer never showed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBatchDecisions: a batch mixing as-of times, purposes, recipients and
// subjects answers each record as the record alone would be answered.
func TestBatchDecisions(t *testing.T) {
	w := newWorld(t)
	var batch []string
	for i := range 40 {
		subject := []string{"ana", "ben", "zed"}[i%3]
		recipient := []string{"partner-x", "self"}[i%2]
		asOf := []string{"2022-06-01T00:00:00Z", "2025-06-01T00:00:00Z"}[i%4/2]
		batch = append(batch, fmt.Sprintf(`{"subjects":[{"id":%q}],"category":"user.content.public","created":"2021-06-01T00:00:00Z","purpose":"train_ai_system.generative","recipient":%q,"as_of":%q}`, subject, recipient, asOf))
	}
	all := w.json("auditor", "POST", "/v1/decisions", "["+strings.Join(batch, ",")+"]", 200)["decisions"].([]any)
	if len(all) != len(batch) {
		t.Fatalf("%d answers to %d records", len(all), len(batch))
	}
	allowed := 0
	for i, rec := range batch {
		one := w.json("auditor", "POST", "/v1/decisions", "["+rec+"]", 200)["decisions"].([]any)[0]
		a, _ := json.Marshal(all[i])
		o, _ := json.Marshal(one)
		if string(a) != string(o) {
			t.Fatalf("record %d in the batch: %s\nalone: %s", i, a, o)
		}
		if all[i].(map[string]any)["decision"] == "allow" {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(batch) {
		t.Fatalf("%d of %d allowed: the batch should mix outcomes", allowed, len(batch))
	}
	// The largest batch the API promises fits its body limit; one more
	// record is refused.
	big := strings.Repeat(batch[0]+",", 10_000)
	if code, b := w.do("auditor", "POST", "/v1/decisions", "["+big[:len(big)-1]+"]"); code != 200 {
		t.Fatalf("10,000 records (%d bytes): %d %.200s", len(big), code, b)
	}
	if code, _ := w.do("auditor", "POST", "/v1/decisions", "["+big+batch[0]+"]"); code != 400 {
		t.Fatalf("10,001 records: %d", code)
	}
}

// TestPeriodicCheckpoint: while the log grows, the server issues a signed
// checkpoint every CheckpointEvery (SPEC §6: at least once a minute), and
// one more when it stops.
func TestPeriodicCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := openGate(t, dir, gate.Create, true)
	srv := httpapi.New(httpapi.Config{Gate: g, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CheckpointEvery: 20 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx, l) }()
	sizes := func() []int64 {
		cps, err := g.Checkpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, c := range cps {
			out = append(out, c.Size)
		}
		return out
	}
	version := func(i int) string {
		return strings.Replace(strings.Replace(testPolicy, `version: "v1"`, fmt.Sprintf(`version: "v%d"`, i+10), 1),
			"effective_from: 2020-01-01T00:00:00Z", fmt.Sprintf("effective_from: 20%d-01-01T00:00:00Z", 20+i), 1)
	}
	for i := range 3 {
		publish(t, g, version(i))
		// (Each append records the checkpoints issued before it, so the
		// log grows by more than the publication.)
		size, _ := g.LogSize(ctx)
		deadline := time.Now().Add(2 * time.Second)
		for !slices.Contains(sizes(), size) {
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint of size %d within 2 s: %v", size, sizes())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	publish(t, g, version(3))
	last, _ := g.LogSize(ctx)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := sizes(); got[len(got)-1] != last {
		t.Fatalf("no checkpoint on the way out: %v", got)
	}
}

// TestPublishWordsItsHint: a refusal tells an HTTP client what it can do
// in its own terms, never the command line's; the diff route counts the
// subjects a widening exposes as the command line does.
func TestPublishWordsItsHint(t *testing.T) {
	w := newWorld(t)
	wider := strings.NewReplacer(`version: "v1"`, `version: "v2"`, "effective_from: 2020-01-01T00:00:00Z",
		"effective_from: 2021-01-01T00:00:00Z\nannounced_at: 2021-01-01T00:00:00Z\nmin_notice: 30d",
		"  - id: strict\n    effect: deny\n    when: { purpose: train_ai_system, region: strict }\n", "").Replace(testPolicy)
	code, b := w.do("admin", "POST", "/v1/policies", wider)
	if code != 409 || !strings.Contains(string(b), "?force=true") || strings.Contains(string(b), "--force") || !strings.Contains(string(b), `"hint":"force"`) {
		t.Fatalf("a widening without notice: %d %s", code, b)
	}
	w.json("admin", "POST", "/v1/policies?force=true", wider, 201)
	v := w.json("auditor", "GET", "/v1/policies/diff?from=v1&to=v2", "", 200)
	if n, ok := v["diff"].(map[string]any)["subjects_newly_allowed"].(float64); !ok || n != 1 {
		t.Fatalf("the diff's exposed subjects: %v", v["diff"])
	}
	// Every key of the answer is one openapi.json describes.
	_, b = w.do("", "GET", "/openapi.json", "")
	var doc map[string]any
	json.Unmarshal(b, &doc)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var check func(path string, v any, schema map[string]any)
	check = func(path string, v any, schema map[string]any) {
		if ref, ok := schema["$ref"].(string); ok {
			schema = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		}
		switch v := v.(type) {
		case map[string]any:
			props, _ := schema["properties"].(map[string]any)
			for k, x := range v {
				sub, ok := props[k].(map[string]any)
				if !ok {
					t.Errorf("the diff's answer has %s.%s, which openapi.json does not describe", path, k)
					continue
				}
				check(path+"."+k, x, sub)
			}
		case []any:
			items, _ := schema["items"].(map[string]any)
			for _, x := range v {
				check(path+"[]", x, items)
			}
		}
	}
	diffOp := doc["paths"].(map[string]any)["/v1/policies/diff"].(map[string]any)["get"].(map[string]any)
	resp := diffOp["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	check("", v, resp)
	if len(v["diff"].(map[string]any)["changes"].([]any)) == 0 {
		t.Fatalf("the widening has no change: %v", v["diff"])
	}
}
