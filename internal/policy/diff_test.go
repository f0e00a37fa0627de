package policy

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func compile(t *testing.T, src string) *Table {
	t.Helper()
	d, _, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

const diffBase = `version: "1"
effective_from: 2024-01-01T00:00:00Z
purposes: [train.gen]
categories: [post, msg]
recipients:
  self:  { class: first_party }
  p:     { class: third_party }
regions:
  strict: [DE, FR]
attributes:
  tier: [free, premium]
defaults:
  train: granted
rules:
  - id: strict
    effect: deny
    when: { region: strict }
`

func summaries(d *Diff) string {
	var s []string
	for _, c := range d.Changes {
		s = append(s, c.String())
	}
	return strings.Join(s, "\n")
}

func TestDiffHandBuilt(t *testing.T) {
	old := compile(t, diffBase)
	cases := []struct {
		name, new, want string
		widening        bool
	}{
		{"only a default", strings.Replace(diffBase, "train: granted", "train: denied", 1),
			"narrowing: to every recipient · every purpose · every category · every region except strict · consent none (72 cells)", false},
		{"only a region group", strings.Replace(diffBase, "strict: [DE, FR]", "strict: [DE]", 1),
			"widening:  to every recipient · every purpose · every category · FR · consent not denied (144 cells)", true},
		{"only a recipient class", strings.Replace(strings.Replace(diffBase, "p:     { class: third_party }", "p:     { class: affiliate }", 1),
			"    when: { region: strict }", "    when: { region: strict }\n  - id: no-affiliates\n    effect: deny\n    when: { recipient: affiliate }", 1),
			"narrowing: to p · every purpose · every category · every region except strict · consent not denied (72 cells)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Compare(old, compile(t, c.new), old.Doc.EffectiveFrom)
			if err != nil {
				t.Fatal(err)
			}
			got := summaries(d)
			if got != c.want || (d.Widening > 0) != c.widening {
				t.Fatalf("diff:\n%s\nwant:\n%s\n(widening %v)", got, c.want, c.widening)
			}
		})
	}
	same, _ := Compare(old, compile(t, diffBase), 0)
	if len(same.Changes) != 0 || same.Notice.Required {
		t.Fatalf("a version against itself: %s", summaries(same))
	}
}

func TestDiffNotice(t *testing.T) {
	old := compile(t, diffBase)
	widen := strings.Replace(strings.Replace(diffBase, "strict: [DE, FR]", "strict: [DE]", 1), `effective_from: 2024-01-01T00:00:00Z`,
		"effective_from: 2024-09-18T00:00:00Z\nannounced_at: 2024-09-18T00:00:00Z\nmin_notice: 30d", 1)
	d, _ := Compare(old, compile(t, widen), 0)
	if !d.Notice.Required || !d.Notice.Violation || d.Notice.Due.String() != "2024-10-18T00:00:00Z" {
		t.Fatalf("notice %+v", d.Notice)
	}
	early := strings.Replace(widen, "announced_at: 2024-09-18T00:00:00Z", "announced_at: 2024-08-01T00:00:00Z", 1)
	if d, _ := Compare(old, compile(t, early), 0); d.Notice.Violation {
		t.Fatalf("announced 48 days ahead: %+v", d.Notice)
	}
	narrow := strings.Replace(widen, "strict: [DE]", "strict: [DE, FR, GB]", 1)
	if d, _ := Compare(old, compile(t, narrow), 0); d.Notice.Required || d.Notice.Violation {
		t.Fatalf("a narrowing change owes no notice: %+v", d.Notice)
	}
}

// TestDiffProperty: for random policy pairs and random requests, the two
// tables decide differently exactly when the diff lists a change covering
// the request.
func TestDiffProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 150; n++ {
		oldSrc, newSrc := randomPolicy(r), randomPolicy(r)
		oldT, newT := compile(t, oldSrc), compile(t, newSrc)
		d, err := Compare(oldT, newT, 0)
		if err != nil {
			t.Fatal(err)
		}
		purposes := union(oldT.Doc.Purposes, newT.Doc.Purposes)
		categories := union(oldT.Doc.Categories, newT.Doc.Categories)
		var recips []Recipient
		seen := map[string]bool{}
		for _, doc := range []*Document{newT.Doc, oldT.Doc} {
			for _, rc := range doc.Recipients {
				if !seen[rc.ID] {
					seen[rc.ID] = true
					recips = append(recips, rc)
				}
			}
		}
		for q := 0; q < 300; q++ {
			p, c, rc := purposes[r.IntN(len(purposes))], categories[r.IntN(len(categories))], recips[r.IntN(len(recips))]
			code := genRegions[r.IntN(len(genRegions))]
			if code == "unknown" {
				code = ""
			}
			attrs := map[string]string{}
			for _, name := range []string{"tier", "x"} {
				vals := map[string][]string{"tier": {"free", "premium", ""}, "x": {"1", "2", "3", ""}}[name]
				attrs[name] = vals[r.IntN(len(vals))]
			}
			role, st := Role(r.IntN(3)), State(r.IntN(3))
			decide := func(tb *Table) bool {
				var cls []int
				for i, a := range tb.Doc.Attributes {
					v := attrs[a.Name]
					cls = append(cls, tb.AttrClass(i, v, v != ""))
				}
				return tb.Outcomes[tb.Decide(tb.PurposeClass(p), tb.CategoryClass(c), tb.RecipientClass(rc.ID, rc.Class),
					tb.SubjectClass(tb.RegionClass(code), cls), role, st)].Allow
			}
			differs := decide(oldT) != decide(newT)
			covered := false
			for _, ch := range d.Changes {
				covered = covered || ch.Covers(d, p, c, rc.ID, code, attrs, role, st)
			}
			if differs != covered {
				t.Fatalf("request %s %s %s %q %v %s %s: differs %v, covered %v\nold:\n%s\nnew:\n%s\ndiff:\n%s",
					p, c, rc.ID, code, attrs, role, st, differs, covered, oldSrc, newSrc, summaries(d))
			}
		}
	}
}

// TestDiffGPCChange: a change of what a GPC signal refuses, which no
// decision cell shows, is reported; the same list in another order is not
// a change.
func TestDiffGPCChange(t *testing.T) {
	src := func(version, gpc string) string {
		return "version: " + version + "\neffective_from: 2024-01-01T00:00:00Z\npurposes: [p]\ncategories: [c]\nrecipients:\n  a: { class: affiliate }\n  x: { class: third_party }\ngpc: " + gpc + "\n"
	}
	d, err := Compare(compile(t, src("v1", "[p]")), compile(t, src("v2", "[third_party, affiliate]")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.GPC == nil || d.GPC.String() != "gpc [p] → [affiliate, third_party]" {
		t.Fatalf("the gpc change: %+v", d.GPC)
	}
	d, _ = Compare(compile(t, src("v1", "[affiliate, third_party]")), compile(t, src("v2", "[third_party, affiliate]")), 0)
	if d.GPC != nil {
		t.Fatalf("the same list in another order: %+v", d.GPC)
	}
}
