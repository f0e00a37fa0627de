package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/translog"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "consentgate-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "consentgate")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cg runs the built binary in dir.
func cg(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// ok runs the binary and fails the test unless it succeeds.
func ok(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := cg(t, dir, args...)
	if code != 0 {
		t.Fatalf("consentgate %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// e2eDir copies testdata/e2e into a fresh directory.
func e2eDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("../../testdata/e2e/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var e2eExport = []string{"export", "--purpose", "train_ai_system.generative", "--recipient", "partner-x",
	"--as-of", "2025-01-01T00:00:00Z", "--in", "posts.jsonl", "messages.jsonl",
	"--id", "id", "--time", "created_at", "--category-field", "kind", "--subject", "author=author", "--subject", "recipient=to"}

func setupE2E(t *testing.T) string {
	dir := e2eDir(t)
	ok(t, dir, "policy", "publish", "policy-1.yaml")
	ok(t, dir, "policy", "publish", "policy-2.yaml")
	if out := ok(t, dir, "subjects", "import", "subjects.jsonl"); !strings.Contains(out, "read 6 events: 6 added") {
		t.Fatalf("subjects import: %s", out)
	}
	if out := ok(t, dir, "consent", "import", "consent.jsonl"); !strings.Contains(out, "read 3 events: 3 added") {
		t.Fatalf("consent import: %s", out)
	}
	return dir
}

func TestEndToEnd(t *testing.T) {
	dir := setupE2E(t)
	// Imports are idempotent.
	if out := ok(t, dir, "consent", "import", "consent.jsonl"); !strings.Contains(out, "0 added, 3 already present") {
		t.Fatalf("re-import: %s", out)
	}
	// The diff of the two published versions counts the subjects it newly
	// allows: only eve (now in the US, never chose); ana and cy granted,
	// dee refused third parties, ben is in Germany.
	if out := ok(t, dir, "policy", "diff", "2024-01-01", "2024-09-18"); !strings.Contains(out, "fall in a widened combination: 1") {
		t.Fatalf("diff with a store:\n%s", out)
	}
	for _, workers := range []string{"1", "3"} {
		args := append(append([]string{}, e2eExport...), "--out", "out-"+workers+".jsonl", "--rejects", "rej-"+workers+".jsonl", "--workers", workers)
		ok(t, dir, args...)
		for got, want := range map[string]string{"out-" + workers + ".jsonl": "expected.jsonl", "rej-" + workers + ".jsonl": "expected.rejects.jsonl"} {
			g, _ := os.ReadFile(filepath.Join(dir, got))
			w, _ := os.ReadFile(filepath.Join(dir, want))
			if !bytes.Equal(g, w) {
				t.Errorf("workers %s: %s differs from %s:\n%s\nwant:\n%s", workers, got, want, g, w)
			}
		}
	}
	// Where their data went.
	if out := ok(t, dir, "report", "subject", "--subject", "ana"); !strings.Contains(out, "partner-x (third_party)") || strings.Count(out, "records_root") != 2 {
		t.Fatalf("report for ana (two exports so far):\n%s", out)
	}
	var rep struct {
		Known   bool
		Exports []struct{ Records int }
	}
	repJSON := ok(t, dir, "report", "subject", "--subject", "ana", "--json")
	if err := json.Unmarshal([]byte(repJSON), &rep); err != nil || !rep.Known || len(rep.Exports) != 2 || rep.Exports[0].Records != 2 {
		t.Fatalf("report json %v: %s", err, repJSON)
	}
	if out := ok(t, dir, "report", "subject", "--subject", "ben"); !strings.Contains(out, "no export included") {
		t.Fatalf("report for ben: %s", out)
	}
	if out := ok(t, dir, "report", "subject", "--subject", "zed"); !strings.Contains(out, "not known") {
		t.Fatalf("report for zed: %s", out)
	}
	m1, err := export.ReadManifest(filepath.Join(dir, "out-1.jsonl.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m3, err := export.ReadManifest(filepath.Join(dir, "out-3.jsonl.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m1.RecordsRoot != m3.RecordsRoot || m1.Output.SHA256 != m3.Output.SHA256 {
		t.Errorf("exports differ with the number of workers: %s vs %s", m1.RecordsRoot, m3.RecordsRoot)
	}
	if m1.Counts.Read != 14 || m1.Counts.Included != 4 || m1.Counts.Excluded != 10 || m1.Subjects != 3 {
		t.Errorf("counts %+v, subjects %d", m1.Counts, m1.Subjects)
	}
	if n := m1.Counts.ExcludedByReason["rule:strict"]; n != 2 {
		t.Errorf("rule:strict excluded %d, want 2", n)
	}
	// records_root recomputed independently from the expected lines.
	want, _ := os.ReadFile(filepath.Join(dir, "expected.jsonl"))
	if root := recordsRoot(t, want); m1.RecordsRoot != root {
		t.Errorf("records_root %s, want %s", m1.RecordsRoot, root)
	}
	sum := sha256.Sum256(want)
	if m1.Output.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("output digest %s", m1.Output.SHA256)
	}
	posts, _ := os.ReadFile(filepath.Join(dir, "posts.jsonl"))
	sum = sha256.Sum256(posts)
	if m1.Inputs[0].SHA256 != hex.EncodeToString(sum[:]) || m1.Inputs[0].File != "posts.jsonl" {
		t.Errorf("input digest %+v", m1.Inputs[0])
	}
	if len(m1.Policies) != 2 || m1.Policies[0].Version != "2024-01-01" {
		t.Errorf("policies used %+v", m1.Policies)
	}

	// Parquet keeps the JSON text of the same records.
	args := append(append([]string{}, e2eExport...), "--out", "out.parquet", "--format", "parquet")
	ok(t, dir, args...)
	rows, err := parquet.ReadFile[export.ParquetRow](filepath.Join(dir, "out.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
	if len(rows) != len(lines) {
		t.Fatalf("parquet has %d rows, want %d", len(rows), len(lines))
	}
	for i := range rows {
		if rows[i].Record != lines[i] {
			t.Errorf("parquet row %d = %q, want %q", i, rows[i].Record, lines[i])
		}
	}
	mp, err := export.ReadManifest(filepath.Join(dir, "out.parquet.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if mp.RecordsRoot != m1.RecordsRoot {
		t.Errorf("parquet records_root %s, want %s", mp.RecordsRoot, m1.RecordsRoot)
	}
}

// recordsRoot computes SPEC §5's records_root of JSON Lines output.
func recordsRoot(t *testing.T, out []byte) string {
	t.Helper()
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		var rec struct{ ID string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(line))
		leaf := append(append([]byte(rec.ID), 0), sum[:]...)
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(leaf), nil); err != nil {
			t.Fatal(err)
		}
	}
	if r.End() == 0 {
		return hex.EncodeToString(rfc6962.DefaultHasher.EmptyRoot())
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(root)
}

func TestBadInputChangesNothing(t *testing.T) {
	dir := setupE2E(t)
	os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte(
		`{"subject":"new1","at":"2024-01-01T00:00:00Z","region":"US"}`+"\n"+
			`{"subject":"new2","at":"2024-01-01T00:00:00Z","region":"XX"}`+"\n"), 0o644)
	_, errOut, code := cg(t, dir, "subjects", "import", "bad.jsonl")
	if code != 1 || !strings.Contains(errOut, "bad.jsonl:2:") || !strings.Contains(errOut, "XX") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out := ok(t, dir, "consent", "show", "--subject", "new1"); !strings.Contains(out, "not known") {
		t.Fatalf("a refused file changed the store:\n%s", out)
	}
	os.WriteFile(filepath.Join(dir, "badc.jsonl"), []byte(
		`{"subject":"ana","purpose":"train_ai_system","state":"denied","at":"2024-12-01T00:00:00Z"}`+"\n"+
			`{"subject":"ana","purpose":"sell_data","state":"granted","at":"2024-12-01T00:00:00Z"}`+"\n"), 0o644)
	_, errOut, code = cg(t, dir, "consent", "import", "badc.jsonl")
	if code != 1 || !strings.Contains(errOut, "badc.jsonl:2:") || !strings.Contains(errOut, "sell_data") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// An undeclared recipient is refused the same way (SPEC §3).
	os.WriteFile(filepath.Join(dir, "badr.jsonl"), []byte(
		`{"subject":"ana","purpose":"train_ai_system","state":"denied","at":"2024-12-01T00:00:00Z"}`+"\n"+
			`{"subject":"ana","purpose":"train_ai_system","recipient":"nobody-corp","state":"denied","at":"2024-12-01T00:00:00Z"}`+"\n"), 0o644)
	_, errOut, code = cg(t, dir, "consent", "import", "badr.jsonl")
	if code != 1 || !strings.Contains(errOut, "badr.jsonl:2:") || !strings.Contains(errOut, "nobody-corp") {
		t.Fatalf("undeclared recipient: exit %d, stderr %q", code, errOut)
	}
	// ana's denial on line 1 must not have been stored: p1 is still exported.
	args := append(append([]string{}, e2eExport...), "--out", "after.jsonl")
	ok(t, dir, args...)
	got, _ := os.ReadFile(filepath.Join(dir, "after.jsonl"))
	want, _ := os.ReadFile(filepath.Join(dir, "expected.jsonl"))
	if !bytes.Equal(got, want) {
		t.Fatalf("export after refused imports differs:\n%s", got)
	}

	// A policy with mistakes names the file and lines.
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("version: x\neffective_from: 2024-01-01\npurposes: [a]\ncategories: [b]\nrules:\n  - id: r\n    effect: deny\n    when: { purpose: nope }\n"), 0o644)
	_, errOut, code = cg(t, dir, "policy", "check", "bad.yaml")
	if code != 1 || !strings.Contains(errOut, "bad.yaml:2:") || !strings.Contains(errOut, "bad.yaml:8:") {
		t.Fatalf("policy check: exit %d, stderr %q", code, errOut)
	}

	// An export that cannot start writes nothing.
	args = append(append([]string{}, e2eExport...), "--out", "never.jsonl", "--rejects", "never.rej")
	args[2] = "train_ai_system"
	_, errOut, code = cg(t, dir, args...)
	if code != 1 || !strings.Contains(errOut, "not a leaf") {
		t.Fatalf("parent purpose: exit %d, stderr %q", code, errOut)
	}
	for _, f := range []string{"never.jsonl", "never.rej", "never.jsonl.manifest.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists after a refused export", f)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestPublishRules(t *testing.T) {
	dir := e2eDir(t)
	ok(t, dir, "policy", "publish", "policy-2.yaml")
	// Flags may follow positional arguments.
	if out := ok(t, dir, "policy", "publish", "policy-2.yaml", "--store", "sqlite:consentgate.db"); !strings.Contains(out, "already published") {
		t.Fatalf("republish: %s", out)
	}
	_, errOut, code := cg(t, dir, "policy", "publish", "policy-1.yaml")
	if code != 1 || !strings.Contains(errOut, "--force") {
		t.Fatalf("earlier effective_from: exit %d, %q", code, errOut)
	}
	if out := ok(t, dir, "policy", "publish", "--force", "policy-1.yaml"); !strings.Contains(out, "forced") {
		t.Fatalf("forced: %s", out)
	}
	changed, _ := os.ReadFile(filepath.Join(dir, "policy-2.yaml"))
	os.WriteFile(filepath.Join(dir, "policy-2b.yaml"), append(changed, []byte("# changed\n")...), 0o644)
	_, errOut, code = cg(t, dir, "policy", "publish", "--force", "policy-2b.yaml")
	if code != 1 || !strings.Contains(errOut, "immutable") {
		t.Fatalf("changed content: exit %d, %q", code, errOut)
	}
	out := ok(t, dir, "policy", "list")
	if !strings.Contains(out, "2024-01-01") || !strings.Contains(out, "forced") {
		t.Fatalf("list:\n%s", out)
	}
	if out := ok(t, dir, "policy", "show", "2024-09-18"); out != string(changed) {
		t.Fatalf("show:\n%s", out)
	}
	if _, _, code := cg(t, dir, "policy", "frobnicate"); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}
	if _, _, code := cg(t, dir, "export", "--purpose", "x"); code != 2 {
		t.Fatalf("incomplete export exit %d, want 2", code)
	}
}

func TestDecideAndConsent(t *testing.T) {
	dir := setupE2E(t)
	out := ok(t, dir, "decide", "--subject", "ana", "--subject", "cy:recipient", "--category", "user.content.private.message",
		"--created", "2024-10-01T00:00:00Z", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z", "--json")
	var ex struct {
		Decision, Reason, Subject, Role, Check string
		Checks                                 []struct{ Subject, Check, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if ex.Decision != "deny" || ex.Reason != "rule:premium-messages" || ex.Subject != "cy" || ex.Role != "recipient" || ex.Check != "now" || len(ex.Checks) != 4 {
		t.Fatalf("decide: %+v", ex)
	}
	text := ok(t, dir, "decide", "--subject", "ana", "--category", "user.content.public",
		"--created", "2024-10-01T00:00:00Z", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z")
	if !strings.HasPrefix(text, "ALLOW") || !strings.Contains(text, "consent granted by event of 2024-09-20") {
		t.Fatalf("decide text:\n%s", text)
	}
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--recipient", "third_party", "--state", "denied", "--at", "2024-12-01T00:00:00Z")
	show := ok(t, dir, "consent", "show", "--subject", "ana", "--as-of", "2025-01-01T00:00:00Z")
	for _, want := range []string{"region US", "tier=free", "denied", "2024-12-01T00:00:00Z  denied  purpose train_ai_system, recipient third_party, source support"} {
		if !strings.Contains(show, want) {
			t.Errorf("consent show lacks %q:\n%s", want, show)
		}
	}
	var iso struct {
		Records []struct {
			State  string
			Scope  struct{ Recipient struct{ ID, Type string } }
			Events []struct{ Notice *struct{ Version string } }
		}
	}
	isoOut := ok(t, dir, "consent", "export", "--subject", "dee", "--format", "iso27560")
	if err := json.Unmarshal([]byte(isoOut), &iso); err != nil || len(iso.Records) != 1 || len(iso.Records[0].Events) != 1 {
		t.Fatalf("iso export %v: %s", err, isoOut)
	}
	if r := iso.Records[0]; r.State != "refused" || r.Scope.Recipient.Type != "class" || r.Events[0].Notice == nil || r.Events[0].Notice.Version != "2024-09-18" ||
		!strings.Contains(isoOut, `"method": "Global Privacy Control signal"`) || !strings.Contains(isoOut, `"jurisdiction": "BR"`) {
		t.Fatalf("dee's record: %+v\n%s", r, isoOut)
	}
	isoOut = ok(t, dir, "consent", "export", "--subject", "ana", "--format", "iso27560")
	if !strings.Contains(isoOut, `"state": "given"`) || !strings.Contains(isoOut, `"state": "withdrawn"`) {
		t.Fatalf("ana's records (a grant for every recipient, then a refusal for third parties): %s", isoOut)
	}
	if _, errOut, code := cg(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2999-01-01T00:00:00Z"); code != 1 || !strings.Contains(errOut, "future") {
		t.Fatalf("future consent: %d %q", code, errOut)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"demo", "--dir", dir, "--members", "600"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"A premium member's private message", "A member in a strict region",
		"Data collected under the baseline policy", "rule:no-ai-training-in-strict-regions", "collection check",
		"NOTICE VIOLATION", "(forced)", "Whose data partner-x holds that they no longer allow", "withdrawal (consent.denied) since 2025-",
		"The widening exposed ", "in 3 lines:",
		"7. Notices to partner-x", "reports (OpenLineage, POST /api/v1/lineage) that it trained on the export", ".n1: ", "answers with its own token",
		".n1 deleted on 28 Mar 2025", ".n2 OVERDUE: no answer since its deadline", "1 answer, 1 lineage",
		"The transparency log", "leaves re-derived from the rows", "— consentgate/", "The manifest carries log index", "Done in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.db")); err != nil {
		t.Errorf("demo store: %v", err)
	}
	// The overdue notice, as the command line and the metrics see it.
	if o := ok(t, dir, "--store", "sqlite:"+filepath.Join(dir, "demo.db"), "notices", "--overdue"); strings.Count(o, "OVERDUE") != 1 || !strings.Contains(o, ".n2 to partner-x") {
		t.Errorf("notices --overdue after the demo:\n%s", o)
	}
	if _, err := os.Stat("consentgate.db"); err == nil && runtime.GOOS != "" {
		t.Errorf("the demo wrote the default store")
	}
}

func TestExportRedaction(t *testing.T) {
	dir := setupE2E(t)
	os.WriteFile(filepath.Join(dir, "redact.yaml"), []byte("fields: [text]\ndetectors:\n  email: replace\n  phone: hash\n  card: drop\n"), 0o644)
	recs := []string{
		`{"id":"r1","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"mail bob@example.com now","n":1.50}`,
		`{"id":"r2","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"card 4111 1111 1111 1111"}`,
		`{"id":"r3","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"call +44 20 7946 0958"}`,
		`{"id":"r4","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"nothing \u003chere\u003e","mail":"bob@example.com"}`,
	}
	os.WriteFile(filepath.Join(dir, "red.jsonl"), []byte(strings.Join(recs, "\n")+"\n"), 0o644)
	args := []string{"export", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z",
		"--in", "red.jsonl", "--out", "red-out.jsonl", "--rejects", "red-rej.jsonl", "--redact", "redact.yaml",
		"--id", "id", "--time", "created_at", "--category-field", "kind", "--subject", "author=author"}
	ok(t, dir, args...)
	out, _ := os.ReadFile(filepath.Join(dir, "red-out.jsonl"))
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("output:\n%s", out)
	}
	if lines[0] != `{"id":"r1","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"mail <EMAIL> now","n":1.50}` {
		t.Errorf("r1: %s", lines[0])
	}
	if !strings.HasPrefix(lines[1], `{"id":"r3","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"call <PHONE:`) {
		t.Errorf("r3: %s", lines[1])
	}
	if lines[2] != recs[3] {
		t.Errorf("r4 must be unchanged (only text is scanned): %s", lines[2])
	}
	rej, _ := os.ReadFile(filepath.Join(dir, "red-rej.jsonl"))
	if !strings.Contains(string(rej), `"id":"r2","reason":"redaction.drop"`) {
		t.Errorf("rejects: %s", rej)
	}
	m, err := export.ReadManifest(filepath.Join(dir, "red-out.jsonl.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Redaction == nil || m.Redaction.Found["email"] != 1 || m.Redaction.Found["phone"] != 1 || m.Redaction.Found["card"] != 1 ||
		m.Counts.ExcludedByReason["redaction.drop"] != 1 {
		t.Fatalf("manifest redaction %+v, counts %+v", m.Redaction, m.Counts)
	}
	if root := recordsRoot(t, out); m.RecordsRoot != root {
		t.Errorf("records_root %s is not over the redacted lines (%s)", m.RecordsRoot, root)
	}
	if st, err := os.Stat(filepath.Join(dir, "consentgate.db.keys", "redaction.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("redaction key: %v", err)
	}
	// The same key gives the same tokens the next time.
	args[10] = "red-out2.jsonl"
	ok(t, dir, args...)
	out2, _ := os.ReadFile(filepath.Join(dir, "red-out2.jsonl"))
	if string(out2) != string(out) {
		t.Fatal("a second export redacted differently")
	}
	// A bad configuration names its line and writes nothing.
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("fields: [text]\ndetectors:\n  email: blur\n"), 0o644)
	args[10], args[14] = "never.jsonl", "bad.yaml"
	if _, errOut, code := cg(t, dir, args...); code != 1 || !strings.Contains(errOut, "bad.yaml:3:") {
		t.Fatalf("bad config: %d %s", code, errOut)
	}
}

func TestExportRedactsMembers(t *testing.T) {
	dir := setupE2E(t)
	os.WriteFile(filepath.Join(dir, "names.jsonl"), []byte(
		`{"subject":"dee","at":"2023-06-01T00:00:00Z","attributes":{"handle":"@dee","name":"Dee Souza"}}`+"\n"+
			`{"subject":"ana","at":"2023-06-01T00:00:00Z","attributes":{"name":"Ana Lima"}}`+"\n"), 0o644)
	ok(t, dir, "subjects", "import", "names.jsonl")
	os.WriteFile(filepath.Join(dir, "redact.yaml"), []byte("fields: [text]\ndetectors:\n  member: replace\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "m.jsonl"), []byte(
		`{"id":"m1","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"thanks @dee, Dee Souza and @ana (Ana Lima)"}`+"\n"), 0o644)
	ok(t, dir, "export", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z",
		"--in", "m.jsonl", "--out", "m-out.jsonl", "--redact", "redact.yaml",
		"--id", "id", "--time", "created_at", "--category-field", "kind", "--subject", "author=author")
	out, _ := os.ReadFile(filepath.Join(dir, "m-out.jsonl"))
	// dee refused third parties: both her handle and her name go; ana granted: she stays.
	want := `{"id":"m1","kind":"user.content.public","author":"ana","created_at":"2024-10-01T00:00:00Z","text":"thanks <MEMBER>, <MEMBER> and @ana (Ana Lima)"}` + "\n"
	if string(out) != want {
		t.Fatalf("got %s", out)
	}
	m, err := export.ReadManifest(filepath.Join(dir, "m-out.jsonl.manifest.json"))
	if err != nil || m.Redaction.Found["member"] != 2 {
		t.Fatalf("manifest %+v %v", m.Redaction, err)
	}
}

func TestPolicyDiffAndNotice(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"2-first-party-training.yaml", "3-affiliates-and-partners.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../internal/demo/policies", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	out, _, code := cg(t, dir, "policy", "diff", "2-first-party-training.yaml", "3-affiliates-and-partners.yaml")
	if code != 3 || !strings.Contains(out, "NOTICE VIOLATION") || !strings.Contains(out, "widening:  to affiliates, partner-x · train_ai_system and below · every category except user.content.private and below · every region except strict, unknown · consent none (144 cells)") ||
		!strings.Contains(out, "in 3 lines:") || !strings.Contains(out, "where strict = @EEA, CA, CH, CN, GB, HK") {
		t.Fatalf("diff exit %d:\n%s", code, out)
	}
	jsonOut, _, code := cg(t, dir, "policy", "diff", "--json", "2-first-party-training.yaml", "3-affiliates-and-partners.yaml")
	var d struct {
		Old            string `json:"old"`
		New            string `json:"new"`
		WideningCells  int    `json:"widening_cells"`
		NarrowingCells int    `json:"narrowing_cells"`
		Notice         struct {
			Violation bool `json:"violation"`
		} `json:"notice"`
		Changes []struct {
			Widening   bool     `json:"widening"`
			Cells      int      `json:"cells"`
			Recipients []string `json:"recipients"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(jsonOut), &d); err != nil || code != 3 || !d.Notice.Violation || d.WideningCells != 144 || d.New != "2024-09-18" || len(d.Changes) != 3 ||
		!d.Changes[0].Widening || d.Changes[0].Cells != 144 || strings.Join(d.Changes[0].Recipients, ",") != "affiliates,partner-x" {
		t.Fatalf("json diff %d %v: %s", code, err, jsonOut)
	}
	if out, _, code := cg(t, dir, "policy", "diff", "3-affiliates-and-partners.yaml", "3-affiliates-and-partners.yaml"); code != 0 || !strings.Contains(out, "0 of") {
		t.Fatalf("self diff %d: %s", code, out)
	}
	// Publishing refuses the violation without --force, records it as forced with.
	ok(t, dir, "policy", "publish", "2-first-party-training.yaml")
	_, errOut, code := cg(t, dir, "policy", "publish", "3-affiliates-and-partners.yaml")
	if code != 1 || !strings.Contains(errOut, "notice") || !strings.Contains(errOut, "--force") {
		t.Fatalf("publish without --force: %d %s", code, errOut)
	}
	if out := ok(t, dir, "policy", "publish", "--force", "3-affiliates-and-partners.yaml"); !strings.Contains(out, "forced") {
		t.Fatalf("forced publish: %s", out)
	}
	// The forced publication is the log's last leaf, and says so.
	size := strings.Split(ok(t, dir, "log", "checkpoint"), "\n")[1]
	n, _ := strconv.Atoi(size)
	var inc struct{ Leaf []byte }
	json.Unmarshal([]byte(ok(t, dir, "log", "prove", "inclusion", "--index", strconv.Itoa(n-1), "--json")), &inc)
	if l, err := translog.DecodeLeaf(inc.Leaf); err != nil || l.Kind != translog.KindPolicy || l.Ref != "2024-09-18" || strings.Join(l.Names, ",") != "forced" {
		t.Fatalf("the forced publication's leaf: %+v %v", l, err)
	}
	// Published versions can be named instead of files.
	if out, _, code := cg(t, dir, "policy", "diff", "2024-08-01", "2024-09-18"); code != 3 || !strings.Contains(out, "widening") {
		t.Fatalf("diff of published versions %d: %s", code, out)
	}
}

func TestExportLineage(t *testing.T) {
	dir := setupE2E(t)
	args := append(append([]string{}, e2eExport...), "--out", "l.jsonl", "--lineage", "lineage.jsonl")
	ok(t, dir, args...)
	b, _ := os.ReadFile(filepath.Join(dir, "lineage.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("lineage file:\n%s", b)
	}
	var start, done struct {
		EventType string
		Run       struct {
			RunID  string
			Facets map[string]json.RawMessage
		}
		Inputs []struct{ Name string }
	}
	json.Unmarshal([]byte(lines[0]), &start)
	json.Unmarshal([]byte(lines[1]), &done)
	if start.EventType != "START" || done.EventType != "COMPLETE" || start.Run.RunID != done.Run.RunID || len(done.Inputs) != 2 ||
		!strings.Contains(string(done.Run.Facets["consentgate"]), `"included":4`) {
		t.Fatalf("events:\n%s", b)
	}

	// To an HTTP endpoint.
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	args = append(append([]string{}, e2eExport...), "--out", "h.jsonl", "--lineage-url", srv.URL+"/api/v1/lineage")
	ok(t, dir, args...)
	mu.Lock()
	if len(got) != 2 || !strings.Contains(got[0], `"eventType":"START"`) || !strings.Contains(got[1], `"eventType":"COMPLETE"`) {
		t.Fatalf("endpoint received %v", got)
	}
	mu.Unlock()

	// An endpoint that cannot take the START event stops the export first.
	srv.Close()
	args = append(append([]string{}, e2eExport...), "--out", "never.jsonl", "--lineage-url", srv.URL)
	if _, errOut, code := cg(t, dir, args...); code != 1 || !strings.Contains(errOut, "START") {
		t.Fatalf("unreachable endpoint: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "never.jsonl")); err == nil {
		t.Fatal("exported although the START event was not delivered")
	}
}

func TestImpact(t *testing.T) {
	dir := setupE2E(t)
	first := append(append([]string{}, e2eExport...), "--out", "first.jsonl")
	ok(t, dir, first...)
	if out := ok(t, dir, "impact"); !strings.Contains(out, "nothing is owed") {
		t.Fatalf("impact before any change:\n%s", out)
	}
	// After the export: ana withdraws, eve moves into a strict region.
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-03-01T00:00:00Z")
	os.WriteFile(filepath.Join(dir, "move.jsonl"), []byte(`{"subject":"eve","at":"2025-02-01T00:00:00Z","region":"DE"}`+"\n"), 0o644)
	ok(t, dir, "subjects", "import", "move.jsonl")
	// A second export after the withdrawal: ana is not in it, so it owes her nothing.
	second := append(append([]string{}, e2eExport...), "--out", "second.jsonl")
	second[6] = "2025-06-01T00:00:00Z"
	ok(t, dir, second...)
	var items []struct {
		ExportID                             string `json:"export_id"`
		Subject, Cause, Reason, Status, Note string
		At                                   string
		Records                              []string
	}
	out := ok(t, dir, "impact", "--json")
	var got struct {
		Items json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.Items, &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Subject != "ana" || items[0].Cause != "withdrawal" || items[0].Reason != "consent.denied" || len(items[0].Records) != 2 ||
		items[0].At != "2025-03-01T00:00:00Z" || items[1].Subject != "eve" || items[1].Cause != "ineligibility" || items[1].Reason != "rule:strict" ||
		items[1].At != "2025-02-01T00:00:00Z" || items[0].ExportID != items[1].ExportID || items[0].Status != "open" {
		t.Fatalf("impact items: %s", out)
	}
	if out := ok(t, dir, "impact", "--since", "2025-02-15T00:00:00Z"); strings.Contains(out, "eve") || !strings.Contains(out, "ana") {
		t.Fatalf("impact --since:\n%s", out)
	}
	ok(t, dir, "impact", "mark", "--export", items[0].ExportID, "--subject", "ana", "--status", "retrained", "--note", "model v7")
	if out := ok(t, dir, "impact"); !strings.Contains(out, "[retrained] — model v7") || !strings.Contains(out, "[open]") {
		t.Fatalf("after marking:\n%s", out)
	}
	if _, errOut, code := cg(t, dir, "impact", "mark", "--export", items[0].ExportID, "--subject", "ben", "--status", "notified"); code != 1 || !strings.Contains(errOut, "not an impact item") {
		t.Fatalf("marking a non-item: %d %s", code, errOut)
	}
	if _, _, code := cg(t, dir, "impact", "mark", "--export", items[0].ExportID, "--subject", "ana", "--status", "forgotten"); code != 2 {
		t.Fatalf("bad status exit %d", code)
	}
}

// TestExportKilled: an export killed (SIGKILL) while it runs leaves
// nothing that looks complete — no output, rejects or manifest under their
// names — and no export in the store.
func TestExportKilled(t *testing.T) {
	dir := setupE2E(t)
	files, err := demo.GenerateScale(dir, 2000, 400_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "export", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z",
		"--in", files.Records, "--out", "big.jsonl", "--rejects", "big.rej", "--workers", "1",
		"--id", "id", "--time", "created_at", "--category-field", "kind", "--subject", "author=author", "--subject", "recipient=to")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until it is writing, then kill it.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m, _ := filepath.Glob(filepath.Join(dir, ".big.jsonl.tmp-*")); len(m) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if m, _ := filepath.Glob(filepath.Join(dir, ".big.jsonl.tmp-*")); len(m) == 0 {
		t.Fatal("the export was not killed while running (no temporary output left)")
	}
	for _, f := range []string{"big.jsonl", "big.rej", "big.jsonl.manifest.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists after the export was killed", f)
		}
	}
	if out := ok(t, dir, "report", "subject", "--subject", "ana"); strings.Contains(out, "exp-") {
		t.Errorf("the killed export is in the store:\n%s", out)
	}
	if out := ok(t, dir, "log", "verify"); !strings.Contains(out, "log verified") {
		t.Errorf("after the kill: %s", out)
	}
}

// TestPostgresStore runs the same flow against the PostgreSQL on this
// machine, in a schema of its own.
func TestPostgresStore(t *testing.T) {
	dsn := newPGSchema(t).dsn
	dir := e2eDir(t)
	pg, kk := "--store="+dsn, "--keys="+filepath.Join(dir, "pg.keys")
	if _, errOut, code := cg(t, dir, pg, "policy", "list"); code != 2 || !strings.Contains(errOut, "a keys directory is required with a PostgreSQL store; --keys DIR") {
		t.Fatalf("PostgreSQL without --keys: exit %d\n%s", code, errOut)
	}
	ok(t, dir, pg, kk, "policy", "publish", "policy-1.yaml")
	ok(t, dir, pg, kk, "policy", "publish", "policy-2.yaml")
	ok(t, dir, pg, kk, "subjects", "import", "subjects.jsonl")
	ok(t, dir, pg, kk, "consent", "import", "consent.jsonl")
	if out := ok(t, dir, pg, kk, "consent", "import", "consent.jsonl"); !strings.Contains(out, "0 added") {
		t.Fatalf("re-import: %s", out)
	}
	args := append(append([]string{pg, kk}, e2eExport...), "--out", "pg.jsonl", "--rejects", "pg.rej")
	ok(t, dir, args...)
	for got, want := range map[string]string{"pg.jsonl": "expected.jsonl", "pg.rej": "expected.rejects.jsonl"} {
		g, _ := os.ReadFile(filepath.Join(dir, got))
		w, _ := os.ReadFile(filepath.Join(dir, want))
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs from %s with the PostgreSQL store:\n%s", got, want, g)
		}
	}
	// A snapshot of the PostgreSQL store exports the same bytes.
	ok(t, dir, pg, kk, "snapshot", "--as-of", "2025-01-01T00:00:00Z", "--out", "pg.cgs")
	snapArgs := append(append([]string{pg, kk}, e2eExport...), "--snapshot", "pg.cgs", "--out", "pgsnap.jsonl")
	ok(t, dir, snapArgs...)
	if g, w := readFile(t, dir, "pgsnap.jsonl"), readFile(t, dir, "expected.jsonl"); g != w {
		t.Errorf("export from a snapshot of the PostgreSQL store:\n%s", g)
	}
	if out := ok(t, dir, pg, kk, "report", "subject", "--subject", "ana"); !strings.Contains(out, "partner-x") {
		t.Fatalf("report: %s", out)
	}
	// After ana's withdrawal, a notice to partner-x, an answer and a
	// training job's lineage, all logged in PostgreSQL.
	ok(t, dir, pg, kk, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-03-01T00:00:00Z")
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(runEvent("llm", "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e0f", "2025-02-15T06:00:00Z", filepath.Join(dir, "pg.jsonl"))+"\n"), 0o644)
	if out := ok(t, dir, pg, kk, "lineage", "import", "train.jsonl"); !strings.Contains(out, "1 run linked") {
		t.Fatalf("lineage import on PostgreSQL: %s", out)
	}
	out := ok(t, dir, pg, kk, "notices", "send")
	id := regexp.MustCompile(`sent (\S+\.n1) to partner-x`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, ": 2 records") {
		t.Fatalf("notices send on PostgreSQL: %s", out)
	}
	ok(t, dir, pg, kk, "notices", "answer", id[1], "--status", "excluded", "--note", "kept out of llm-v4")
	if out := ok(t, dir, pg, kk, "notices"); !strings.Contains(out, "[excluded]") || !strings.Contains(out, "excluded by operator: kept out of llm-v4") || !strings.Contains(out, "trained on by partner-x/llm") {
		t.Fatalf("notices on PostgreSQL: %s", out)
	}
	if out := ok(t, dir, pg, kk, "log", "verify"); !strings.Contains(out, "log verified") {
		t.Fatalf("log verify on PostgreSQL: %s", out)
	}
	if out := ok(t, dir, pg, kk, "manifest", "verify", "pg.jsonl.manifest.json"); strings.Contains(out, "FAIL") {
		t.Fatalf("manifest verify on PostgreSQL: %s", out)
	}
}

// TestSnapshotExport writes a snapshot, verifies it, and exports from it
// away from the store's events: the same bytes as the store's export.
func TestSnapshotExport(t *testing.T) {
	dir := setupE2E(t)
	out := ok(t, dir, "snapshot", "--as-of", "2025-01-01T00:00:00Z", "--out", "snap.cgs")
	if !strings.Contains(out, "wrote snap.cgs: as of 2025-01-01T00:00:00Z, 2 policy versions") {
		t.Fatalf("snapshot: %s", out)
	}
	var sum struct {
		SubjectEvents int    `json:"subject_events"`
		ConsentEvents int    `json:"consent_events"`
		SHA256        string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(ok(t, dir, "snapshot", "verify", "snap.cgs", "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.SubjectEvents == 0 || sum.ConsentEvents != 3 || len(sum.SHA256) != 64 {
		t.Fatalf("verify: %+v", sum)
	}
	// The export reads the snapshot's policies and view; its as-of time is
	// the snapshot's. It still records the export in the store.
	args := append(slices.Clone(e2eExport), "--snapshot", "snap.cgs", "--out", "snap.jsonl", "--rejects", "snap.rej")
	args = slices.Delete(args, 5, 7) // no --as-of
	ok(t, dir, args...)
	for got, want := range map[string]string{"snap.jsonl": "expected.jsonl", "snap.rej": "expected.rejects.jsonl"} {
		g, _ := os.ReadFile(filepath.Join(dir, got))
		w, _ := os.ReadFile(filepath.Join(dir, want))
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs from %s:\n%s", got, want, g)
		}
	}
	if out := ok(t, dir, "report", "subject", "--subject", "ana"); !strings.Contains(out, "partner-x") {
		t.Fatalf("the export from a snapshot was not recorded: %s", out)
	}
	// A different --as-of is refused: the snapshot holds the view of its own time.
	bad := append(slices.Clone(e2eExport), "--snapshot", "snap.cgs", "--out", "x.jsonl")
	bad[6] = "2025-02-01T00:00:00Z"
	if _, errOut, code := cg(t, dir, bad...); code != 1 || !strings.Contains(errOut, "differs from the snapshot's") {
		t.Fatalf("as-of mismatch: %d %s", code, errOut)
	}
	// A damaged snapshot exports nothing.
	b, _ := os.ReadFile(filepath.Join(dir, "snap.cgs"))
	b[len(b)-5] ^= 1
	os.WriteFile(filepath.Join(dir, "damaged.cgs"), b, 0o600)
	if _, errOut, code := cg(t, dir, "snapshot", "verify", "damaged.cgs"); code != 1 || !strings.Contains(errOut, "damaged.cgs: checksum mismatch") {
		t.Fatalf("verify damaged: %d %s", code, errOut)
	}
	args = append(slices.Clone(e2eExport[:5]), e2eExport[7:]...)
	args = append(args, "--snapshot", "damaged.cgs", "--out", "damaged.jsonl")
	if _, errOut, code := cg(t, dir, args...); code != 1 || !strings.Contains(errOut, "checksum mismatch") {
		t.Fatalf("export from a damaged snapshot: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "damaged.jsonl")); err == nil {
		t.Fatal("an export from a damaged snapshot left its output")
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadingNeverWrites: read-only commands on a store that is not there
// fail, saying so, and create nothing — no store, no keys, no key file;
// manifest verify needs only the verifier key.
func TestReadingNeverWrites(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"policy", "list"}, {"policy", "show", "v1"}, {"log", "verify"}, {"token", "list"}, {"report", "subject", "--subject", "ana"},
		{"impact"}, {"consent", "show", "--subject", "ana"}, {"log", "prove", "inclusion", "--index", "0"}, {"deliver", "status"},
		{"manifest", "verify", "m.json"}, {"--store", "sqlite:elsewhere.db", "log", "open", "--subject", "ana"},
		{"export", "--purpose", "p", "--recipient", "r", "--in", "x.jsonl", "--out", "o.jsonl", "--id", "id", "--time", "t", "--category", "c", "--subject", "author=a"},
		{"impact", "mark", "--export", "e", "--subject", "s", "--status", "notified"},
	} {
		_, errOut, code := cg(t, dir, args...)
		if code != 1 || !strings.Contains(errOut, "there is no consentgate store at") {
			t.Errorf("%v on a missing store: exit %d %q", args, code, errOut)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%v created %v", args, entries)
		}
	}
	// A store made, then read: reading leaves every file as it was.
	e2e := setupE2E(t)
	args := append(append([]string{}, e2eExport...), "--out", "out.jsonl")
	ok(t, e2e, args...)
	snapshot := func() map[string]string {
		out := map[string]string{}
		filepath.WalkDir(e2e, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				sum := sha256.Sum256(b)
				out[p] = hex.EncodeToString(sum[:])
			}
			return nil
		})
		return out
	}
	before := snapshot()
	for _, args := range [][]string{{"policy", "list"}, {"log", "verify"}, {"token", "list"}, {"report", "subject", "--subject", "ana"}, {"impact"},
		{"consent", "show", "--subject", "ana"}, {"manifest", "verify", "out.jsonl.manifest.json"}, {"log", "prove", "inclusion", "--index", "3"},
		{"policy", "diff", "2024-01-01", "2024-09-18"}, {"decide", "--subject", "ana", "--category", "user.content.public", "--created", "2024-10-01T00:00:00Z",
			"--purpose", "train_ai_system.generative", "--recipient", "partner-x"}} {
		ok(t, e2e, args...)
	}
	after := snapshot()
	for p, sum := range before {
		if after[p] != sum && !strings.HasSuffix(p, "-shm") && !strings.HasSuffix(p, "-wal") {
			t.Errorf("reading changed %s", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok && !strings.HasSuffix(p, "-shm") && !strings.HasSuffix(p, "-wal") {
			t.Errorf("reading created %s", p)
		}
	}
	if out := ok(t, e2e, "report", "subject", "--subject", "ana"); !strings.Contains(out, "STATUS") || !strings.Contains(out, "complete") {
		t.Errorf("report subject does not show the export's status:\n%s", out)
	}
	// A recipient with the manifest, the output and the public key alone.
	rec := t.TempDir()
	for _, f := range []string{"out.jsonl", "out.jsonl.manifest.json"} {
		b, _ := os.ReadFile(filepath.Join(e2e, f))
		os.WriteFile(filepath.Join(rec, f), b, 0o644)
	}
	pub, _ := os.ReadFile(filepath.Join(e2e, "consentgate.db.keys", "log.pub"))
	os.WriteFile(filepath.Join(rec, "log.pub"), pub, 0o644)
	out, errOut, code := cg(t, rec, "manifest", "verify", "--key", "log.pub", "--only-output", "out.jsonl.manifest.json")
	if code != 0 || !strings.Contains(out, "ok   signature") || !strings.Contains(out, "SKIP log inclusion") || strings.Contains(out, "FAIL") {
		t.Fatalf("manifest verify with the key alone: exit %d\n%s%s", code, out, errOut)
	}
	// Without --only-output, inputs not at hand fail, naming where they
	// were looked for, and the way out; --base finds them where the
	// export ran.
	out, errOut, code = cg(t, rec, "manifest", "verify", "--key", "log.pub", "out.jsonl.manifest.json")
	if code != 1 || !regexp.MustCompile(`FAIL input \S+ +not found beside the manifest`).MatchString(out) || !strings.Contains(errOut, "give --base DIR") {
		t.Fatalf("manifest verify without the inputs: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = cg(t, rec, "manifest", "verify", "--key", "log.pub", "--base", e2e, "out.jsonl.manifest.json"); code != 0 || strings.Contains(out, "FAIL") || !strings.Contains(out, "ok   input") {
		t.Fatalf("manifest verify --base: exit %d\n%s%s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(rec); len(entries) != 3 {
		t.Fatalf("manifest verify created files: %v", entries)
	}
}

// TestReadingAStoreOneCannotWrite: an auditor's copy of the store in a
// folder they may only read — the store's secrets not at hand — answers
// every read that needs no secret, creates nothing, and says which secret
// a pseudonym needs. (Run as root, the test reads as the user nobody.)
func TestReadingAStoreOneCannotWrite(t *testing.T) {
	e2e := setupE2E(t)
	ok(t, e2e, append(append([]string{}, e2eExport...), "--out", "out.jsonl")...)
	copyDir, err := os.MkdirTemp("", "consentgate-audit-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(copyDir)
	for _, f := range []string{"consentgate.db", "out.jsonl", "out.jsonl.manifest.json", "consentgate.db.keys/log.pub"} {
		b, _ := os.ReadFile(filepath.Join(e2e, f))
		os.WriteFile(filepath.Join(copyDir, filepath.Base(f)), b, 0o444)
	}
	bin := binary
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// The test binary's folder is the test's own; nobody runs a copy.
		bin = filepath.Join(copyDir, "consentgate")
		b, _ := os.ReadFile(binary)
		os.WriteFile(bin, b, 0o555)
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	os.Chmod(copyDir, 0o555)
	defer os.Chmod(copyDir, 0o755)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"--store", "sqlite:" + filepath.Join(copyDir, "consentgate.db")}, args...)...)
		cmd.Dir = copyDir
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return o.String(), e.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), 0
	}
	before, _ := os.ReadDir(copyDir)
	for _, args := range [][]string{{"policy", "list"}, {"impact"}, {"token", "list"}, {"consent", "show", "--subject", "ana"},
		{"manifest", "verify", "--key", "log.pub", "--only-output", "out.jsonl.manifest.json"}} {
		if out, errOut, code := run(args...); code != 0 {
			t.Errorf("%v on a store one cannot write: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if out, _, _ := run("manifest", "verify", "--key", "log.pub", "--only-output", "out.jsonl.manifest.json"); !strings.Contains(out, "ok   log inclusion") {
		t.Errorf("the auditor's copy does not prove the log inclusion:\n%s", out)
	}
	if _, errOut, code := run("report", "subject", "--subject", "ana"); code != 1 || !strings.Contains(errOut, "subject keys") || !strings.Contains(errOut, "--keys DIR") {
		t.Errorf("a pseudonym without the subject keys: exit %d %q", code, errOut)
	}
	if _, errOut, code := run("manifest", "verify", "out.jsonl.manifest.json"); code != 1 || !strings.Contains(errOut, "--key FILE") {
		t.Errorf("manifest verify without any verifier key: exit %d %q", code, errOut)
	}
	if after, _ := os.ReadDir(copyDir); len(after) != len(before) {
		t.Errorf("reading created files: %v → %v", before, after)
	}
}

// TestImportSetsUpOnlyWhatItImports: a subjects file that is refused, or
// a store in a folder that does not exist, sets no store up.
func TestImportSetsUpOnlyWhatItImports(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dup.jsonl"), []byte(`{"subject":"x","subject":"y","at":"2024-01-01T00:00:00Z"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "good.jsonl"), []byte(`{"subject":"x","at":"2024-01-01T00:00:00Z","region":"US"}`+"\n"), 0o644)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--store", "sqlite:new.db", "subjects", "import", "dup.jsonl"}, `dup.jsonl:1: field "subject" given twice`},
		{[]string{"--store", "sqlite:nodir/new.db", "subjects", "import", "good.jsonl"}, "the folder nodir does not exist"},
		{[]string{"--store", "sqlite:new.db", "subjects", "import", "missing.jsonl"}, "missing.jsonl: no such file"},
		{[]string{"--store", "sqlite:new.db", "consent", "import", "good.jsonl"}, "there is no consentgate store"},
	} {
		if _, errOut, code := cg(t, dir, c.args...); code != 1 || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d %q, want %q", c.args, code, errOut, c.says)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Fatalf("%v left %v", c.args, entries)
		}
	}
	ok(t, dir, "--store", "sqlite:new.db", "subjects", "import", "good.jsonl")
}

// TestExportLogsOnlyWhatItWrites (SPEC §5): an export whose output is a
// directory, or whose manifest's folder is missing, fails before the log
// records it.
func TestExportLogsOnlyWhatItWrites(t *testing.T) {
	dir := setupE2E(t)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	size := func() string { return strings.SplitN(ok(t, dir, "log", "verify"), ",", 2)[0] }
	before := size()
	for _, extra := range [][]string{{"--out", "adir"}, {"--out", "o.jsonl", "--manifest", "missing/m.json"}, {"--out", "o.jsonl", "--rejects", "adir"}} {
		args := append(append([]string{}, e2eExport...), extra...)
		if _, errOut, code := cg(t, dir, args...); code != 1 || errOut == "" {
			t.Errorf("%v: exit %d %q", extra, code, errOut)
		}
	}
	if after := size(); after != before {
		t.Fatalf("refused exports were logged: %s → %s", before, after)
	}
}

// TestFlagTwice: a flag that takes one value given twice is a usage error.
func TestFlagTwice(t *testing.T) {
	dir := setupE2E(t)
	for _, args := range [][]string{
		append(append([]string{}, e2eExport...), "--out", "a.jsonl", "--purpose", "train_ai_system.generative"),
		{"consent", "show", "--subject", "ana", "--subject", "ben"},
		{"--store", "sqlite:consentgate.db", "policy", "list", "--store", "sqlite:other.db"},
	} {
		if _, errOut, code := cg(t, dir, args...); code != 2 || !strings.Contains(errOut, "is given twice") {
			t.Errorf("%v: exit %d %q", args, code, errOut)
		}
	}
	// A time flag reads RFC 3339 strictly, as every input does.
	for _, bad := range []string{"2024-10-20T1:03:10Z", "2024-10-20T10:03:10,5Z"} {
		if _, errOut, code := cg(t, dir, "decide", "--subject", "ana", "--category", "user.content.public", "--created", bad,
			"--purpose", "train_ai_system.generative", "--recipient", "partner-x"); code != 2 || !strings.Contains(errOut, "RFC 3339") {
			t.Errorf("--created %s: exit %d %q", bad, code, errOut)
		}
	}
	// Repeatable flags repeat.
	ok(t, dir, "decide", "--subject", "ana", "--subject", "ben:recipient", "--category", "user.content.private.message", "--created", "2024-10-01T00:00:00Z",
		"--purpose", "train_ai_system.generative", "--recipient", "partner-x")
}
