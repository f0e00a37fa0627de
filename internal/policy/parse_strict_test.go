package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// strictBase is a small valid policy; cases edit or extend it.
const strictBase = "version: v\neffective_from: 2024-01-01T00:00:00Z\npurposes: [p.q]\ncategories: [c]\nrecipients:\n  r: { class: third_party }\nattributes:\n  tier: [free]\n"

// rule is strictBase with one rule whose when (line 12) is given.
func rule(when string) string {
	return strictBase + "rules:\n  - id: x\n    effect: deny\n    when: " + when + "\n"
}

// TestParseRefusesStrictly: the strict reading (issue 14) names the line,
// the column where a mistake sits inside a line, and what was expected.
func TestParseRefusesStrictly(t *testing.T) {
	sub := func(old, new string) string { return strings.Replace(strictBase, old, new, 1) }
	cases := []struct {
		name, src string
		line, col int // col 0: not checked
		msg       string
	}{
		// One document per file.
		{"second document", strictBase + "---\nversion: w\n", 9, 0, "a second YAML document (after ---) starts here: a policy file holds one version"},
		{"empty second document", strictBase + "---\n", 9, 0, "starts here, empty"},
		{"second document not yaml", strictBase + "---\nversion: [\n", 0, 0, "not valid YAML"},

		// Text.
		{"invalid UTF-8", strictBase + "colour: bl\xffe\n", 9, 11, "not valid UTF-8 (byte 0xff)"},
		{"invalid UTF-8 after multibyte", "# é\nversion: \xc3\n", 2, 10, "not valid UTF-8"},
		{"UTF-16", "\xff\xfev\x00", 1, 1, "UTF-16"},
		{"control character", strictBase + "notice: a\x01\n", 9, 10, "U+0001"},

		// Declarations are lists of names.
		{"purposes a number", sub("purposes: [p.q]", "purposes: 42"), 3, 0,
			"purposes: expected a list of purpose names, e.g. [train_ai_system, train_ai_system.generative], found the number 42"},
		{"purposes a single name", sub("purposes: [p.q]", "purposes: p.q"), 3, 0, `expected a list of purpose names, e.g. [train_ai_system, train_ai_system.generative], found "p.q"`},
		{"purposes a mapping", sub("purposes: [p.q]", "purposes: { p: q }"), 3, 0, "found a mapping"},
		{"purposes nothing", sub("purposes: [p.q]", "purposes:"), 3, 0, "found nothing"},
		{"purposes empty list", sub("purposes: [p.q]", "purposes: []"), 3, 0, "expected at least one purpose, found an empty list"},
		{"empty purpose", sub("purposes: [p.q]", `purposes: [""]`), 3, 12, "purposes: expected a purpose name, found an empty name"},
		{"number among purposes", sub("purposes: [p.q]", "purposes: [p.q, 42]"), 3, 17, `purposes: expected a purpose name, found the number 42 (write "42" in quotes if it is meant as a name)`},
		{"boolean category", sub("categories: [c]", "categories: [c, true]"), 4, 17, "found the boolean true"},
		{"date category", sub("categories: [c]", "categories: [2024-01-01]"), 4, 0, "found the date 2024-01-01"},
		{"list in a list", sub("categories: [c]", "categories: [c, [d]]"), 4, 17, "categories: expected a category name, found a list"},
		{"alias", strictBase + "regions:\n  g: &a [DE]\n  h: *a\n", 11, 0, "aliases are not supported"},

		// Ids are mapping keys.
		{"recipients a list", sub("recipients:\n  r: { class: third_party }", "recipients: [r]"), 5, 0, "recipients: expected a mapping, found a list"},
		{"recipient id a number", sub("  r: {", "  42: {"), 6, 3, `recipients: expected a name as key, found the number 42 (write "42" in quotes`},
		{"empty recipient id", sub("  r: {", `  "": {`), 6, 0, "recipients: expected a name as key, found an empty name"},
		{"class a list", sub("{ class: third_party }", "{ class: [third_party] }"), 6, 0, "recipient r: class: expected a single value, found a list"},
		{"policy key not text", strictBase + "[a]: b\n", 9, 1, "policy: expected a key (one of announced_at, attributes"},

		// Regions.
		{"group a single code", strictBase + "regions:\n  g: DE\n", 10, 0, `regions.g: expected a list of region codes and groups, e.g. ["@EEA", GB], found "DE"`},
		{"group number", strictBase + "regions:\n  g: [DE, 1]\n", 10, 11, "regions.g: expected a region code or group, found the number 1"},
		{"empty group", strictBase + "regions:\n  g: []\n", 10, 0, "expected at least one region code or group"},
		{"empty code", strictBase + "regions:\n  g: [DE, \"\"]\n", 10, 11, "found an empty name"},

		// Attributes and their values.
		{"attribute values a single value", sub("tier: [free]", "tier: free"), 8, 0, `attributes.tier: expected a list of the values subjects may have, e.g. [free, premium], found "free"`},
		{"attribute without values", sub("tier: [free]", "tier: []"), 8, 0, "expected at least one value"},
		{"empty attribute value", sub("tier: [free]", `tier: [free, ""]`), 8, 16, "found an empty value"},
		{"attribute value a mapping", sub("tier: [free]", "tier: [free, { a: b }]"), 8, 16, "expected an attribute value, found a mapping"},
		{"value with or", sub("tier: [free]", `tier: [free, "free or premium"]`), 8, 16, `attributes.tier: value "free or premium": an attribute value may not contain " or "`},
		{"value with dot", sub("tier: [free]", `tier: [free, "free · premium"]`), 8, 16, `may not contain "·"`},
		{"value starting with not", sub("tier: [free]", `tier: [free, "not free"]`), 8, 0, `may not start with "not "`},
		{"value (absent)", sub("tier: [free]", `tier: [free, "(absent)"]`), 8, 0, "is what diff summaries say of subjects without the attribute"},
		{"value with spaces around", sub("tier: [free]", `tier: [free, " gold"]`), 8, 0, "may not start or end with a space"},
		{"value with a line break", sub("tier: [free]", `tier: [free, "a\nb"]`), 8, 0, "line break"},
		{"boolean not as JSON writes it", sub("tier: [free]", "tier: [free, True]"), 8, 16, `write true, or "True" in quotes`},
		{"number not as JSON writes it", sub("tier: [free]", "tier: [free, 0x1F]"), 8, 16, "the number 0x1F is not written as subject data writes numbers (JSON)"},

		// Rules.
		{"when purpose a number", rule("{ purpose: 42 }"), 12, 0, "rule x: purpose: expected a purpose, found the number 42"},
		{"when purpose empty", rule(`{ purpose: "" }`), 12, 0, "rule x: purpose: expected a purpose, found an empty name"},
		{"when region a list in a list", rule("{ region: [DE, [FR]] }"), 12, 0, "rule x: region: expected a region code or group, found a list"},
		{"when recipient a boolean", rule("{ recipient: [r, false] }"), 12, 0, "expected a recipient or class, found the boolean false"},
		{"when attribute value with or", rule(`{ tier: "free or paid" }`), 12, 0, `may not contain " or "`},
		{"when a list", strictBase + "rules:\n  - id: x\n    effect: deny\n    when: [purpose]\n", 12, 0, "rule x when: expected a mapping, found a list"},
		{"empty rule id", strictBase + "rules:\n  - id: \"\"\n    effect: deny\n", 10, 0, "rule id must not be empty"},
		{"rule id a boolean", strictBase + "rules:\n  - id: true\n    effect: deny\n", 10, 0, "rule id: expected a label, found the boolean true"},
		{"effect a list", strictBase + "rules:\n  - id: x\n    effect: [deny]\n", 11, 0, "rule x: effect must be deny or require_consent, found a list"},
		{"rules a mapping", strictBase + "rules:\n  x: { effect: deny }\n", 10, 0, "rules: expected a list of rules, found a mapping"},

		// The rest.
		{"version a boolean", sub("version: v", "version: true"), 1, 0, "version: expected a label, found the boolean true"},
		{"version a list", sub("version: v", "version: [v]"), 1, 0, "version: expected a single value, found a list"},
		{"default a boolean", strictBase + "defaults:\n  p: true\n", 10, 0, "defaults.p: expected granted or denied, found the boolean true"},
		{"gpc a single class", strictBase + "gpc: third_party\n", 9, 0, `gpc: expected a list of recipient classes or purposes, e.g. [affiliate, third_party], found "third_party"`},
		{"gpc empty entry", strictBase + "gpc: [\"\"]\n", 9, 7, "gpc: expected a recipient class or purpose, found an empty name"},
		{"describe words a number", strictBase + "describe:\n  p.q: 42\n", 10, 0, "describe p.q: expected the words members read for it, found the number 42"},
		{"describe key a number", strictBase + "describe:\n  42: Forty-two\n", 10, 0, "describe: expected a name as key, found the number 42"},
		{"notice a list", strictBase + "notice: [https://example.com]\n", 9, 0, "notice: expected the http or https address where members read this version, found a list"},
		{"min_notice a list", strictBase + "min_notice: [30d]\n", 9, 0, "min_notice: expected a single value, found a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Parse("f.yaml", []byte(c.src))
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want *InvalidError", err)
			}
			for _, p := range inv.Problems {
				if strings.Contains(p.Msg, c.msg) && (c.line == 0 || p.Line == c.line) && (c.col == 0 || p.Column == c.col) && p.File == "f.yaml" {
					return
				}
			}
			t.Fatalf("problems %v: none at line %d column %d containing %q", inv.Problems, c.line, c.col, c.msg)
		})
	}
}

// TestParseRefusesRootCauseFirst: a declaration of the wrong type is the
// first problem said, before the rules it leaves undeclared.
func TestParseRefusesRootCauseFirst(t *testing.T) {
	src := strings.Replace(rule("{ purpose: p.q }"), "purposes: [p.q]", "purposes: 42", 1)
	_, _, err := Parse("f.yaml", []byte(src))
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("err = %v", err)
	}
	if got := inv.Error(); !strings.HasPrefix(got, "f.yaml:3: purposes: expected a list of purpose names") {
		t.Errorf("error %q does not start with the declaration's line", got)
	}
	// A column where it helps.
	_, _, err = Parse("f.yaml", []byte(strings.Replace(strictBase, "[p.q]", "[p.q, 42]", 1)))
	if got := err.Error(); !strings.HasPrefix(got, "f.yaml:3:17: purposes: expected a purpose name, found the number 42") {
		t.Errorf("error %q", got)
	}
}

// TestParseStrictAccepts: what the strict reading still takes.
func TestParseStrictAccepts(t *testing.T) {
	src := "\ufeff---\n# a comment\nversion: 2024-09-18\neffective_from: \"2024-01-01T00:00:00Z\"\n" +
		"purposes: [\"42\", p.q]\ncategories: [c]\nrecipients:\n  r: { class: third_party }\n" +
		"regions:\n  north: [NO, SE, \"@EU\"]\n" +
		"attributes:\n  level: [1, 2.5, -3, 1e3]\n  verified: [true, false]\n  plan: [\"yes\", no, \"true\"]\n" +
		"rules:\n  - id: 1\n    effect: deny\n    when: { purpose: p, region: [north, unknown], level: 1, verified: true, plan: [no, \"true\"] }\n" +
		"...\n"
	d, _, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != "2024-09-18" || d.Rules[0].ID != "1" || d.Purposes[0] != "42" {
		t.Errorf("version %q, rule %q, purposes %v", d.Version, d.Rules[0].ID, d.Purposes)
	}
	want := []Attribute{{"level", []string{"1", "2.5", "-3", "1e3"}}, {"verified", []string{"true", "false"}}, {"plan", []string{"yes", "no", "true"}}}
	if !reflect.DeepEqual(d.Attributes, want) {
		t.Errorf("attributes %v, want %v", d.Attributes, want)
	}
	if a := d.Rules[0].When.Attrs; len(a) != 3 || a[0].Values[0] != "1" || a[1].Values[0] != "true" {
		t.Errorf("conditions %+v", a)
	}
	if _, err := Compile(d); err != nil {
		t.Fatal(err)
	}
}

// TestParsePublished: a version stored before the strict reading still
// reads as it did; the same file is refused for publishing now.
func TestParsePublished(t *testing.T) {
	for _, c := range []struct {
		name, src string
		check     func(*Document) bool
	}{
		{"purposes a number", strings.Replace(strictBase, "[p.q]", "42", 1), func(d *Document) bool { return d.Purposes[0] == "42" }},
		{"second document", strictBase + "---\nversion: w\n", func(d *Document) bool { return d.Version == "v" }},
		{"empty purpose", strings.Replace(strictBase, "[p.q]", `[p.q, ""]`, 1), func(d *Document) bool { return len(d.Purposes) == 2 }},
		{"value with or", strings.Replace(strictBase, "[free]", `[free, "free or paid"]`, 1), func(d *Document) bool { return d.Attributes[0].Values[1] == "free or paid" }},
		{"single gpc", strictBase + "gpc: third_party\n", func(d *Document) bool { return d.GPC[0] == "third_party" }},
		{"boolean as a name", strings.Replace(strictBase, "[c]", "[c, true]", 1), func(d *Document) bool { return d.Categories[1] == "true" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := Parse("f.yaml", []byte(c.src)); err == nil {
				t.Error("Parse accepts it")
			}
			d, _, err := ParsePublished("f.yaml", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(d) {
				t.Errorf("read as %+v", d)
			}
		})
	}
	// Every other check still applies.
	if _, _, err := ParsePublished("f.yaml", []byte(strictBase+"colour: blue\n")); err == nil {
		t.Error("ParsePublished accepts an unknown key")
	}
}
