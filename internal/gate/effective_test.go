package gate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/policy"
)

// TestEffective (SPEC §7): the effective state is what decide gives, and
// the privacy centre's settings say it — on by default, on because the
// member agreed, off because they refused, not possible in their region —
// with a switch only where a choice changes something.
func TestEffective(t *testing.T) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	w.subjects(
		`{"subject":"never","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`,
		`{"subject":"agreed","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`,
		`{"subject":"refused","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`,
		`{"subject":"german","at":"2023-01-01T00:00:00Z","region":"DE","attributes":{"tier":"free"}}`,
		`{"subject":"premium","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"premium"}}`,
	)
	w.consents(
		`{"subject":"agreed","purpose":"train_ai_system","state":"granted","at":"2024-02-01T00:00:00Z"}`,
		`{"subject":"refused","purpose":"train_ai_system","recipient":"third_party","state":"denied","at":"2024-02-01T00:00:00Z"}`,
	)
	type want struct {
		subject, class, state string
		toggle, on            bool
		public, message       string // the reasons for partner-x (third party) or self
	}
	for _, c := range []want{
		{"never", "third_party", gate.OnByDefault, true, true, "default.granted", "consent.required:messages-need-consent"},
		{"never", "first_party", gate.OnByDefault, true, true, "default.granted", "consent.required:messages-need-consent"},
		{"agreed", "third_party", gate.OnAgreed, true, true, "consent.granted", "consent.granted"},
		{"refused", "third_party", gate.OffRefused, true, false, "consent.denied", "consent.denied"},
		{"refused", "first_party", gate.OnByDefault, true, true, "default.granted", "consent.required:messages-need-consent"},
		{"german", "third_party", gate.NotPossible, false, false, "rule:strict", "rule:strict"},
		{"premium", "third_party", gate.OnByDefault, true, true, "default.granted", "rule:premium-messages"},
	} {
		cs, err := w.g.Consents(ctx, member(c.subject), c.subject, nil)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := w.g.PrivacyCentre(ctx, member(c.subject), c.subject)
		if err != nil {
			t.Fatal(err)
		}
		var s *gate.Setting
		for i := range pc.Settings {
			if pc.Settings[i].Class == c.class {
				s = &pc.Settings[i]
			}
		}
		if s == nil {
			t.Fatalf("%s: no %s setting", c.subject, c.class)
		}
		if s.State != c.state || (s.CanAgree || s.CanRefuse) != c.toggle || s.On != c.on {
			t.Errorf("%s / %s: state %s, toggle %v, on %v; want %s, %v, %v", c.subject, c.class, s.State, s.CanAgree || s.CanRefuse, s.On, c.state, c.toggle, c.on)
		}
		for _, e := range s.Entries {
			want := c.public
			if e.Category == "user.content.private.message" {
				want = c.message
			}
			if e.Reason != want {
				t.Errorf("%s / %s / %s: %s %s, want %s", c.subject, e.Recipient, e.Category, e.Decision, e.Reason, want)
			}
			// The setting's entries are the API's effective entries, and
			// both are decide's answer.
			found := false
			for _, x := range cs.Effective {
				found = found || x == e
			}
			if !found {
				t.Errorf("%s: the setting's %+v is not among the API's effective entries", c.subject, e)
			}
			rec := gate.DecisionRequest{Subjects: []gate.SubjectRole{{ID: c.subject, Role: policy.Author}}, Category: e.Category,
				Created: cs.AsOf, Purpose: e.Purpose, Recipient: e.Recipient, AsOf: &cs.AsOf}
			exs, err := w.g.Decide(ctx, access.Local, []gate.DecisionRequest{rec})
			if err != nil {
				t.Fatal(err)
			}
			if got := exs[0].Allow; got != (e.Decision == "allow") {
				t.Errorf("%s / %s / %s: decide says allow=%v, the effective state %s", c.subject, e.Recipient, e.Category, got, e.Decision)
			}
		}
		if c.state == gate.NotPossible && (s.Rule != "strict" || s.RuleTests[0] != "region") {
			t.Errorf("%s: not possible because of %q testing %v", c.subject, s.Rule, s.RuleTests)
		}
	}
	// The member who never chose, under an opt-out default, reads allow /
	// default.granted for partner-x's public posts.
	cs, _ := w.g.Consents(ctx, member("never"), "never", nil)
	if len(cs.Effective) != 4 {
		t.Fatalf("effective entries: %d, want 2 recipients × 2 categories", len(cs.Effective))
	}
	// Agreeing on top of the default shares the messages too: the extra
	// agreement is offered and does what it says.
	pc, _ := w.g.PrivacyCentre(ctx, member("never"), "never")
	third := pc.Settings[len(pc.Settings)-1]
	if third.Class != "third_party" || !third.CanAgree || !third.CanRefuse {
		t.Fatalf("the default-on setting offers no agreement: %+v", third)
	}
	if _, err := w.choose(member("never"), "never", third.Purpose, "third_party", "granted", false); err != nil {
		t.Fatal(err)
	}
	pc, _ = w.g.PrivacyCentre(ctx, member("never"), "never")
	third = pc.Settings[len(pc.Settings)-1]
	if third.State != gate.OnAgreed || third.CanAgree || !third.On {
		t.Fatalf("after agreeing: %+v", third)
	}
	for _, e := range third.Entries {
		if e.Decision != "allow" {
			t.Fatalf("after agreeing, %+v", e)
		}
	}
	// Another member's centre is not this member's to read.
	if _, err := w.g.PrivacyCentre(ctx, member("never"), "german"); gate.CodeOf(err) != gate.Forbidden {
		t.Fatalf("another member's centre: %v", err)
	}
}

// TestSettingOverRecipients: a setting speaks for every recipient of its
// class; when the member chose for one partner only, it says their choices
// differ (partly), names the latest, and each entry is still decide's.
func TestSettingOverRecipients(t *testing.T) {
	w := newWorld(t)
	w.publish(strings.Replace(basePolicy, "  partner-x: { class: third_party }\n", "  partner-x: { class: third_party }\n  partner-y: { class: third_party }\n", 1), false)
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`)
	w.consents(
		`{"subject":"ana","purpose":"train_ai_system","recipient":"partner-y","state":"denied","at":"2024-02-01T00:00:00Z"}`,
		`{"subject":"ana","purpose":"train_ai_system","recipient":"partner-x","state":"granted","at":"2024-03-01T00:00:00Z"}`,
	)
	third := func() gate.Setting {
		pc, err := w.g.PrivacyCentre(ctx, member("ana"), "ana")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range pc.Settings {
			if s.Class == "third_party" {
				return s
			}
		}
		t.Fatal("no third-party setting")
		return gate.Setting{}
	}
	s := third()
	if s.State != gate.Partly || !s.On || !s.CanRefuse || s.ChosenBy == nil || s.ChosenBy.Recipient != "partner-x" || s.ChosenBy.State != "granted" {
		t.Fatalf("ana agreed for partner-x and refused partner-y: %+v", s)
	}
	byRecipient := map[string]string{}
	for _, e := range s.Entries {
		if e.Category == "user.content.public" {
			byRecipient[e.Recipient] = e.Reason
		}
	}
	if byRecipient["partner-x"] != "consent.granted" || byRecipient["partner-y"] != "consent.denied" {
		t.Fatalf("entries: %v", byRecipient)
	}
	// Turning the switch off refuses for the whole class: one state again.
	if _, err := w.choose(member("ana"), "ana", s.Purpose, "third_party", "denied", false); err != nil {
		t.Fatal(err)
	}
	if s := third(); s.State != gate.OffRefused || s.On || s.ChosenBy == nil || s.ChosenBy.Recipient != "third_party" {
		t.Fatalf("after refusing for every partner: %+v", s)
	}
}

// TestExportPreflight (SPEC §5): every check an export can make before the
// log append happens before it — an output that is a directory, a
// manifest whose folder does not exist — so the log never records a
// disclosure that did not happen.
func TestExportPreflight(t *testing.T) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US"}`)
	in := w.file("posts.jsonl", `{"id":"p1","kind":"user.content.public","author":"ana","created_at":"2024-03-01T00:00:00Z"}`+"\n")
	os.Mkdir(filepath.Join(w.dir, "adir"), 0o755)
	asOf := ts(t, "2024-06-01T00:00:00Z")
	before, _ := w.g.LogSize(ctx)
	for name, o := range map[string]struct{ out, manifest, rejects string }{
		"the output is a directory":               {out: filepath.Join(w.dir, "adir")},
		"the manifest's folder does not exist":    {out: filepath.Join(w.dir, "o1.jsonl"), manifest: filepath.Join(w.dir, "no", "such", "m.json")},
		"the rejects file is a directory":         {out: filepath.Join(w.dir, "o2.jsonl"), rejects: filepath.Join(w.dir, "adir")},
		"the output's folder does not exist":      {out: filepath.Join(w.dir, "gone", "o.jsonl")},
		"the manifest would overwrite the output": {out: filepath.Join(w.dir, "o3.jsonl"), manifest: filepath.Join(w.dir, "o3.jsonl")},
	} {
		req := gate.ExportRequest{Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: &asOf}
		req.Options.Inputs, req.Options.Out, req.Options.Manifest, req.Options.Rejects, req.Options.Fields = []string{in}, o.out, o.manifest, o.rejects, fields(t)
		if _, err := w.g.Export(ctx, req); err == nil {
			t.Errorf("%s: exported", name)
		}
		if after, _ := w.g.LogSize(ctx); after != before {
			t.Fatalf("%s: the log grew from %d to %d leaves: a disclosure logged without its files", name, before, after)
		}
	}
	if es, _ := w.g.Exports(ctx, access.Local); len(es) != 0 {
		t.Fatalf("refused exports were recorded: %+v", es)
	}
	if left, _ := filepath.Glob(filepath.Join(w.dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("refused exports left %v", left)
	}
}

// TestVerifyManifestKeyOnly: a recipient with the manifest, the files and
// the verifier key checks the signature and digests without any store;
// nothing is created.
func TestVerifyManifestKeyOnly(t *testing.T) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US"}`)
	in := w.file("posts.jsonl", `{"id":"p1","kind":"user.content.public","author":"ana","created_at":"2024-03-01T00:00:00Z"}`+"\n")
	asOf := ts(t, "2024-06-01T00:00:00Z")
	req := gate.ExportRequest{Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: &asOf}
	req.Options.Inputs, req.Options.Out, req.Options.Fields = []string{in}, filepath.Join(w.dir, "out.jsonl"), fields(t)
	if _, err := w.g.Export(ctx, req); err != nil {
		t.Fatal(err)
	}
	vkey, err := w.g.VerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := gate.VerifyManifest(ctx, nil, req.Options.ManifestPath(), vkey, gate.ManifestOptions{})
	if err != nil || !rep.OK || rep.Checks[0].Result != gate.CheckOK || rep.Checks[len(rep.Checks)-1].Result != gate.CheckSkipped {
		t.Fatalf("key only: %+v %v", rep, err)
	}
	rep, err = gate.VerifyManifest(ctx, w.g, req.Options.ManifestPath(), "", gate.ManifestOptions{})
	if err != nil || !rep.OK || rep.Skipped != 0 {
		t.Fatalf("with the store: %+v %v", rep, err)
	}
	// A manifest moved to another log index: the inclusion check says
	// what it computed, in hex.
	body, _ := os.ReadFile(req.Options.ManifestPath())
	moved := regexp.MustCompile(`"log_index": ?(\d+)`).ReplaceAllString(string(body), `"log_index": 0`)
	movedPath := filepath.Join(filepath.Dir(req.Options.ManifestPath()), "moved.manifest.json")
	os.WriteFile(movedPath, []byte(moved), 0o644)
	rep, err = gate.VerifyManifest(ctx, w.g, movedPath, "", gate.ManifestOptions{})
	last := rep.Checks[len(rep.Checks)-1]
	if err != nil || rep.OK || last.Result != gate.CheckFailed || !regexp.MustCompile(`^the manifest is not the leaf at log index 0: its leaf hash [0-9a-f]{64} and the audit path give the root [0-9a-f]{64}, the checkpoint of \d+ leaves signs [0-9a-f]{64}$`).MatchString(last.Detail) {
		t.Fatalf("a moved manifest: %+v %v", last, err)
	}
	os.Remove(movedPath)
	// An auditor's copy of the store, without its keys directory, with only
	// the public key: the log inclusion is checked with that key, nothing
	// is created, and what needs the subjects' keys says so.
	w.g.Close()
	audit := filepath.Join(t.TempDir(), "copy.db")
	b, _ := os.ReadFile(w.store())
	os.WriteFile(audit, b, 0o644)
	bare, err := gate.Open(ctx, gate.Config{Store: audit, Mode: gate.ReadOnly})
	if err != nil {
		t.Fatalf("a copy without keys, read: %v", err)
	}
	if _, err := gate.VerifyManifest(ctx, bare, req.Options.ManifestPath(), "", gate.ManifestOptions{}); gate.CodeOf(err) != gate.Unavailable || !strings.Contains(err.Error(), "log.pub") {
		t.Fatalf("a manifest verified without any verifier key: %v", err)
	}
	bare.Close()
	if _, err := gate.Open(ctx, gate.Config{Store: audit, Mode: gate.ReadOnly, Verifier: "not a key"}); gate.CodeOf(err) != gate.Invalid {
		t.Fatalf("a malformed verifier key: %v", err)
	}
	ag, err := gate.Open(ctx, gate.Config{Store: audit, Mode: gate.ReadOnly, Verifier: vkey})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = gate.VerifyManifest(ctx, ag, req.Options.ManifestPath(), vkey, gate.ManifestOptions{})
	if err != nil || !rep.OK || rep.Skipped != 0 {
		t.Fatalf("the auditor's copy with the public key: %+v %v", rep, err)
	}
	if _, err := ag.Report(ctx, access.Local, "ana"); gate.CodeOf(err) != gate.Unavailable || gate.As(err).Hint != gate.KeysDir {
		t.Fatalf("a pseudonym without the subject keys: %v", err)
	}
	ag.Close()
	if m, _ := filepath.Glob(audit + "*"); len(m) != 1 {
		t.Fatalf("the auditor's session created %v", m)
	}
	w.g = w.open(gate.Write)

	// A recipient's copies, in a folder of their own: the copy beside the
	// manifest is what is checked, not the path the manifest records.
	rec := t.TempDir()
	for _, f := range []string{req.Options.Out, req.Options.ManifestPath()} {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(rec, filepath.Base(f)), b, 0o644)
	}
	copied := filepath.Join(rec, filepath.Base(req.Options.ManifestPath()))
	if rep, _ := gate.VerifyManifest(ctx, nil, copied, vkey, gate.ManifestOptions{}); !rep.OK {
		t.Fatalf("the recipient's copies: %+v", rep)
	}
	os.WriteFile(filepath.Join(rec, "out.jsonl"), []byte("tampered\n"), 0o644)
	if rep, _ := gate.VerifyManifest(ctx, nil, copied, vkey, gate.ManifestOptions{}); rep.OK {
		t.Fatal("a tampered copy verifies against the original beside the exporter's manifest")
	}
	os.WriteFile(req.Options.Out, []byte("tampered\n"), 0o644)
	rep, _ = gate.VerifyManifest(ctx, w.g, req.Options.ManifestPath(), "", gate.ManifestOptions{})
	if rep.OK {
		t.Fatal("a tampered output verifies")
	}
	other, _ := gate.Open(ctx, gate.Config{Store: filepath.Join(t.TempDir(), "o.db"), Mode: gate.Create, Deployment: "other"})
	defer other.Close()
	other.Origin(ctx)
	okey, _ := other.VerifierKey()
	rep, _ = gate.VerifyManifest(ctx, nil, req.Options.ManifestPath(), okey, gate.ManifestOptions{})
	if rep.OK || !strings.Contains(fmt.Sprint(rep.Checks[0]), string(gate.CheckFailed)) {
		t.Fatalf("another log's key verifies the signature: %+v", rep.Checks[0])
	}
}

// TestDecideLine: a raw input line is decided as the export reads it, by
// the same reader, with decide's explanation; a line the reader refuses is
// Invalid, naming what was expected.
func TestDecideLine(t *testing.T) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`,
		`{"subject":"de","at":"2023-01-01T00:00:00Z","region":"DE","attributes":{"tier":"free"}}`)
	asOf := ts(t, "2024-06-01T00:00:00Z")
	ex, err := w.g.DecideLine(ctx, access.Local, fields(t), []byte(`{"id":"p1","kind":"user.content.public","author":"ana","mentions":["de"],"created_at":"2024-03-01T00:00:00Z"}`),
		"train_ai_system.generative", "partner-x", &asOf)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := w.g.Decide(ctx, access.Local, []gate.DecisionRequest{{Subjects: []gate.SubjectRole{{ID: "ana", Role: policy.Author}, {ID: "de", Role: policy.Mentioned}},
		Category: "user.content.public", Created: ts(t, "2024-03-01T00:00:00Z"), Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: &asOf}})
	if ex.Allow || ex.Reason != "rule:strict" || ex.Text() != want[0].Text() {
		t.Fatalf("the line: %s\ndecide: %s", ex.Text(), want[0].Text())
	}
	_, err = w.g.DecideLine(ctx, access.Local, fields(t), []byte(`{"id":"p1","id":"p2","kind":"user.content.public","author":"ana","created_at":"2024-03-01T00:00:00Z"}`),
		"train_ai_system.generative", "partner-x", &asOf)
	if gate.CodeOf(err) != gate.Invalid || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("a key given twice: %v", err)
	}
}

// TestAgreeAddsAndSaved: a setting says which kinds of data agreeing would
// let through that are not shared now; the privacy centre's saved message
// may speak only of a choice made there that is still the member's latest.
func TestAgreeAddsAndSaved(t *testing.T) {
	w := newWorld(t)
	if _, err := w.publish(basePolicy, false); err != nil {
		t.Fatal(err)
	}
	w.subjects(`{"subject":"ana","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`)
	centre := func() (*gate.PrivacyCentre, gate.Setting) {
		pc, err := w.g.PrivacyCentre(ctx, member("ana"), "ana")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range pc.Settings {
			if s.Class == "third_party" {
				return pc, s
			}
		}
		t.Fatal("no third-party setting")
		return nil, gate.Setting{}
	}
	if _, s := centre(); s.State != gate.OnByDefault || !slices.Equal(s.AgreeAdds, []string{"user.content.private.message"}) {
		t.Fatalf("on by default, messages need agreement: %s adds %v", s.State, s.AgreeAdds)
	}
	rec, err := w.choose(member("ana"), "ana", "train_ai_system.generative", "third_party", "denied", false)
	if err != nil {
		t.Fatal(err)
	}
	pc, s := centre()
	if e := pc.Saved(rec[0].At); e == nil || e.State != "denied" || e.Recipient != "third_party" {
		t.Fatalf("the choice just made: %+v", e)
	}
	if e := pc.Saved(rec[0].At + 1); e != nil {
		t.Fatalf("a time at which nothing was chosen: %+v", e)
	}
	if !slices.Equal(s.AgreeAdds, []string{"user.content.public", "user.content.private.message"}) {
		t.Fatalf("refused: agreeing adds %v", s.AgreeAdds)
	}
	if _, err := w.choose(member("ana"), "ana", "train_ai_system.generative", "third_party", "granted", false); err != nil {
		t.Fatal(err)
	}
	if pc, _ := centre(); pc.Saved(rec[0].At) != nil {
		t.Fatal("a choice made since still reads as saved")
	}
}
