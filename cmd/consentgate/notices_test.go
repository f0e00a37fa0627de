package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/consentgate/consentgate/internal/deliver"
	"github.com/consentgate/consentgate/internal/notice"
)

// runEvent is an OpenLineage COMPLETE run event, as the OpenLineage
// Python client's HTTP and file transports send it, of a job that read
// the file at input.
func runEvent(job, runID, at, input string) string {
	b, _ := json.Marshal(map[string]any{
		"eventType": "COMPLETE", "eventTime": at,
		"producer":  "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/client/python",
		"schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
		"run":       map[string]any{"runId": runID, "facets": map[string]any{}},
		"job":       map[string]any{"namespace": "partner-x", "name": job, "facets": map[string]any{}},
		"inputs":    []any{map[string]any{"namespace": "file", "name": input, "facets": map[string]any{}}},
		"outputs":   []any{map[string]any{"namespace": "s3://partner-x-models", "name": job + "/weights", "facets": map[string]any{}}},
	})
	return string(b)
}

// noticeReceiver is a recipient's webhook: it checks each request with
// Standard Webhooks' own Go library, with the secret of its endpoint
// (derived from the deliverer's key, its recipient and its URL, as
// `deliver secret --notices` prints it), and keeps the notices that arrive.
type noticeReceiver struct {
	t         *testing.T
	keyPath   string
	recipient string // partner-x when empty
	mu        sync.Mutex
	got       []json.RawMessage
}

func (r *noticeReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	key, err := os.ReadFile(r.keyPath)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	recipient := r.recipient
	if recipient == "" {
		recipient = "partner-x"
	}
	lib, err := standardwebhooks.NewWebhook(deliver.NoticesWebhook(key, recipient, "http://"+req.Host).Secret())
	if err == nil {
		err = lib.Verify(body, req.Header)
	}
	if err != nil {
		r.t.Errorf("a notice delivery's signature: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var b deliver.NoticesBody
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("a notice delivery's body: %v", err)
	}
	r.mu.Lock()
	r.got = append(r.got, b.Notices...)
	r.mu.Unlock()
}

func (r *noticeReceiver) notices() []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]json.RawMessage{}, r.got...)
}

// policy3 narrows policy-2: premium members' public posts no longer go to
// third parties; recipients have 30 days to act on a notice.
const policy3 = `version: "2025-04-01"
effective_from: 2025-04-01T00:00:00Z
remediation_within: 30d
purposes: [train_ai_system.generative]
categories: [user.content.public, user.content.private.message]
recipients:
  self:      { class: first_party }
  partner-x: { class: third_party }
regions:
  strict: ["@EEA", GB]
attributes:
  tier: [free, premium]
defaults:
  train_ai_system: granted
rules:
  - id: strict
    effect: deny
    when: { purpose: train_ai_system, region: strict }
  - id: no-region
    effect: deny
    when: { region: unknown }
  - id: premium-messages
    effect: deny
    when: { category: user.content.private.message, tier: premium, recipient: third_party }
  - id: premium-stays-home
    effect: deny
    when: { tier: premium, recipient: third_party }
  - id: messages-need-consent
    effect: require_consent
    when: { category: user.content.private }
`

// noticesWorld is the e2e world with a fifth member, gus, whose post is
// in the export, exported to partner-x as of 2025-01-01 (out.jsonl, five
// records: p1 p3 p6 p7 p21), and a training job of partner-x's that
// trained on it, linked by `lineage import`.
func noticesWorld(t *testing.T) (dir string) {
	t.Helper()
	dir = setupE2E(t)
	os.WriteFile(filepath.Join(dir, "gus.jsonl"), []byte(`{"subject":"gus","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "extra.jsonl"), []byte(`{"id":"p21","kind":"user.content.public","author":"gus","created_at":"2024-10-06T00:00:00Z","text":"gus writes"}`+"\n"), 0o644)
	ok(t, dir, "subjects", "import", "gus.jsonl")
	ok(t, dir, "export", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z",
		"--in", "posts.jsonl", "extra.jsonl", "--id", "id", "--time", "created_at", "--category-field", "kind",
		"--subject", "author=author", "--subject", "recipient=to", "--out", "out.jsonl")
	if got := readFile(t, dir, "out.jsonl"); strings.Count(got, "\n") != 5 || !strings.Contains(got, `"p21"`) {
		t.Fatalf("the export:\n%s", got)
	}
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(runEvent("llm-v3.fine-tune", "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e0f", "2025-02-15T06:00:00Z", filepath.Join(dir, "out.jsonl"))+"\n"), 0o644)
	if out := ok(t, dir, "lineage", "import", "train.jsonl"); !strings.Contains(out, "linked partner-x/llm-v3.fine-tune") || !strings.Contains(out, "1 run linked") {
		t.Fatalf("lineage import:\n%s", out)
	}
	return dir
}

// TestNoticesEndToEnd (SPEC §11) with the real binary: after an export,
// a withdrawal, a move and a narrower policy; `notices send` makes one
// notice naming the four records, `deliver` posts it to the recipient's
// webhook, signed; the recipient checks every proof against the manifest
// and the notice's log inclusion, and answers with its own token; the
// answer shows in `notices --json` and the log. Sending again adds
// nothing; a second withdrawal makes a second notice holding only the new
// record.
func TestNoticesEndToEnd(t *testing.T) {
	dir := noticesWorld(t)
	manifest := []byte(readFile(t, dir, "out.jsonl.manifest.json"))
	var m struct {
		ExportID string `json:"export_id"`
	}
	json.Unmarshal(manifest, &m)

	// After the export: ana withdraws, eve moves to a strict region, and
	// a narrower version leaves out premium members (cy).
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-03-01T00:00:00Z")
	os.WriteFile(filepath.Join(dir, "move.jsonl"), []byte(`{"subject":"eve","at":"2025-02-01T00:00:00Z","region":"DE"}`+"\n"), 0o644)
	ok(t, dir, "subjects", "import", "move.jsonl")
	os.WriteFile(filepath.Join(dir, "policy-3.yaml"), []byte(policy3), 0o644)
	ok(t, dir, "policy", "publish", "policy-3.yaml")

	rcv := &noticeReceiver{t: t, keyPath: filepath.Join(dir, "consentgate.db.keys", "webhook.key")}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	srv := serve(t, dir)
	token := strings.TrimSpace(ok(t, dir, "token", "create", "--role", "recipient", "--recipient", "partner-x"))

	out := ok(t, dir, "notices", "send")
	first := m.ExportID + ".n1"
	if !strings.Contains(out, "sent "+first+" to partner-x about export "+m.ExportID+": 4 records") || !strings.Contains(out, "[open]") {
		t.Fatalf("notices send:\n%s", out)
	}
	if out := ok(t, dir, "notices", "send"); !strings.Contains(out, "nothing to send") || !strings.Contains(out, "3 items already notified") {
		t.Fatalf("notices send again:\n%s", out)
	}
	ok(t, dir, "deliver", "--notices", "partner-x="+hook.URL, "--once")
	got := rcv.notices()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d notices", len(got))
	}
	records := checkDelivered(t, dir, got[0], manifest, first)
	// Evidence that does not hold is refused: a proof hash changed, the
	// proof for another leaf, a checkpoint signed by another key.
	key := readFile(t, dir, filepath.Join("consentgate.db.keys", "log.pub"))
	for what, edit := range map[string]func(b map[string]any){
		"a proof hash": func(b map[string]any) {
			p := b["log"].(map[string]any)["proof"].([]any)
			p[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		},
		"another index": func(b map[string]any) { b["log"].(map[string]any)["index"] = 3 },
		"another checkpoint": func(b map[string]any) {
			b["log"].(map[string]any)["checkpoint"] = strings.Replace(b["log"].(map[string]any)["checkpoint"].(string), "\n\n", "\nextra\n\n", 1)
		},
	} {
		var b map[string]any
		json.Unmarshal(got[0], &b)
		edit(b)
		bad, _ := json.Marshal(b)
		if _, _, err := notice.VerifyBundle(bad, manifest, key); err == nil || !strings.Contains(err.Error(), "the notice's log inclusion") {
			t.Errorf("%s: %v", what, err)
		}
	}
	want := map[string]string{"p1": "withdrawal", "p7": "withdrawal", "p6": "ineligibility", "p3": "narrower policy"}
	if fmt.Sprint(records) != fmt.Sprint(want) {
		t.Fatalf("the notice's records and reasons: %v, want %v", records, want)
	}

	// The recipient answers with its own token.
	code, body := call(t, srv, token, "POST", "/v1/notices/"+first+"/answers", `{"status":"deleted","note":"deleted; llm-v3 retrained without them"}`)
	if code != 201 || !strings.Contains(body, `"status":"deleted"`) {
		t.Fatalf("the recipient's answer: %d %s", code, body)
	}
	if code, body := call(t, srv, token, "POST", "/v1/notices/"+first+"/answers", `{"status":"excluded"}`); code != 409 || !strings.Contains(body, "already closed") {
		t.Fatalf("answering a closed notice: %d %s", code, body)
	}
	if code, body := call(t, srv, token, "POST", "/v1/notices/"+first+"/answers", `{"status":"refused"}`); code != 400 && code != 409 {
		t.Fatalf("a refusal without a note: %d %s", code, body)
	}
	var listed struct {
		Notices []struct {
			ID, Status string
			Answers    []struct{ Status, Note, By string }
			Jobs       []struct{ Namespace, Name string }
		}
	}
	if err := json.Unmarshal([]byte(ok(t, dir, "notices", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed.Notices) != 1 || listed.Notices[0].Status != "deleted" || len(listed.Notices[0].Answers) != 1 ||
		listed.Notices[0].Answers[0].By != "recipient:partner-x" || listed.Notices[0].Answers[0].Note != "deleted; llm-v3 retrained without them" ||
		len(listed.Notices[0].Jobs) != 1 || listed.Notices[0].Jobs[0].Name != "llm-v3.fine-tune" {
		t.Fatalf("notices --json: %+v", listed)
	}
	var rep struct {
		Report struct{ Leaves map[string]int }
	}
	if err := json.Unmarshal([]byte(ok(t, dir, "log", "verify", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Report.Leaves["notice"] != 1 || rep.Report.Leaves["answer"] != 1 || rep.Report.Leaves["lineage"] != 1 {
		t.Fatalf("the log's leaves: %v", rep.Report.Leaves)
	}
	if out := ok(t, dir, "log", "verify"); !strings.Contains(out, "1  notice leaf re-derived from its row") || !strings.Contains(out, "1  answer leaf") || !strings.Contains(out, "1  lineage leaf") {
		t.Fatalf("log verify:\n%s", out)
	}
	if out := ok(t, dir, "impact"); !strings.Contains(out, "[notified: "+first+" deleted]") {
		t.Fatalf("impact after the notice:\n%s", out)
	}
	// Each member sees the story with their own token: the export, why,
	// the notice with its answer and log index, and the job.
	for subject, want := range map[string]struct {
		cause   string
		records int
	}{"ana": {"withdrawal", 2}, "eve": {"ineligibility", 1}, "cy": {"narrower policy", 1}, "ben": {}} {
		tk := strings.TrimSpace(ok(t, dir, "token", "create", "--role", "subject", "--subject", subject))
		code, body := call(t, srv, tk, "GET", "/v1/subjects/"+subject+"/notices", "")
		var a struct {
			AfterOptOut []struct {
				ExportID string `json:"export_id"`
				Cause    string
				Records  int
				Status   string
				Notices  []struct {
					ID, Status string
					Records    int
					LogIndex   int64 `json:"log_index"`
					Answers    []struct{ Status, By string }
				}
				Jobs []struct{ Job string }
			} `json:"after_opt_out"`
		}
		if err := json.Unmarshal([]byte(body), &a); code != 200 || err != nil {
			t.Fatalf("%s's aftermath: %d %v %s", subject, code, err, body)
		}
		if want.cause == "" {
			if len(a.AfterOptOut) != 0 {
				t.Errorf("%s, never in an export denied, has an aftermath: %s", subject, body)
			}
			continue
		}
		if len(a.AfterOptOut) != 1 {
			t.Fatalf("%s's aftermath: %s", subject, body)
		}
		x := a.AfterOptOut[0]
		if x.ExportID != m.ExportID || x.Cause != want.cause || x.Records != want.records || x.Status != "notified" || len(x.Notices) != 1 ||
			x.Notices[0].ID != first || x.Notices[0].Status != "deleted" || x.Notices[0].Records != want.records || x.Notices[0].LogIndex <= 0 ||
			len(x.Notices[0].Answers) != 1 || x.Notices[0].Answers[0].By != "recipient:partner-x" || len(x.Jobs) != 1 || x.Jobs[0].Job != "llm-v3.fine-tune" {
			t.Errorf("%s's aftermath: %s", subject, body)
		}
	}

	// A second withdrawal: the next notice holds only gus's record.
	ok(t, dir, "consent", "set", "--subject", "gus", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-05-01T00:00:00Z")
	second := m.ExportID + ".n2"
	if out := ok(t, dir, "notices", "send"); !strings.Contains(out, "sent "+second) || !strings.Contains(out, ": 1 record,") {
		t.Fatalf("the second notices send:\n%s", out)
	}
	if out := ok(t, dir, "deliver", "status"); !regexp.MustCompile(`notices:partner-x:webhook:\S+: delivered up to seq 1, 1 pending`).MatchString(out) {
		t.Fatalf("deliver status before the second delivery:\n%s", out)
	}
	ok(t, dir, "deliver", "--notices", "partner-x="+hook.URL, "--once")
	got = rcv.notices()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d notices after the second send", len(got))
	}
	if records := checkDelivered(t, dir, got[1], manifest, second); fmt.Sprint(records) != "map[p21:withdrawal]" {
		t.Fatalf("the second notice's records: %v", records)
	}
	// A refusal keeps the notice open for an operator; wontfix with a
	// note closes it, and no answer follows.
	if code, body := call(t, srv, token, "POST", "/v1/notices/"+second+"/answers", `{"status":"refused","note":"the model is frozen"}`); code != 201 || !strings.Contains(body, `"status":"refused"`) {
		t.Fatalf("a refusal: %d %s", code, body)
	}
	if out := ok(t, dir, "notices", "--export", m.ExportID); !strings.Contains(out, second) || !strings.Contains(out, "[refused]") {
		t.Fatalf("notices after a refusal:\n%s", out)
	}
	if code, body = call(t, srv, "", "GET", "/metrics", ""); !strings.Contains(body, `consentgate_notices_open{recipient="partner-x"} 1`) {
		t.Fatalf("a refused notice is still open in /metrics:\n%s", grepLines(body, "consentgate_notices"))
	}
	if _, e, code := cg(t, dir, "notices", "answer", second, "--status", "wontfix"); code == 0 || !strings.Contains(e, "needs a note") {
		t.Fatalf("wontfix without a note: exit %d %s", code, e)
	}
	if out := ok(t, dir, "notices", "answer", second, "--status", "wontfix", "--note", "partner-x keeps the model; escalated to legal"); !strings.Contains(out, "[wontfix]") {
		t.Fatalf("wontfix:\n%s", out)
	}
	if code, body := call(t, srv, token, "POST", "/v1/notices/"+second+"/answers", `{"status":"deleted"}`); code != 409 {
		t.Fatalf("an answer after wontfix: %d %s", code, body)
	}
	// Delivered once each: a third deliver sends nothing again.
	ok(t, dir, "deliver", "--notices", "partner-x="+hook.URL, "--once")
	if n := len(rcv.notices()); n != 2 {
		t.Fatalf("a third deliver re-sent: %d notices", n)
	}
	code, body = call(t, srv, token, "GET", "/v1/notices", "")
	if code != 200 || strings.Count(body, `"export_id"`) < 2 {
		t.Fatalf("GET /v1/notices with the recipient's token: %d %s", code, body)
	}
	code, body = call(t, srv, "", "GET", "/metrics", "")
	if code != 200 || !strings.Contains(body, `consentgate_notices_open{recipient="partner-x"} 0`) || !strings.Contains(body, `consentgate_notices_overdue{recipient="partner-x"} 0`) {
		t.Fatalf("/metrics: %d\n%s", code, grepLines(body, "consentgate_notices"))
	}
	if out := ok(t, dir, "notices", "--overdue"); !strings.Contains(out, "no notice is overdue") {
		t.Fatalf("notices --overdue:\n%s", out)
	}
	ok(t, dir, "log", "verify")
}

// checkDelivered checks a delivered notice as its recipient would: with
// the library and with `notice verify`, its signature, its log inclusion
// and every record's proof in the manifest's records_root; and that it
// names no subject. It returns the records' reasons by id.
func checkDelivered(t *testing.T, dir string, got json.RawMessage, manifest []byte, id string) map[string]string {
	t.Helper()
	key := readFile(t, dir, filepath.Join("consentgate.db.keys", "log.pub"))
	n, inLog, err := notice.VerifyBundle(got, manifest, key)
	if err != nil || !inLog || n.ID != id {
		t.Fatalf("the delivered notice %s: in the log %v, %v\n%s", id, inLog, err, got)
	}
	for _, s := range []string{"ana", "eve", "cy", "gus", "hello", "from New York"} {
		if regexp.MustCompile(`\b` + s + `\b`).Match(got) {
			t.Errorf("the delivered notice names %q:\n%s", s, got)
		}
	}
	os.WriteFile(filepath.Join(dir, id+".json"), got, 0o644)
	if out := ok(t, dir, "notice", "verify", id+".json", "--manifest", "out.jsonl.manifest.json", "--key", filepath.Join("consentgate.db.keys", "log.pub"),
		"--dataset", "out.jsonl"); !strings.Contains(out, "in the log at index") || !strings.Contains(out, "out.jsonl holds every record the notice names") {
		t.Fatalf("notice verify:\n%s", out)
	}
	// A copy of the dataset whose named line was edited is not the one
	// exported.
	lines := strings.SplitAfter(readFile(t, dir, "out.jsonl"), "\n")
	lines[n.Records[0].Index] = strings.Replace(lines[n.Records[0].Index], `"text":"`, `"text":"edited `, 1)
	os.WriteFile(filepath.Join(dir, "copy.jsonl"), []byte(strings.Join(lines, "")), 0o644)
	if _, e, code := cg(t, dir, "notice", "verify", id+".json", "--manifest", "out.jsonl.manifest.json", "--key", filepath.Join("consentgate.db.keys", "log.pub"),
		"--dataset", "copy.jsonl"); code == 0 || !strings.Contains(e, "this copy is not the one exported") {
		t.Fatalf("notice verify --dataset of an edited copy: exit %d %s", code, e)
	}
	out := map[string]string{}
	for _, r := range n.Records {
		out[r.ID] = r.Reason
	}
	return out
}

// call makes one request to the server with a bearer token ("" for none).
func call(t *testing.T, srv, token, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestNoticesAuthorization: a recipient token reaches only its own
// recipient's notices — another recipient's notice is refused alike
// whether it exists or not, and subject, export, impact and admin routes
// are refused; a subject token cannot read notices; an auditor reads them
// and cannot answer; lineage from a recipient links only its own exports.
func TestNoticesAuthorization(t *testing.T) {
	dir := noticesWorld(t)
	var m struct {
		ExportID string `json:"export_id"`
	}
	json.Unmarshal([]byte(readFile(t, dir, "out.jsonl.manifest.json")), &m)
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-03-01T00:00:00Z")
	ok(t, dir, "notices", "send")
	id := m.ExportID + ".n1"
	srv := serve(t, dir)
	tok := func(args ...string) string {
		return strings.TrimSpace(ok(t, dir, append([]string{"token", "create", "--role"}, args...)...))
	}
	partner, self := tok("recipient", "--recipient", "partner-x"), tok("recipient", "--recipient", "self")
	ana, auditor, operator := tok("subject", "--subject", "ana"), tok("auditor"), tok("operator")

	for _, c := range []struct {
		who, token, method, path, body string
		want                           int
	}{
		{"partner-x", partner, "GET", "/v1/notices/" + id, "", 200},
		{"partner-x", partner, "GET", "/v1/notices?recipient=self", "", 403},
		{"partner-x", partner, "GET", "/v1/subjects/ana", "", 403},
		{"partner-x", partner, "GET", "/v1/subjects/ana/notices", "", 403},
		{"partner-x", partner, "GET", "/v1/exports", "", 403},
		{"partner-x", partner, "GET", "/v1/impact", "", 403},
		{"partner-x", partner, "POST", "/v1/impact/marks", `{"export":"` + m.ExportID + `","subject":"ana","status":"deleted"}`, 403},
		{"partner-x", partner, "POST", "/v1/policies", "version: x", 403},
		{"partner-x", partner, "POST", "/v1/notices/" + id + "/answers", `{"status":"wontfix","note":"no"}`, 400},
		{"self", self, "GET", "/v1/notices/" + id, "", 403},
		{"self", self, "GET", "/v1/notices/no-such-notice", "", 403},
		{"self", self, "POST", "/v1/notices/" + id + "/answers", `{"status":"deleted"}`, 403},
		{"ana", ana, "GET", "/v1/notices", "", 403},
		{"ana", ana, "GET", "/v1/notices/" + id, "", 403},
		{"ana", ana, "POST", "/api/v1/lineage", runEvent("x", "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e01", "2025-02-15T06:00:00Z", filepath.Join(dir, "out.jsonl")), 403},
		{"ana", ana, "GET", "/v1/subjects/ana/notices", "", 200},
		{"auditor", auditor, "GET", "/v1/notices/" + id, "", 200},
		{"auditor", auditor, "POST", "/v1/notices/" + id + "/answers", `{"status":"deleted"}`, 403},
		{"operator", operator, "GET", "/v1/notices/no-such-notice", "", 404},
		{"nobody", "", "GET", "/v1/notices", "", 401},
	} {
		if code, body := call(t, srv, c.token, c.method, c.path, c.body); code != c.want {
			t.Errorf("%s: %s %s: %d, want %d: %s", c.who, c.method, c.path, code, c.want, body)
		}
	}
	code, body := call(t, srv, self, "GET", "/v1/notices", "")
	if code != 200 || strings.Contains(body, id) {
		t.Errorf("self's own listing: %d %s", code, body)
	}
	// Lineage from self naming partner-x's export links nothing; from
	// partner-x it links its job.
	ev := runEvent("llm-v4", "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e02", "2025-03-02T06:00:00Z", filepath.Join(dir, "out.jsonl"))
	if code, body := call(t, srv, self, "POST", "/api/v1/lineage", ev); code != 201 || !strings.Contains(body, `"linked":[]`) || !strings.Contains(body, `"unmatched":1`) {
		t.Errorf("self's lineage on partner-x's export: %d %s", code, body)
	}
	if code, body := call(t, srv, partner, "POST", "/api/v1/lineage", ev); code != 201 || !strings.Contains(body, `"job":"llm-v4"`) {
		t.Errorf("partner-x's lineage: %d %s", code, body)
	}
	// A client that compresses its body (Content-Encoding: gzip).
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(runEvent("llm-v5", "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e03", "2025-03-03T06:00:00Z", filepath.Join(dir, "out.jsonl"))))
	zw.Close()
	req, _ := http.NewRequest("POST", srv+"/api/v1/lineage", &zb)
	req.Header.Set("Authorization", "Bearer "+partner)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || !strings.Contains(string(b), `"job":"llm-v5"`) {
			t.Errorf("a gzip'd run event: %d %s", resp.StatusCode, b)
		}
	}
	if code, body := call(t, srv, partner, "POST", "/api/v1/lineage", `{"eventType":"COMPLETE"}`); code != 400 || !strings.Contains(body, "eventTime is missing") {
		t.Errorf("a bad run event: %d %s", code, body)
	}
	// The next notice names both jobs: a second withdrawal.
	ok(t, dir, "consent", "set", "--subject", "gus", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-05-01T00:00:00Z")
	ok(t, dir, "notices", "send")
	code, body = call(t, srv, partner, "GET", "/v1/notices/"+m.ExportID+".n2", "")
	if code != 200 || !strings.Contains(body, `"name":"llm-v3.fine-tune"`) || !strings.Contains(body, `"name":"llm-v4"`) {
		t.Errorf("the second notice's jobs: %d %s", code, body)
	}
}

// TestNoticesOverNATS: `deliver --notices-nats RECIPIENT` publishes the
// recipient's notices to its subject on the real JetStream server, each
// once (Nats-Msg-Id notice-ID), with its log evidence.
func TestNoticesOverNATS(t *testing.T) {
	url := os.Getenv("CONSENTGATE_TEST_NATS")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	dir := noticesWorld(t)
	manifest := []byte(readFile(t, dir, "out.jsonl.manifest.json"))
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-03-01T00:00:00Z")
	ok(t, dir, "notices", "send")
	name := fmt.Sprintf("CGTEST%d", time.Now().UnixNano())
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("%v (.ci/run starts nats-server with JetStream)", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	defer js.DeleteStream(context.Background(), name)
	defer js.DeleteStream(context.Background(), name+"N")
	args := []string{"deliver", "--nats", url, "--nats-subject", "cgtest." + name, "--nats-stream", name,
		"--notices-nats", "partner-x", "--notices-nats-prefix", "cgtest." + name + ".notices", "--notices-nats-stream", name + "N", "--once"}
	ok(t, dir, args...)
	ok(t, dir, args...) // again: nothing is published twice
	s, err := js.Stream(context.Background(), name+"N")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(context.Background())
	if info.State.Msgs != 1 {
		t.Fatalf("the notices' stream holds %d messages, want 1", info.State.Msgs)
	}
	cons, _ := s.OrderedConsumer(context.Background(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{"cgtest." + name + ".notices.partner-x"}})
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for msg := range batch.Messages() {
		n++
		var m struct {
			ExportID string `json:"export_id"`
		}
		json.Unmarshal(manifest, &m)
		if got := msg.Headers().Get(jetstream.MsgIDHeader); got != "notice-"+m.ExportID+".n1" {
			t.Errorf("Nats-Msg-Id %q", got)
		}
		checkDelivered(t, dir, msg.Data(), manifest, m.ExportID+".n1")
	}
	if n != 1 {
		t.Fatalf("%d notices fetched", n)
	}
}
