package gate_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/timestamp"

	_ "modernc.org/sqlite" // a foreign SQLite file
)

var ctx = context.Background()

const basePolicy = `version: "v1"
effective_from: 2024-01-01T00:00:00Z
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
  - id: premium-messages
    effect: deny
    when: { category: user.content.private.message, tier: premium, recipient: third_party }
  - id: messages-need-consent
    effect: require_consent
    when: { category: user.content.private }
`

// world is a store in a temporary directory and a writing session on it.
type world struct {
	t   *testing.T
	dir string
	g   *gate.Gate
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir()}
	w.g = w.open(gate.Create)
	return w
}

func (w *world) store() string { return filepath.Join(w.dir, "s.db") }

// open opens another session on the world's store.
func (w *world) open(mode gate.Mode) *gate.Gate {
	w.t.Helper()
	g, err := gate.Open(ctx, gate.Config{Store: w.store(), Mode: mode, Deployment: "test"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { g.Close() })
	return g
}

// file writes a file into the world's directory and returns its path.
func (w *world) file(name, body string) string {
	w.t.Helper()
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return path
}

func (w *world) publish(src string, force bool) (*gate.Published, error) {
	pf, err := gate.ReadPolicy("p.yaml", []byte(src))
	if err != nil {
		w.t.Fatal(err)
	}
	return w.g.Publish(ctx, access.Local, pf, force)
}

func (w *world) subjects(lines ...string) {
	w.t.Helper()
	if _, err := w.g.ImportSubjects(ctx, w.file("subjects.jsonl", strings.Join(lines, "\n")+"\n")); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) consents(lines ...string) {
	w.t.Helper()
	if _, err := w.g.ImportConsent(ctx, w.file("consent.jsonl", strings.Join(lines, "\n")+"\n")); err != nil {
		w.t.Fatal(err)
	}
}

// choose records a choice as p would.
func (w *world) choose(p access.Principal, subject, purpose, recipient, state string, gpc bool) ([]gate.Recorded, error) {
	c := consent.Choice{Subject: &subject, Purpose: &purpose, State: &state}
	if recipient != "" {
		c.Recipient = &recipient
	}
	return w.g.RecordConsent(ctx, p, c, gpc)
}

func member(id string) access.Principal { return access.Principal{Role: access.Subject, Subject: id} }

// fields are the field flags of the test record files.
func fields(t *testing.T) record.Fields {
	t.Helper()
	f := record.Fields{ID: "id", Time: "created_at", Category: "kind"}
	for _, s := range []string{"author=author", "recipient=to", "mentioned=mentions"} {
		sf, err := record.ParseSubjectFlag(s)
		if err != nil {
			t.Fatal(err)
		}
		f.Subjects = append(f.Subjects, sf)
	}
	return f
}

func ts(t *testing.T, s string) timestamp.Time {
	t.Helper()
	v, err := timestamp.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func codeIs(t *testing.T, err error, want gate.Code) {
	t.Helper()
	if got := gate.CodeOf(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

// files lists a directory's names, to see that nothing was created.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// TestOpenModes: reading never writes. A read-only or writing session on
// a store that is not there fails with NoStore and creates nothing; a
// read-only session refuses writes; only Create makes a store.
func TestOpenModes(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []gate.Mode{gate.ReadOnly, gate.Write} {
		_, err := gate.Open(ctx, gate.Config{Store: "sqlite:" + filepath.Join(dir, "none.db"), Mode: mode})
		codeIs(t, err, gate.NoStore)
		if e := gate.As(err); e.Hint != gate.CreateStore || !strings.Contains(e.Message, "none.db") {
			t.Fatalf("the NoStore error: %+v", e)
		}
		if got := files(t, dir); len(got) != 0 {
			t.Fatalf("mode %d on a missing store created %v", mode, got)
		}
	}
	_, err := gate.Open(ctx, gate.Config{Store: "mysql://x/y"})
	codeIs(t, err, gate.Invalid)
	_, err = gate.Open(ctx, gate.Config{Store: "postgres://127.0.0.1/test"})
	if e := gate.As(err); e.Code != gate.Invalid || e.Hint != gate.KeysDir {
		t.Fatalf("PostgreSQL without a keys directory: %v", err)
	}

	w := &world{t: t, dir: dir}
	w.g = w.open(gate.Create)
	if _, err := w.publish(basePolicy, false); err != nil {
		t.Fatal(err)
	}
	w.g.Close()
	before := files(t, dir)
	ro := w.open(gate.ReadOnly)
	if _, err := ro.Policies(ctx, access.Local); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.VerifyLog(ctx, nil); err != nil {
		t.Fatal(err)
	}
	pf, _ := gate.ReadPolicy("p.yaml", []byte(strings.Replace(basePolicy, `"v1"`, `"v2"`, 1)))
	if _, err := ro.Publish(ctx, access.Local, pf, true); err == nil {
		t.Fatal("a read-only session published")
	}
	if _, err := ro.CreateToken(ctx, access.Admin, ""); err == nil {
		t.Fatal("a read-only session created a token")
	}
	if _, err := ro.Secret("session.key"); gate.CodeOf(err) != gate.Unavailable {
		t.Fatalf("a read-only session's missing secret: %v", err)
	}
	ro.Close()
	if after := files(t, dir); !slices.Equal(before, after) {
		t.Fatalf("a read-only session changed the files: %v → %v", before, after)
	}
	// A store with events opened with another keys directory — even by a
	// command that may create a store — is refused for writing: new keys
	// would salt its log with keys it was never derived from. A read-only
	// session does without them until it needs a pseudonym.
	w.g = w.open(gate.Create)
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US"}`)
	w.g.Close()
	for _, mode := range []gate.Mode{gate.Create, gate.Write} {
		_, err := gate.Open(ctx, gate.Config{Store: w.store(), Keys: filepath.Join(dir, "other-keys"), Mode: mode})
		if e := gate.As(err); e == nil || e.Hint != gate.KeysDir {
			t.Fatalf("mode %d with another keys directory: %v", mode, err)
		}
	}
	ro, err = gate.Open(ctx, gate.Config{Store: w.store(), Keys: filepath.Join(dir, "other-keys"), Mode: gate.ReadOnly})
	if err != nil {
		t.Fatalf("reading with another keys directory: %v", err)
	}
	if _, err := ro.Policies(ctx, access.Local); err != nil {
		t.Fatalf("the policies of a store read without its keys: %v", err)
	}
	if _, err := ro.VerifyLog(ctx, nil); gate.As(err) == nil || gate.As(err).Hint != gate.KeysDir {
		t.Fatalf("log verify without the subject keys: %v", err)
	}
	ro.Close()
	if _, err := os.Stat(filepath.Join(dir, "other-keys", "subject-keys.db")); err == nil {
		t.Fatal("a refused open created subject keys")
	}
	// A SQLite file that is not a store, opened to read: refused, and left
	// byte for byte as it was (not even turned into WAL mode).
	foreign := filepath.Join(dir, "foreign.db")
	fdb, _ := sql.Open("sqlite", foreign)
	fdb.Exec(`CREATE TABLE t (x)`)
	fdb.Close()
	was, _ := os.ReadFile(foreign)
	_, err = gate.Open(ctx, gate.Config{Store: foreign, Mode: gate.ReadOnly})
	codeIs(t, err, gate.NoStore)
	if now, _ := os.ReadFile(foreign); !bytes.Equal(was, now) {
		t.Fatal("reading a foreign SQLite file changed it")
	}
}

// TestPublishAndDiff: the notice check refuses with the Force hint, the
// label is immutable, and the diff counts the subjects the widening
// exposes with and without a store alike.
func TestPublishAndDiff(t *testing.T) {
	w := newWorld(t)
	if _, err := w.publish(basePolicy, false); err != nil {
		t.Fatal(err)
	}
	again, err := w.publish(basePolicy, false)
	if err != nil || !again.Already {
		t.Fatalf("the same version again: %+v %v", again, err)
	}
	_, err = w.publish(strings.Replace(basePolicy, "train_ai_system: granted", "train_ai_system: denied", 1), false)
	codeIs(t, err, gate.Exists)
	wider := strings.NewReplacer(`version: "v1"`, `version: "v2"`, "effective_from: 2024-01-01T00:00:00Z", "effective_from: 2024-06-01T00:00:00Z\nannounced_at: 2024-06-01T00:00:00Z\nmin_notice: 30d",
		"  - id: strict\n    effect: deny\n    when: { purpose: train_ai_system, region: strict }\n", "").Replace(basePolicy)
	_, err = w.publish(wider, false)
	if e := gate.As(err); e == nil || e.Code != gate.Refused || e.Hint != gate.Force || strings.Contains(e.Message, "--force") {
		t.Fatalf("a widening without notice: %v", err)
	}
	w.subjects(`{"subject":"de","at":"2023-01-01T00:00:00Z","region":"DE"}`, `{"subject":"us","at":"2023-01-01T00:00:00Z","region":"US"}`)
	pub, err := w.publish(wider, true)
	if err != nil || !pub.Forced {
		t.Fatalf("forced: %+v %v", pub, err)
	}
	d, err := w.g.Diff(ctx, access.Local, gate.PolicyArg{Label: "v1"}, gate.PolicyArg{Label: "v2"})
	if err != nil || !d.Notice.Violation || d.Exposed == nil || *d.Exposed != 1 {
		t.Fatalf("diff: %+v %v", d, err)
	}
	// Without a store: the same diff, no count.
	oldF, _ := gate.ReadPolicy("a", []byte(basePolicy))
	newF, _ := gate.ReadPolicy("b", []byte(wider))
	var none *gate.Gate
	d2, err := none.Diff(ctx, access.Local, gate.PolicyArg{File: oldF}, gate.PolicyArg{File: newF})
	if err != nil || d2.Exposed != nil || d2.Widening != d.Widening {
		t.Fatalf("a diff of two files without a store: %+v %v", d2, err)
	}
	hist, err := w.g.PolicyHistory(ctx, access.Local)
	if err != nil || len(hist) != 2 || hist[0].Diff == nil || *hist[0].Diff.Exposed != 1 || !hist[0].Version.Forced {
		t.Fatalf("history: %+v %v", hist, err)
	}
	if _, err := w.g.Diff(ctx, member("us"), gate.PolicyArg{Label: "v1"}, gate.PolicyArg{Label: "nope"}); gate.CodeOf(err) != gate.NotFound {
		t.Fatalf("a diff with an unknown version: %v", err)
	}
}

// TestRecordConsentRules: one validation for every caller; a member
// records for themselves, as of now, with source settings.
func TestRecordConsentRules(t *testing.T) {
	w := newWorld(t)
	_, err := w.choose(access.Local, "ana", "train_ai_system", "", "denied", false)
	if e := gate.As(err); e.Code != gate.Invalid || e.Hint != gate.PublishPolicy {
		t.Fatalf("consent before any policy: %v", err)
	}
	w.publish(basePolicy, false)
	for _, c := range []struct {
		p                            access.Principal
		subject, purpose, rec, state string
		at, source                   *string
		code                         gate.Code
	}{
		{member("ana"), "ben", "train_ai_system", "", "denied", nil, nil, gate.Forbidden},
		{member("ana"), "ana", "train_ai_system", "", "denied", ptr("2024-05-01T00:00:00Z"), nil, gate.Forbidden},
		{member("ana"), "ana", "train_ai_system", "", "denied", nil, ptr("gpc"), gate.Forbidden},
		{member("ana"), "ana", "train_ai_system", "", "denied", nil, ptr("api"), gate.Forbidden},
		{access.Local, "ana", "sell_data", "", "denied", nil, nil, gate.Invalid},
		{access.Local, "ana", "train_ai_system", "nobody", "denied", nil, nil, gate.Invalid},
		{access.Local, "ana", "train_ai_system", "", "maybe", nil, nil, gate.Invalid},
		{access.Local, "ana", "train_ai_system", "", "denied", ptr("2999-01-01T00:00:00Z"), nil, gate.Invalid},
		{access.Local, "ana", "train_ai_system", "", "denied", ptr("2024-05-01"), nil, gate.Invalid},
		{access.Principal{Role: access.Auditor}, "ana", "train_ai_system", "", "denied", nil, nil, gate.Forbidden},
	} {
		ch := consent.Choice{Subject: &c.subject, Purpose: &c.purpose, State: &c.state, At: c.at, Source: c.source}
		if c.rec != "" {
			ch.Recipient = &c.rec
		}
		_, err := w.g.RecordConsent(ctx, c.p, ch, false)
		if gate.CodeOf(err) != c.code {
			t.Errorf("%+v: %v, want %s", c, err, c.code)
		}
	}
	if h, _ := w.g.ConsentHistory(ctx, access.Local, "ana"); len(h) != 0 {
		t.Fatalf("refused choices were stored: %+v", h)
	}
	rec, err := w.choose(member("ana"), "ana", "train_ai_system.generative", "third_party", "denied", false)
	if err != nil || len(rec) != 1 || rec[0].Source != "settings" || !rec[0].Added {
		t.Fatalf("a member's own choice: %+v %v", rec, err)
	}
	// The JSON body of the API is read by the same strict rules.
	for _, body := range []string{`{"purpose":"train_ai_system","state":"denied","Purpose":"x"}`, `{"purpose":"train_ai_system","state":"denied","purpose":"p"}`,
		`{"purpose":"train_ai_system","state":"denied"}x`, "{\"purpose\":\"train_ai_system\",\"state\":\"denied\",\"source\":\"\xff\"}", `{"subject":"ana","purpose":"train_ai_system","state":"denied"}`} {
		if _, err := w.g.RecordConsentJSON(ctx, access.Local, "ana", []byte(body), false); gate.CodeOf(err) != gate.Invalid {
			t.Errorf("body %q: %v", body, err)
		}
	}
}

func ptr(s string) *string { return &s }

// TestGPC (SPEC §7): a signal records a denial for each gpc use; a grant
// made after that denial stands against later signals; a grant made
// before any signal does not.
func TestGPC(t *testing.T) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US"}`, `{"subject":"ben","at":"2023-01-01T00:00:00Z","region":"US"}`)
	gpcCount := func(id string) int {
		h, _ := w.g.ConsentHistory(ctx, access.Local, id)
		n := 0
		for _, e := range h {
			if e.Source == "gpc" {
				n++
			}
		}
		return n
	}
	rec, err := w.g.ApplyGPC(ctx, member("ana"), "ana")
	if err != nil || len(rec) != 1 || rec[0].Purpose != "train_ai_system" || rec[0].Recipient != "third_party" || rec[0].State != "denied" {
		t.Fatalf("the first signal: %+v %v", rec, err)
	}
	// The member sees the effect and allows partners: the exact entry, and
	// through the privacy centre's switch.
	if _, err := w.choose(member("ana"), "ana", "train_ai_system", "third_party", "granted", true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.choose(member("ana"), "ana", "train_ai_system.generative", "third_party", "granted", true); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := w.g.ApplyGPC(ctx, member("ana"), "ana"); err != nil {
			t.Fatal(err)
		}
	}
	if n := gpcCount("ana"); n != 1 {
		t.Fatalf("later signals recorded %d GPC denials over the member's grant, want the first only", n)
	}
	cs, _ := w.g.Consents(ctx, member("ana"), "ana", nil)
	for _, e := range cs.Effective {
		if e.Recipient == "partner-x" && e.Category == "user.content.public" && e.Decision != "allow" {
			t.Fatalf("the member's grant does not stand: %+v", e)
		}
	}
	pc, _ := w.g.PrivacyCentre(ctx, member("ana"), "ana")
	for _, s := range pc.Settings {
		if s.Class == "third_party" && (s.State != gate.OnAgreed || s.GPC == nil) {
			t.Fatalf("the privacy centre does not show the signal beside the grant: %+v", s)
		}
	}
	// A grant made before any signal: the signal overrides it.
	w.choose(access.Local, "ben", "train_ai_system", "third_party", "granted", false)
	if rec, _ := w.g.ApplyGPC(ctx, member("ben"), "ben"); len(rec) != 1 {
		t.Fatalf("a signal after an older grant: %+v", rec)
	}
	// A member whose own refusal covers the use: nothing to record.
	w.choose(access.Local, "cy", "train_ai_system", "", "denied", false)
	if rec, _ := w.g.ApplyGPC(ctx, member("cy"), "cy"); len(rec) != 0 {
		t.Fatalf("a signal over a refusal of everything: %+v", rec)
	}
}

// TestGPCDenials: the rule on its own, over histories.
func TestGPCDenials(t *testing.T) {
	pf, _ := gate.ReadPolicy("p", []byte(basePolicy))
	doc := pf.Table.Doc
	ev := func(purpose, recipient string, st policy.State, at timestamp.Time, source string) consent.Event {
		return consent.Event{Seq: int64(at), Purpose: purpose, Recipient: recipient, State: st, At: at, Source: source}
	}
	for _, c := range []struct {
		name string
		hist []consent.Event
		want int
	}{
		{"no history", nil, 1},
		{"a refusal of the class", []consent.Event{ev("train_ai_system", "third_party", policy.Denied, 1, "settings")}, 0},
		{"a refusal of one partner only", []consent.Event{ev("train_ai_system", "partner-x", policy.Denied, 1, "settings")}, 1},
		{"a refusal of a child purpose", []consent.Event{ev("train_ai_system.generative", "third_party", policy.Denied, 1, "settings")}, 1},
		{"a grant before any signal", []consent.Event{ev("train_ai_system", "third_party", policy.Granted, 1, "api")}, 1},
		{"a grant after the signal", []consent.Event{ev("train_ai_system", "third_party", policy.Denied, 1, "gpc"), ev("train_ai_system", "third_party", policy.Granted, 2, "settings")}, 0},
		{"a refusal after the signal", []consent.Event{ev("train_ai_system", "third_party", policy.Denied, 1, "gpc"), ev("train_ai_system", "", policy.Denied, 2, "settings")}, 0},
	} {
		if got := gate.GPCDenials(doc, c.hist, "s", 10); len(got) != c.want {
			t.Errorf("%s: %d denials, want %d", c.name, len(got), c.want)
		}
	}
}

// TestStrictImports: the subjects import refuses what the consent import
// refuses, whole.
func TestStrictImports(t *testing.T) {
	w := newWorld(t)
	for _, line := range []string{
		`{"subject":"a","subject":"b","at":"2023-01-01T00:00:00Z"}`,
		`{"Subject":"a","at":"2023-01-01T00:00:00Z"}`,
		`{"subject":"a","at":"2023-01-01T00:00:00Z"} x`,
		"{\"subject\":\"a\xff\",\"at\":\"2023-01-01T00:00:00Z\"}",
		`{"subject":"a","at":"2023-01-01T00:00:00Z","attributes":{"tier":"x","tier":"y"}}`,
	} {
		_, err := w.g.ImportSubjects(ctx, w.file("bad.jsonl", `{"subject":"ok","at":"2023-01-01T00:00:00Z"}`+"\n"+line+"\n"))
		if e := gate.As(err); e == nil || e.Code != gate.Invalid || !strings.Contains(e.Message, "bad.jsonl:2") {
			t.Errorf("%q: %v", line, err)
		}
	}
	if n, _ := w.g.LogSize(ctx); n != 0 {
		t.Fatalf("refused imports stored %d leaves", n)
	}
	_, err := w.g.ImportSubjects(ctx, filepath.Join(w.dir, "missing.jsonl"))
	codeIs(t, err, gate.Invalid)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// TestStrictTimesEverywhere: one RFC 3339 reader for every input kind —
// a policy's dates, subject and consent lines, a choice, a record, a
// decision request — each refusing the loose shapes the standard library
// lets through, and storing or exporting nothing of them.
func TestStrictTimesEverywhere(t *testing.T) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US"}`)
	before, _ := w.g.LogSize(ctx)
	for _, bad := range []string{"2024-10-20T1:03:10Z", "2024-10-20T10:03:10,5Z", "2024-10-20t10:03:10z", "2024-10-20 10:03:10Z", "2024-10-20T10:03:10"} {
		if _, err := gate.ReadPolicy("p.yaml", []byte(strings.Replace(basePolicy, "2024-01-01T00:00:00Z", bad, 1))); err == nil {
			t.Errorf("policy effective_from %q accepted", bad)
		}
		if _, err := w.g.ImportSubjects(ctx, w.file("s.jsonl", `{"subject":"bo","at":"`+bad+`","region":"US"}`+"\n")); gate.CodeOf(err) != gate.Invalid || !strings.Contains(err.Error(), "s.jsonl:1") {
			t.Errorf("subject line at %q: %v", bad, err)
		}
		if _, err := w.g.ImportConsent(ctx, w.file("c.jsonl", `{"subject":"ana","purpose":"train_ai_system","state":"denied","at":"`+bad+`"}`+"\n")); gate.CodeOf(err) != gate.Invalid || !strings.Contains(err.Error(), "c.jsonl:1") {
			t.Errorf("consent line at %q: %v", bad, err)
		}
		if _, err := w.g.RecordConsentJSON(ctx, access.Local, "ana", []byte(`{"purpose":"train_ai_system","state":"denied","at":"`+bad+`"}`), false); gate.CodeOf(err) != gate.Invalid {
			t.Errorf("a choice at %q: %v", bad, err)
		}
		line := `{"id":"p1","kind":"user.content.public","author":"ana","created_at":"` + bad + `"}`
		if _, err := w.g.DecideLine(ctx, access.Local, fields(t), []byte(line), "train_ai_system.generative", "partner-x", nil); gate.CodeOf(err) != gate.Invalid {
			t.Errorf("a record created at %q: %v", bad, err)
		}
		// In an export the record is malformed, never included.
		asOf := ts(t, "2025-01-01T00:00:00Z")
		req := gate.ExportRequest{Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: &asOf}
		req.Options.Inputs, req.Options.Out, req.Options.Fields = []string{w.file("r.jsonl", line+"\n")}, filepath.Join(w.dir, "out.jsonl"), fields(t)
		m, err := w.g.Export(ctx, req)
		if err != nil || m.Counts.Included != 0 || m.Counts.ExcludedByReason["record.malformed"] != 1 {
			t.Errorf("an export of a record created at %q: %+v %v", bad, m, err)
		}
		before += 3 // the export: its manifest, its state logged, then complete
	}
	if after, _ := w.g.LogSize(ctx); after != before {
		t.Fatalf("refused inputs were stored: log %d → %d", before, after)
	}
}
