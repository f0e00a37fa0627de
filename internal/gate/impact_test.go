package gate_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// impactWorld is a store with one export as of 2025-01-01 and, after it,
// a withdrawal, a move into a strict region, a premium upgrade, a
// withdrawal taken back, and a narrower policy version.
func impactWorld(t *testing.T) (*world, string) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	var subjects []string
	for _, s := range []struct{ id, region, tier string }{
		{"ana", "US", "free"}, {"ben", "US", "premium"}, {"cy", "US", "free"}, {"dee", "US", "free"},
		{"eve", "US", "free"}, {"fay", "US", "free"}, {"gus", "BR", "free"},
	} {
		subjects = append(subjects, fmt.Sprintf(`{"subject":%q,"at":"2023-01-01T00:00:00Z","region":%q,"attributes":{"tier":%q}}`, s.id, s.region, s.tier))
	}
	w.subjects(subjects...)
	w.consents(
		`{"subject":"cy","purpose":"train_ai_system","state":"granted","at":"2024-02-01T00:00:00Z"}`,
		`{"subject":"dee","purpose":"train_ai_system","state":"granted","at":"2024-02-01T00:00:00Z"}`,
	)
	var posts strings.Builder
	n := 0
	for _, a := range []string{"ana", "ben", "cy", "dee", "eve", "fay", "gus"} {
		for range 2 {
			n++
			fmt.Fprintf(&posts, `{"id":"p%d","kind":"user.content.public","author":%q,"created_at":"2024-0%d-01T00:00:00Z"}`+"\n", n, a, 3+n%6)
		}
	}
	// A message between the two members who agreed; another mentions fay,
	// who did not, and stays out.
	posts.WriteString(`{"id":"m1","kind":"user.content.private.message","author":"cy","to":["dee"],"created_at":"2024-05-01T00:00:00Z"}` + "\n")
	posts.WriteString(`{"id":"m2","kind":"user.content.private.message","author":"dee","to":["cy"],"mentions":["fay"],"created_at":"2024-05-02T00:00:00Z"}` + "\n")
	in := w.file("records.jsonl", posts.String())
	asOf := ts(t, "2025-01-01T00:00:00Z")
	req := gate.ExportRequest{Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: &asOf}
	req.Options.Inputs, req.Options.Out, req.Options.Fields = []string{in}, filepath.Join(w.dir, "out.jsonl"), fields(t)
	if _, err := w.g.Export(ctx, req); err != nil {
		t.Fatal(err)
	}
	w.consents(
		`{"subject":"ana","purpose":"train_ai_system","recipient":"third_party","state":"denied","at":"2025-03-01T00:00:00Z"}`,
		`{"subject":"eve","purpose":"train_ai_system","state":"denied","at":"2025-02-01T00:00:00Z"}`,
		`{"subject":"eve","purpose":"train_ai_system","state":"granted","at":"2025-04-01T00:00:00Z"}`,
	)
	w.subjects(`{"subject":"ben","at":"2025-02-01T00:00:00Z","region":"DE"}`, `{"subject":"dee","at":"2025-02-15T00:00:00Z","attributes":{"tier":"premium"}}`)
	narrower := strings.NewReplacer(`version: "v1"`, `version: "v2"`, "effective_from: 2024-01-01T00:00:00Z", "effective_from: 2025-05-01T00:00:00Z").Replace(basePolicy) +
		"  - id: br\n    effect: deny\n    when: { region: [BR] }\n"
	if _, err := w.publish(narrower, false); err != nil {
		t.Fatal(err)
	}
	return w, req.Options.Out
}

// TestImpactExact (SPEC §5): an item for every subject whose own checks
// would now deny one of the export's records — a withdrawal, a move, an
// attribute, a narrower version — each with its records, first reason and
// when it arose; a withdrawal taken back stays, lapsed. Checked against
// deciding every included record again now, subject by subject.
func TestImpactExact(t *testing.T) {
	w, out := impactWorld(t)
	items, err := w.g.Impact(ctx, access.Local, timestamp.Min)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]impact.Item{}
	for _, it := range items {
		got[it.Subject] = it
	}
	for _, c := range []struct {
		subject, cause, reason, at, status string
		records                            []string
	}{
		{"ana", impact.Withdrawal, "consent.denied", "2025-03-01T00:00:00Z", impact.Open, []string{"p1", "p2"}},
		{"ben", impact.Ineligibility, "rule:strict", "2025-02-01T00:00:00Z", impact.Open, []string{"p3", "p4"}},
		{"dee", impact.Ineligibility, "rule:premium-messages", "2025-02-15T00:00:00Z", impact.Open, []string{"m1"}},
		{"eve", impact.Withdrawal, "consent.denied", "2025-02-01T00:00:00Z", impact.Lapsed, []string{"p9", "p10"}},
		{"gus", impact.Narrower, "rule:br", "2025-05-01T00:00:00Z", impact.Open, []string{"p13", "p14"}},
	} {
		it, ok := got[c.subject]
		if !ok {
			t.Errorf("no item for %s", c.subject)
			continue
		}
		if it.Cause != c.cause || it.Reason != c.reason || it.At.String() != c.at || it.Status != c.status || !slices.Equal(it.Records, c.records) {
			t.Errorf("%s: %s %s at %s, %s, records %v; want %s %s at %s, %s, %v", c.subject, it.Cause, it.Reason, it.At, it.Status, it.Records,
				c.cause, c.reason, c.at, c.status, c.records)
		}
		delete(got, c.subject)
	}
	for s, it := range got {
		t.Errorf("an item nobody is owed: %s %+v", s, it)
	}
	if got["eve"].Status == impact.Lapsed && got["eve"].LapsedAt.String() != "2025-04-01T00:00:00Z" {
		t.Errorf("eve lapsed at %s", got["eve"].LapsedAt)
	}

	checkImpactAgainstDecide(t, w, out, items)

	// since: items that arose at or after it.
	later, _ := w.g.Impact(ctx, access.Local, ts(t, "2025-03-01T00:00:00Z"))
	var names []string
	for _, it := range later {
		names = append(names, it.Subject)
	}
	if !slices.Equal(names, []string{"ana", "gus"}) {
		t.Errorf("since 2025-03-01: %v", names)
	}
}

// TestImpactMarks: statuses are kept, logged and never lost; an item
// whose subject allows again lapses, and a later mark stands over the
// lapse.
func TestImpactMarks(t *testing.T) {
	w, _ := impactWorld(t)
	items, _ := w.g.Impact(ctx, access.Local, timestamp.Min)
	exp := items[0].ExportID
	before, _ := w.g.LogSize(ctx)
	marked, err := w.g.MarkImpact(ctx, access.Local, exp, "ana", impact.Notified, "told partner-x")
	if err != nil {
		t.Fatal(err)
	}
	if m := marked.Marks[len(marked.Marks)-1]; m.Seq == 0 || m.Seq != item(t, w, "ana").Marks[0].Seq {
		t.Fatalf("the mark's sequence number: %+v, listed %+v", m, item(t, w, "ana").Marks)
	}
	if after, _ := w.g.LogSize(ctx); after != before+1 {
		t.Fatalf("the mark is not logged: %d → %d", before, after)
	}
	_, err = w.g.MarkImpact(ctx, access.Local, exp, "fay", impact.Notified, "")
	if e := gate.As(err); e.Code != gate.NotFound || e.Hint != gate.SeeImpact {
		t.Fatalf("marking a non-item: %v", err)
	}
	codeIs(t, mark(w, exp, "ben", impact.WontFix, ""), gate.Invalid)
	codeIs(t, mark(w, exp, "ben", "waived", "x"), gate.Invalid)
	if _, err := w.g.MarkImpact(ctx, access.Principal{Role: access.Auditor}, exp, "ben", impact.Notified, ""); gate.CodeOf(err) != gate.Forbidden {
		t.Fatalf("an auditor marking: %v", err)
	}
	// ana allows partners again: the item stays, lapsed, with its history.
	if _, err := w.choose(access.Local, "ana", "train_ai_system", "third_party", "granted", false); err != nil {
		t.Fatal(err)
	}
	it := item(t, w, "ana")
	if it.Status != impact.Lapsed || len(it.Marks) != 1 || it.Marks[0].Note != "told partner-x" || len(it.Records) != 2 {
		t.Fatalf("after ana allows again: %+v", it)
	}
	// The operator records the deletion done anyway: it stands over the lapse.
	if _, err := w.g.MarkImpact(ctx, access.Local, exp, "ana", impact.Deleted, "deleted by partner-x"); err != nil {
		t.Fatal(err)
	}
	if it := item(t, w, "ana"); it.Status != impact.Deleted || len(it.Marks) != 2 {
		t.Fatalf("after marking the lapsed item: %+v", it)
	}
}

func mark(w *world, exp, subject, status, note string) error {
	_, err := w.g.MarkImpact(ctx, access.Local, exp, subject, status, note)
	return err
}

func item(t *testing.T, w *world, subject string) impact.Item {
	t.Helper()
	items, err := w.g.Impact(ctx, access.Local, timestamp.Min)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Subject == subject {
			return it
		}
	}
	t.Fatalf("no item for %s", subject)
	return impact.Item{}
}

type outRecord struct {
	id, category string
	created      timestamp.Time
	subjects     []gate.SubjectRole
}

// outputRecords reads an export's output lines back (the test records'
// fields).
func outputRecords(t *testing.T, path string) []outRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []outRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		rec := outRecord{id: raw["id"].(string), category: raw["kind"].(string), created: ts(t, raw["created_at"].(string)),
			subjects: []gate.SubjectRole{{ID: raw["author"].(string), Role: policy.Author}}}
		for k, role := range map[string]policy.Role{"to": policy.RecipientRole, "mentions": policy.Mentioned} {
			if list, ok := raw[k].([]any); ok {
				for _, s := range list {
					rec.subjects = append(rec.subjects, gate.SubjectRole{ID: s.(string), Role: role})
				}
			}
		}
		out = append(out, rec)
	}
	return out
}

// TestImpactCauses: when an item arose and why, on the cases a comparison
// of states gets wrong — an attribute first set after the export (unknown
// to a decision before it was set), a narrower version published after the
// export with an earlier effective date, and a change the policy does not
// care about followed by a version that narrows for the member as they were.
func TestImpactCauses(t *testing.T) {
	w := newWorld(t)
	w.publish(basePolicy, false)
	w.subjects(
		`{"subject":"hal","at":"2023-01-01T00:00:00Z","region":"US"}`,
		`{"subject":"ivy","at":"2023-01-01T00:00:00Z","region":"US","attributes":{"tier":"free"}}`,
		`{"subject":"jo","at":"2023-01-01T00:00:00Z","region":"BR","attributes":{"tier":"free"}}`,
		`{"subject":"kim","at":"2023-01-01T00:00:00Z","region":"MX","attributes":{"tier":"free"}}`,
		`{"subject":"lu","at":"2023-01-01T00:00:00Z","region":"MX","attributes":{"tier":"free"}}`,
	)
	w.consents(
		`{"subject":"lu","purpose":"train_ai_system","recipient":"first_party","state":"denied","at":"2024-03-01T00:00:00Z"}`,
		`{"subject":"hal","purpose":"train_ai_system","state":"granted","at":"2024-02-01T00:00:00Z"}`,
		`{"subject":"kim","purpose":"train_ai_system","state":"granted","at":"2024-02-01T00:00:00Z"}`,
	)
	in := w.file("records.jsonl", `{"id":"m1","kind":"user.content.private.message","author":"hal","to":["kim"],"created_at":"2024-05-01T00:00:00Z"}
{"id":"p1","kind":"user.content.public","author":"ivy","created_at":"2024-06-01T00:00:00Z"}
{"id":"p2","kind":"user.content.public","author":"jo","created_at":"2024-06-01T00:00:00Z"}
{"id":"p3","kind":"user.content.public","author":"lu","created_at":"2024-06-01T00:00:00Z"}
`)
	asOf := ts(t, "2025-01-01T00:00:00Z")
	req := gate.ExportRequest{Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: &asOf}
	req.Options.Inputs, req.Options.Out, req.Options.Fields = []string{in}, filepath.Join(w.dir, "out.jsonl"), fields(t)
	if _, err := w.g.Export(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := len(outputRecords(t, req.Options.Out)); n != 4 {
		t.Fatalf("the export included %d records, want 4", n)
	}
	// hal's tier is first recorded after the export; ivy moves between two
	// regions no rule names.
	w.subjects(`{"subject":"hal","at":"2025-02-10T00:00:00Z","attributes":{"tier":"premium"}}`,
		`{"subject":"ivy","at":"2025-03-01T00:00:00Z","region":"CA"}`)
	version := func(label, from, rule string) string {
		return strings.NewReplacer(`version: "v1"`, `version: "`+label+`"`, "effective_from: 2024-01-01T00:00:00Z", "effective_from: "+from).Replace(basePolicy) + rule
	}
	// v2 takes effect before the export's as-of time but is published
	// after the export; v3 leaves out the region ivy came from.
	brRule := "  - id: br\n    effect: deny\n    when: { region: [BR] }\n"
	if _, err := w.publish(version("v2", "2024-12-01T00:00:00Z", brRule), false); err != nil {
		t.Fatal(err)
	}
	naRule := "  - id: north-america\n    effect: deny\n    when: { region: [US, CA] }\n"
	if _, err := w.publish(version("v3", "2025-06-01T00:00:00Z", brRule+naRule), false); err != nil {
		t.Fatal(err)
	}
	// v4 counts partner-x a first party, which lu refused before the
	// export: the policy changed, not lu's wish.
	v4 := strings.Replace(version("v4", "2025-08-01T00:00:00Z", brRule+naRule), "partner-x: { class: third_party }", "partner-x: { class: first_party }", 1)
	if _, err := w.publish(v4, false); err != nil {
		t.Fatal(err)
	}
	items, err := w.g.Impact(ctx, access.Local, timestamp.Min)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ subject, cause, reason, check, at string }{
		{"hal", impact.Ineligibility, "rule:premium-messages", "now", "2025-02-10T00:00:00Z"},
		{"ivy", impact.Narrower, "rule:north-america", "now", "2025-06-01T00:00:00Z"},
		{"jo", impact.Narrower, "rule:br", "now", "2025-01-01T00:00:00Z"},
		{"lu", impact.Narrower, "consent.denied", "now", "2025-08-01T00:00:00Z"},
	}
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(items), len(want), items)
	}
	for k, c := range want {
		it := items[k]
		if it.Subject != c.subject || it.Cause != c.cause || it.Reason != c.reason || it.Check != c.check || it.At.String() != c.at || it.Status != impact.Open {
			t.Errorf("item %d: %s %s %s %s at %s, %s; want %s %s %s %s at %s, open", k, it.Subject, it.Cause, it.Reason, it.Check, it.At, it.Status,
				c.subject, c.cause, c.reason, c.check, c.at)
		}
	}
	checkImpactAgainstDecide(t, w, req.Options.Out, items)

	// since keeps the items that arose at or after it, by when they arose.
	for _, c := range []struct {
		since string
		want  []string
	}{{"2025-01-01T00:00:00Z", []string{"hal", "ivy", "jo", "lu"}}, {"2025-02-10T00:00:00Z", []string{"hal", "ivy", "lu"}}, {"2025-02-10T00:00:01Z", []string{"ivy", "lu"}}} {
		later, err := w.g.Impact(ctx, access.Local, ts(t, c.since))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, it := range later {
			names = append(names, it.Subject)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("since %s: %v, want %v", c.since, names, c.want)
		}
	}
}

// checkImpactAgainstDecide decides every record an export included again
// now, every subject on it alone: a denial is exactly an item that is not
// lapsed naming that record.
func checkImpactAgainstDecide(t *testing.T, w *world, out string, items []impact.Item) {
	t.Helper()
	denied := map[string][]string{}
	for _, r := range outputRecords(t, out) {
		for _, s := range r.subjects {
			q := gate.DecisionRequest{Subjects: []gate.SubjectRole{s}, Category: r.category, Created: r.created, Purpose: "train_ai_system.generative", Recipient: "partner-x"}
			exs, err := w.g.Decide(ctx, access.Local, []gate.DecisionRequest{q})
			if err != nil {
				t.Fatal(err)
			}
			if !exs[0].Allow {
				denied[s.ID] = append(denied[s.ID], r.id)
			}
		}
	}
	for _, it := range items {
		if it.Status == impact.Lapsed {
			if len(denied[it.Subject]) != 0 {
				t.Errorf("%s is lapsed but decide denies %v now", it.Subject, denied[it.Subject])
			}
			continue
		}
		if !slices.Equal(denied[it.Subject], it.Records) {
			t.Errorf("%s: decide denies %v now, the item names %v", it.Subject, denied[it.Subject], it.Records)
		}
		delete(denied, it.Subject)
	}
	for s, recs := range denied {
		t.Errorf("decide denies %s's %v now, and impact has no item", s, recs)
	}
}
