package policy

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const validPolicy = `version: "2024-09-18"
effective_from: 2024-09-18T00:00:00Z
announced_at: 2024-09-18T00:00:00Z
min_notice: 30d
remediation_within: 30d
purposes: [train_ai_system, train_ai_system.generative]
categories: [user.content.public, user.content.private, user.content.private.message, user.profile]
recipients:
  self:       { class: first_party }
  affiliates: { class: affiliate }
  partner-x:  { class: third_party }
regions:
  strict: ["@EEA", GB, CH, CA, HK, CN]
attributes:
  tier: [free, premium]
gpc: [affiliate, third_party]
defaults:
  train_ai_system: granted
rules:
  - id: no-ai-training-in-strict-regions
    effect: deny
    when: { purpose: train_ai_system, region: strict }
  - id: premium-messages-stay-private
    effect: deny
    when: { category: user.content.private.message, tier: premium, recipient: [affiliate, third_party] }
  - id: private-content-needs-opt-in
    effect: require_consent
    when: { category: user.content.private, purpose: train_ai_system }
`

func TestParseValid(t *testing.T) {
	d, warnings, err := Parse("p.yaml", []byte(validPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Msg, "unknown") {
		t.Errorf("warnings %v", warnings)
	}
	if d.Version != "2024-09-18" || len(d.Rules) != 3 || d.MinNotice.Hours() != 720 || d.RemediationWithin.Hours() != 720 || !d.HasAnnounced {
		t.Errorf("parsed %+v", d)
	}
	if !d.DeclaresCategory("user.content") || d.DeclaresCategory("user.content.draft") {
		t.Error("category declarations")
	}
	if !d.IsLeafPurpose("train_ai_system.generative") || d.IsLeafPurpose("train_ai_system") {
		t.Error("leaf purposes")
	}
	if n := len(d.Groups["strict"]); n != 35 {
		t.Errorf("strict has %d codes, want 35", n)
	}
	if _, err := Compile(d); err != nil {
		t.Fatal(err)
	}
	// The words for people.
	w, _, err := Parse("p.yaml", []byte(validPolicy+"notice: https://example.com/privacy/2024-09-18\ndescribe:\n  train_ai_system.generative: Training AI models that write text\n  partner-x: Partner X, an AI company\n  third_party: other companies\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Notice != "https://example.com/privacy/2024-09-18" || w.Words("partner-x") != "Partner X, an AI company" || w.Words("third_party") != "other companies" || w.Words("self") != "" {
		t.Errorf("notice %q, describe %v", w.Notice, w.Describe)
	}
}

// TestParseRefuses checks every refusal names its line and problem.
func TestParseRefuses(t *testing.T) {
	base := "version: v\neffective_from: 2024-01-01T00:00:00Z\npurposes: [p.q]\ncategories: [c]\nrecipients:\n  r: { class: third_party }\nattributes:\n  tier: [free]\n"
	cases := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unknown key", base + "colour: blue\n", 9, `unknown key "colour"`},
		{"date alone", strings.Replace(base, "2024-01-01T00:00:00Z", "2024-01-01", 1), 2, "date alone"},
		{"bad duration", base + "min_notice: 30 days\n", 9, "min_notice"},
		{"bad remediation", base + "remediation_within: soon\n", 9, "remediation_within"},
		{"no remediation time", base + "remediation_within: 0d\n", 9, "remediation_within 0d: expected a time longer than zero"},
		{"undeclared purpose", base + "rules:\n  - id: x\n    effect: deny\n    when: { purpose: z }\n", 12, `purpose "z" is not declared`},
		{"undeclared category", base + "rules:\n  - id: x\n    effect: deny\n    when: { category: d }\n", 12, `category "d" is not declared`},
		{"undeclared recipient", base + "rules:\n  - id: x\n    effect: deny\n    when: { recipient: s }\n", 12, `"s" is neither a declared recipient`},
		{"undeclared attribute", base + "rules:\n  - id: x\n    effect: deny\n    when: { plan: gold }\n", 12, `unknown condition "plan"`},
		{"undeclared value", base + "rules:\n  - id: x\n    effect: deny\n    when: { tier: gold }\n", 12, `value "gold" is not declared`},
		{"duplicate rule id", base + "rules:\n  - id: x\n    effect: deny\n  - id: x\n    effect: deny\n", 12, `rule id "x" is used twice`},
		{"bad effect", base + "rules:\n  - id: x\n    effect: allow\n", 11, "effect must be deny or require_consent"},
		{"recipient named like a class", strings.Replace(base, "  r: {", "  affiliate: {", 1), 6, "class name"},
		{"recipient star", strings.Replace(base, "  r: {", "  \"*\": {", 1), 6, "may not be a recipient id"},
		{"attribute named like a when key", strings.Replace(base, "  tier:", "  region:", 1), 8, "collides"},
		{"unknown region code", base + "regions:\n  g: [DE, XX]\n", 10, `"XX"`},
		{"lower-case region", base + "regions:\n  g: [de]\n", 10, "upper case"},
		{"group named like a code", base + "regions:\n  DE: [FR]\n", 10, "collides"},
		{"group cycle", base + "regions:\n  a: [b]\n  b: [a]\n", 0, "includes itself"},
		{"notice not a web address", base + "notice: our website\n", 9, "notice"},
		{"describe an undeclared name", base + "describe:\n  z: Zed\n", 10, `"z" is not a declared purpose`},
		{"describe with no words", base + "describe:\n  p.q: \"\"\n", 10, "expected the words"},
		{"unknown role", base + "rules:\n  - id: x\n    effect: deny\n    when: { role: owner }\n", 12, `role "owner"`},
		{"undeclared default", base + "defaults:\n  z: granted\n", 10, `purpose "z" is not declared`},
		{"bad default", base + "defaults:\n  p: maybe\n", 10, "granted or denied"},
		{"bad gpc", base + "gpc: [nobody]\n", 9, "neither a recipient class"},
		{"missing version", strings.Replace(base, "version: v\n", "", 1), 1, "missing key version"},
		{"bad class", strings.Replace(base, "third_party", "partner", 1), 6, "class"},
		{"not yaml", "version: [\n", 0, "not valid YAML"},
		{"duplicate key", base + "purposes: [x]\n", 9, "given twice"},
		// Read strictly (issue 14).
		{"second document", base + "---\nversion: w\n", 9, "a second YAML document"},
		{"purposes a number", strings.Replace(base, "[p.q]", "42", 1), 3, "purposes: expected a list of purpose names, e.g. [train_ai_system, train_ai_system.generative], found the number 42"},
		{"empty purpose", strings.Replace(base, "[p.q]", `[""]`, 1), 3, "found an empty name"},
		{"invalid UTF-8", base + "colour: \xff\n", 9, "not valid UTF-8"},
		{"ambiguous attribute value", strings.Replace(base, "[free]", `["free or paid"]`, 1), 8, `may not contain " or "`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Parse("f.yaml", []byte(c.src))
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want *InvalidError", err)
			}
			for _, p := range inv.Problems {
				if strings.Contains(p.Msg, c.msg) && (c.line == 0 || p.Line == c.line) && p.File == "f.yaml" {
					return
				}
			}
			t.Fatalf("problems %v: none at line %d containing %q", inv.Problems, c.line, c.msg)
		})
	}
}

func TestDemoAndCorpusPoliciesParse(t *testing.T) {
	for _, dir := range []string{"../demo/policies", "../../testdata/e2e"} {
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".yaml") {
				continue
			}
			src, _ := os.ReadFile(dir + "/" + f.Name())
			d, _, err := Parse(f.Name(), src)
			if err != nil {
				t.Fatalf("%s: %v", f.Name(), err)
			}
			if _, err := Compile(d); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestHierarchy(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"train_ai_system", "train_ai_system.generative", true}, {"train_ai_system", "train_ai_system_v2", false},
		{"a.b", "a.b", true}, {"a.b.c", "a.b", false}, {"a", "ab.c", false}} {
		if got := IsAncestorOrSelf(c.a, c.b); got != c.want {
			t.Errorf("IsAncestorOrSelf(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// FuzzParse: no input crashes the parser; whatever it accepts compiles (or
// is refused as too large) and parses the same way twice.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validPolicy))
	f.Add([]byte("version: v\neffective_from: 2024-01-01T00:00:00Z\npurposes: [a]\ncategories: [b]\n"))
	files, _ := os.ReadDir("../demo/policies")
	for _, e := range files {
		b, _ := os.ReadFile("../demo/policies/" + e.Name())
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, _, err := Parse("fuzz.yaml", src)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) || len(inv.Problems) == 0 {
				t.Fatalf("error %v is not an *InvalidError with problems", err)
			}
			return
		}
		// The strict reading only refuses more: what it accepts, a stored
		// copy reads the same way.
		if dp, _, err := ParsePublished("fuzz.yaml", src); err != nil || !reflect.DeepEqual(d, dp) {
			t.Fatalf("ParsePublished reads an accepted document differently: %v", err)
		}
		tb, err := Compile(d)
		if err != nil {
			if !strings.Contains(err.Error(), "too large") {
				t.Fatal(err)
			}
			return
		}
		d2, _, err := Parse("fuzz.yaml", src)
		if err != nil || d2.Version != d.Version || len(d2.Rules) != len(d.Rules) {
			t.Fatal("parse is not deterministic")
		}
		if tb.Cells() <= 0 {
			t.Fatal("empty table")
		}
	})
}

func TestDecidePartialEqualsDecide(t *testing.T) {
	d, _, err := Parse("p.yaml", []byte(validPolicy))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < tb.purpose.n(); p++ {
		for r := 0; r < tb.recipient.n(); r++ {
			base := tb.Partial(p, r)
			for c := 0; c < tb.category.n(); c++ {
				for s := 0; s < tb.NumSubjectClasses(); s++ {
					for role := Role(0); role < numRoles; role++ {
						for st := State(0); st < numStates; st++ {
							if tb.DecidePartial(base, c, s, role, st) != tb.Decide(p, c, r, s, role, st) {
								t.Fatalf("cell %d %d %d %d %d %d differs", p, c, r, s, role, st)
							}
						}
					}
				}
			}
		}
	}
}
