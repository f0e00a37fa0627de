package policy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	genPurposes   = []string{"a", "a.b", "a.b.c", "a.d", "e", "ab"}
	genCategories = []string{"u", "u.p", "u.p.m", "u.q", "v"}
	genRegions    = []string{"DE", "FR", "US", "US-CA", "GB", "NO", "GF", "ES-CT", "unknown"}
	genRecipients = []string{"r1", "r2", "r3"}
)

// randomPolicy writes a random valid policy over a small vocabulary.
func randomPolicy(r *rand.Rand) string {
	pick := func(list []string, n int) []string {
		var out []string
		for _, i := range r.Perm(len(list))[:1+r.IntN(min(n, len(list)))] {
			out = append(out, list[i])
		}
		return out
	}
	var b strings.Builder
	b.WriteString("version: v\neffective_from: 2024-01-01T00:00:00Z\n")
	purposes, categories := pick(genPurposes, 4), pick(genCategories, 4)
	fmt.Fprintf(&b, "purposes: [%s]\ncategories: [%s]\nrecipients:\n", strings.Join(purposes, ", "), strings.Join(categories, ", "))
	recips := pick(genRecipients, 3)
	classes := []string{"first_party", "affiliate", "third_party"}
	for _, id := range recips {
		fmt.Fprintf(&b, "  %s: { class: %s }\n", id, classes[r.IntN(3)])
	}
	b.WriteString("regions:\n  g1: [\"@EU\", GB]\n  g2: [US-CA, g1]\nattributes:\n  tier: [free, premium]\n  x: [\"1\", \"2\", \"3\"]\n")
	_, dp := withAncestors(purposes) // in order, so the test is reproducible
	if r.IntN(3) != 0 {
		ds := pick(dp, 2)
		fmt.Fprintf(&b, "defaults:\n  %s: granted\n", ds[0])
		if len(ds) > 1 {
			fmt.Fprintf(&b, "  %s: %s\n", ds[1], []string{"granted", "denied"}[r.IntN(2)])
		}
	}
	b.WriteString("rules:\n")
	_, dcs := withAncestors(categories)
	for i := 0; i < 1+r.IntN(6); i++ {
		effect := "deny"
		if r.IntN(3) == 0 {
			effect = "require_consent"
		}
		var when []string
		if r.IntN(2) == 0 {
			when = append(when, "purpose: "+dp[r.IntN(len(dp))])
		}
		if r.IntN(2) == 0 {
			when = append(when, "category: "+dcs[r.IntN(len(dcs))])
		}
		if r.IntN(3) == 0 {
			when = append(when, "region: ["+strings.Join(pick([]string{"g1", "g2", "\"@EEA\"", "US", "unknown", "ES"}, 2), ", ")+"]")
		}
		if r.IntN(3) == 0 {
			when = append(when, "recipient: ["+strings.Join(pick(append(append([]string{}, recips...), classes...), 2), ", ")+"]")
		}
		if r.IntN(4) == 0 {
			when = append(when, "role: ["+strings.Join(pick([]string{"author", "recipient", "mentioned"}, 2), ", ")+"]")
		}
		if r.IntN(3) == 0 {
			when = append(when, "tier: premium")
		}
		if r.IntN(4) == 0 {
			when = append(when, "x: [\""+strings.Join(pick([]string{"1", "2", "3"}, 2), "\", \"")+"\"]")
		}
		fmt.Fprintf(&b, "  - id: r%d\n    effect: %s\n    when: { %s }\n", i, effect, strings.Join(when, ", "))
	}
	return b.String()
}

// TestTableMatchesReference compiles random policies and checks every
// table lookup against the reference reading of SPEC §2.2, over random
// requests that include undeclared names, subdivisions, absent and
// undeclared attribute values.
func TestTableMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	queryPurposes := append(append([]string{}, genPurposes...), "a.b.c.z", "zz", "a.x")
	queryCategories := append(append([]string{}, genCategories...), "u.p.m.n", "w")
	for n := 0; n < 300; n++ {
		src := randomPolicy(r)
		d, _, err := Parse("gen.yaml", []byte(src))
		if err != nil {
			t.Fatalf("generated policy refused: %v\n%s", err, src)
		}
		tb, err := Compile(d)
		if err != nil {
			t.Fatal(err)
		}
		for q := 0; q < 400; q++ {
			purpose := queryPurposes[r.IntN(len(queryPurposes))]
			category := queryCategories[r.IntN(len(queryCategories))]
			recipient := append(append([]string{}, genRecipients...), "nobody")[r.IntN(4)]
			class := Class(r.IntN(3))
			region := genRegions[r.IntN(len(genRegions))]
			if region == "unknown" {
				region = ""
			}
			attrs := map[string]string{}
			attrClasses := make([]int, len(d.Attributes))
			for i, a := range d.Attributes {
				switch k := r.IntN(len(a.Values) + 2); {
				case k < len(a.Values):
					attrs[a.Name] = a.Values[k]
					attrClasses[i] = tb.AttrClass(i, a.Values[k], true)
				case k == len(a.Values):
					attrs[a.Name] = "undeclared"
					attrClasses[i] = tb.AttrClass(i, "undeclared", true)
				default:
					attrClasses[i] = tb.AttrClass(i, "", false)
				}
			}
			role, st := Role(r.IntN(3)), State(r.IntN(3))
			got := tb.Outcomes[tb.Decide(tb.PurposeClass(purpose), tb.CategoryClass(category), tb.RecipientClass(recipient, class),
				tb.SubjectClass(tb.RegionClass(region), attrClasses), role, st)].Reason
			want := d.DecideDirect(Query{Purpose: purpose, Category: category, Recipient: recipient, Class: class,
				Region: region, Attrs: attrs, Role: role, Consent: st})
			if got != want {
				t.Fatalf("policy:\n%s\nquery purpose=%s category=%s recipient=%s(%s) region=%q attrs=%v role=%s consent=%s: table %s, reference %s",
					src, purpose, category, recipient, class, region, attrs, role, st, got, want)
			}
		}
	}
}
