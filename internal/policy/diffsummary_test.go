package policy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/region"
)

// The JSON of a diff as a client reads it.
type jsonDiff struct {
	Widening  int             `json:"widening_cells"`
	Narrowing int             `json:"narrowing_cells"`
	Cells     int             `json:"cells"`
	Notice    json.RawMessage `json:"notice"`
	Changes   []struct {
		Widening      bool     `json:"widening"`
		Cells         int      `json:"cells"`
		Summary       string   `json:"summary"`
		Words         string   `json:"words"`
		Recipients    []string `json:"recipients"`
		Purposes      []string `json:"purposes"`
		Categories    []string `json:"categories"`
		RegionClasses []int    `json:"region_classes"`
		Attributes    []struct {
			Name   string   `json:"name"`
			Values []string `json:"values"`
			Absent bool     `json:"absent"`
		} `json:"attributes"`
		Roles   []string `json:"roles"`
		Consent []string `json:"consent"`
	} `json:"changes"`
	Domain struct {
		Purposes   []string `json:"purposes"`
		Categories []string `json:"categories"`
		Recipients []struct {
			ID    string `json:"id"`
			Class string `json:"class"`
		} `json:"recipients"`
		RegionClasses []struct {
			Label   string   `json:"label"`
			Codes   []string `json:"codes"`
			Unknown bool     `json:"unknown"`
		} `json:"region_classes"`
		Attributes []struct {
			Name   string   `json:"name"`
			Values []string `json:"values"`
			Absent bool     `json:"absent"`
		} `json:"attributes"`
		Roles   []string `json:"roles"`
		Consent []string `json:"consent"`
	} `json:"domain"`
	RegionGroups []struct {
		Name  string   `json:"name"`
		Codes []string `json:"codes"`
	} `json:"region_groups"`
	GPCChange *struct {
		Old []string `json:"old"`
		New []string `json:"new"`
	} `json:"gpc_change"`
}

// cellKey names one cell of the domain, with a region code for its region
// class: purpose, category, recipient, code, attribute values ("" absent),
// role, consent.
func cellKey(p, c, r, code string, attrs []string, role, st string) string {
	return strings.Join([]string{p, c, r, code, strings.Join(attrs, ","), role, st}, "|")
}

// truth decides every cell of the two documents' domain by the reference
// reading of SPEC §2.2, for each of codes, and returns the changed cells:
// true for widening.
func truth(o, n *Document, codes []string) map[string]bool {
	purposes, categories := union(o.Purposes, n.Purposes), union(o.Categories, n.Categories)
	var recips []Recipient
	seen := map[string]bool{}
	for _, doc := range []*Document{n, o} {
		for _, r := range doc.Recipients {
			if !seen[r.ID] {
				seen[r.ID] = true
				recips = append(recips, r)
			}
		}
	}
	type attr struct {
		name string
		vals []string
	}
	var attrs []attr
	for _, name := range union(attrNames(o), attrNames(n)) {
		var vals []string
		for _, doc := range []*Document{o, n} {
			for _, a := range doc.Attributes {
				if a.Name == name {
					vals = append(vals, a.Values...)
				}
			}
		}
		attrs = append(attrs, attr{name, append(union(vals, nil), "")})
	}
	allowed := func(reason string) bool { return reason == "consent.granted" || reason == "default.granted" }
	out := map[string]bool{}
	var combo func(k int, vals []string)
	combo = func(k int, vals []string) {
		if k < len(attrs) {
			for _, v := range attrs[k].vals {
				combo(k+1, append(vals, v))
			}
			return
		}
		am := map[string]string{}
		for i, v := range vals {
			if v != "" {
				am[attrs[i].name] = v
			}
		}
		for _, p := range purposes {
			for _, c := range categories {
				for _, r := range recips {
					for _, code := range codes {
						for role := Role(0); role < numRoles; role++ {
							for st := State(0); st < numStates; st++ {
								q := Query{Purpose: p, Category: c, Recipient: r.ID, Class: r.Class, Region: code, Attrs: am, Role: role, Consent: st}
								if a, b := allowed(o.DecideDirect(q)), allowed(n.DecideDirect(q)); a != b {
									out[cellKey(p, c, r.ID, code, vals, role.String(), st.String())] = b
								}
							}
						}
					}
				}
			}
		}
	}
	combo(0, nil)
	return out
}

// jsonClassOf finds a code's region class as a client of the JSON would:
// the class listing the code, else its country's; the unknown class for "".
func jsonClassOf(j *jsonDiff, code string) int {
	for _, c := range []string{code, region.Country(code)} {
		for i, rc := range j.Domain.RegionClasses {
			if code == "" && rc.Unknown || code != "" && slices.Contains(rc.Codes, c) {
				return i
			}
		}
	}
	return -1
}

// cells lists the cells of a box given as sets, for each of codes whose
// region is in it; add reports a cell listed twice.
func expand(recips, purposes, categories []string, inRegion func(string) bool, codes []string, attrs [][]string, roles, consent []string, add func(string)) {
	var combo func(k int, vals []string)
	combo = func(k int, vals []string) {
		if k < len(attrs) {
			for _, v := range attrs[k] {
				combo(k+1, append(vals, v))
			}
			return
		}
		for _, p := range purposes {
			for _, c := range categories {
				for _, r := range recips {
					for _, code := range codes {
						if !inRegion(code) {
							continue
						}
						for _, role := range roles {
							for _, st := range consent {
								add(cellKey(p, c, r, code, vals, role, st))
							}
						}
					}
				}
			}
		}
	}
	combo(0, nil)
}

// said is what one summary line says, read back from its text.
type said struct {
	widening                         bool
	cells                            int
	recipients, purposes, categories []string
	region                           func(code string) bool
	attrs                            [][]string // per attribute of the domain; "" absent
	roles, consent                   []string
}

var cellsRe = regexp.MustCompile(` \((\d+) cells?\)$`)

// readSummary reads a summary line by the rules its doc comment gives,
// knowing only the domain's names and the documents' region groups.
func readSummary(line string, j *jsonDiff, groups func(string) ([]string, bool)) (said, error) {
	var s said
	body, ok := strings.CutPrefix(line, "widening:  ")
	if ok {
		s.widening = true
	} else if body, ok = strings.CutPrefix(line, "narrowing: "); !ok {
		return s, fmt.Errorf("no verdict")
	}
	m := cellsRe.FindStringSubmatch(body)
	if m == nil {
		return s, fmt.Errorf("no cell count")
	}
	s.cells, _ = strconv.Atoi(m[1])
	f := strings.Split(strings.TrimSuffix(body, m[0]), " · ")
	if len(f) < 5 {
		return s, fmt.Errorf("%d fields", len(f))
	}
	var ids []string
	for _, r := range j.Domain.Recipients {
		ids = append(ids, r.ID)
	}
	to, ok := strings.CutPrefix(f[0], "to ")
	if !ok {
		return s, fmt.Errorf("recipients %q", f[0])
	}
	var err error
	if s.recipients, err = readSet(to, ids, "recipient", func(u string) ([]string, error) { return one(u, ids) }); err != nil {
		return s, err
	}
	if s.purposes, err = readHier(f[1], j.Domain.Purposes, "purpose"); err != nil {
		return s, err
	}
	if s.categories, err = readHier(f[2], j.Domain.Categories, "category"); err != nil {
		return s, err
	}
	if s.region, err = readRegions(f[3], groups); err != nil {
		return s, err
	}
	s.roles, s.consent = j.Domain.Roles, j.Domain.Consent
	var given []string
	for _, a := range j.Domain.Attributes {
		s.attrs = append(s.attrs, append(slices.Clone(a.Values), ""))
	}
	last := f[len(f)-1]
	switch {
	case last == "any consent":
	case strings.HasPrefix(last, "consent not "):
		s.consent = without(j.Domain.Consent, strings.TrimPrefix(last, "consent not "))
	case strings.HasPrefix(last, "consent "):
		s.consent = strings.Split(strings.TrimPrefix(last, "consent "), " or ")
	default:
		return s, fmt.Errorf("consent %q", last)
	}
	for _, x := range f[4 : len(f)-1] {
		switch {
		case strings.HasPrefix(x, "except as "):
			s.roles = without(j.Domain.Roles, strings.TrimPrefix(x, "except as "))
			given = append(given, "role")
			continue
		case strings.HasPrefix(x, "as "):
			s.roles = strings.Split(strings.TrimPrefix(x, "as "), " or ")
			given = append(given, "role")
			continue
		}
		name, vals, _ := strings.Cut(x, " ")
		k := slices.IndexFunc(j.Domain.Attributes, func(a struct {
			Name   string   `json:"name"`
			Values []string `json:"values"`
			Absent bool     `json:"absent"`
		}) bool {
			return a.Name == name
		})
		if k < 0 || slices.Contains(given, name) {
			return s, fmt.Errorf("field %q", x)
		}
		given = append(given, name)
		if v, not := strings.CutPrefix(vals, "not "); not {
			s.attrs[k] = without(s.attrs[k], v)
			continue
		}
		s.attrs[k] = nil
		for _, v := range strings.Split(vals, " or ") {
			if v == absentText {
				v = ""
			} else if !slices.Contains(j.Domain.Attributes[k].Values, v) {
				return s, fmt.Errorf("value %q of %s", v, name)
			}
			s.attrs[k] = append(s.attrs[k], v)
		}
	}
	return s, nil
}

func without(list []string, x string) []string {
	out := slices.DeleteFunc(slices.Clone(list), func(y string) bool { return y == x })
	if len(out) != len(list)-1 {
		return nil
	}
	return out
}

func one(u string, names []string) ([]string, error) {
	if !slices.Contains(names, u) {
		return nil, fmt.Errorf("%q is not in the domain", u)
	}
	return []string{u}, nil
}

// readSet reads "every X", "every X except A, B" or "A, B", each item
// read by unit.
func readSet(text string, all []string, noun string, unit func(string) ([]string, error)) ([]string, error) {
	if text == "every "+noun {
		return all, nil
	}
	list, except := strings.CutPrefix(text, "every "+noun+" except ")
	var got []string
	for _, u := range strings.Split(list, ", ") {
		xs, err := unit(u)
		if err != nil {
			return nil, err
		}
		for _, x := range xs {
			if slices.Contains(got, x) {
				return nil, fmt.Errorf("%q said twice in %q", x, text)
			}
			got = append(got, x)
		}
	}
	if !except {
		return got, nil
	}
	return slices.DeleteFunc(slices.Clone(all), func(x string) bool { return slices.Contains(got, x) }), nil
}

// readHier reads a purpose or category set: "X and below" is X's subtree
// in the domain, "X itself" X alone (it has descendants), a bare X has none.
func readHier(text string, domain []string, noun string) ([]string, error) {
	below := func(x string) []string {
		var out []string
		for _, y := range domain {
			if IsAncestorOrSelf(x, y) {
				out = append(out, y)
			}
		}
		return out
	}
	return readSet(text, domain, noun, func(u string) ([]string, error) {
		if x, ok := strings.CutSuffix(u, " and below"); ok {
			if len(below(x)) < 2 {
				return nil, fmt.Errorf("%q has nothing below it", u)
			}
			return below(x), nil
		}
		if x, ok := strings.CutSuffix(u, " itself"); ok {
			if len(below(x)) < 2 {
				return nil, fmt.Errorf("%q has nothing below it", u)
			}
			return []string{x}, nil
		}
		if len(below(u)) != 1 {
			return nil, fmt.Errorf("a bare %q with descendants is ambiguous (or unknown)", u)
		}
		return []string{u}, nil
	})
}

// readRegions reads a region set as a test of a region code ("" none).
func readRegions(text string, groups func(string) ([]string, bool)) (func(string) bool, error) {
	units := func(list string) (func(string) bool, error) {
		var tests []func(string) bool
		for _, u := range strings.Split(list, ", ") {
			u := u
			switch codes, isGroup := groups(u); {
			case u == region.Unknown:
				tests = append(tests, func(c string) bool { return c == "" })
			case isGroup:
				tests = append(tests, func(c string) bool {
					return c != "" && slices.ContainsFunc(codes, func(g string) bool { return region.Covers(g, c) })
				})
			case region.Validate(u) == nil:
				tests = append(tests, func(c string) bool { return c != "" && region.Covers(u, c) })
			default:
				return nil, fmt.Errorf("region %q", u)
			}
		}
		return func(c string) bool { return slices.ContainsFunc(tests, func(t func(string) bool) bool { return t(c) }) }, nil
	}
	if text == "every region" {
		return func(string) bool { return true }, nil
	}
	if rest, ok := strings.CutPrefix(text, "every region except "); ok {
		out, err := units(rest)
		return func(c string) bool { return !out(c) }, err
	}
	list, exc, hasExc := strings.Cut(text, " except ")
	in, err := units(list)
	if err != nil || !hasExc {
		return in, err
	}
	out, err := units(exc)
	return func(c string) bool { return in(c) && !out(c) }, err
}

type diffPair struct {
	name, old, new string
	countries      bool // every country, not a sample of codes
}

func demoPolicies(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../demo/policies/*.yaml")
	slices.Sort(files)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if len(out) != 3 {
		t.Fatalf("the demo has %d policies", len(out))
	}
	return out
}

const mixedOld = `version: "m1"
effective_from: 2024-01-01T00:00:00Z
purposes: [train.gen, train.rank, serve]
categories: [post, msg.private, msg.group]
recipients:
  self: { class: first_party }
  aff:  { class: affiliate }
  p:    { class: third_party }
regions:
  strict: ["@EEA", GB]
  west: [US, CA]
attributes:
  tier: [free, premium]
  age: [minor, adult]
defaults:
  train: granted
rules:
  - id: strict
    effect: deny
    when: { purpose: train, region: strict }
  - id: minors
    effect: deny
    when: { age: minor }
  - id: msgs
    effect: require_consent
    when: { category: msg }
  - id: no-region
    effect: deny
    when: { region: unknown, purpose: train.rank }
`

// mixedNew widens (IS, LI and NO leave strict, serve on by default, minors
// in, messages to the platform itself) and narrows (CH joins strict,
// California for third parties, premium authors' private messages, a new
// trial tier, a recipient changing class) at once.
const mixedNew = `version: "m2"
effective_from: 2024-06-01T00:00:00Z
purposes: [train.gen, train.rank, serve]
categories: [post, msg.private, msg.group]
recipients:
  self: { class: first_party }
  aff:  { class: affiliate }
  p:    { class: affiliate }
  q:    { class: third_party }
regions:
  strict: ["@EU", GB, CH]
  west: [US, CA]
attributes:
  tier: [free, premium, trial]
  age: [minor, adult]
defaults:
  train: granted
  serve: granted
rules:
  - id: strict
    effect: deny
    when: { purpose: train, region: strict }
  - id: california
    effect: deny
    when: { region: US-CA, recipient: [affiliate, third_party] }
  - id: premium-msgs
    effect: deny
    when: { category: msg.private, tier: [premium, trial], role: author }
  - id: msgs
    effect: require_consent
    when: { category: msg, recipient: [affiliate, third_party] }
  - id: no-region
    effect: deny
    when: { region: unknown }
`

// TestDiffSummaryExact: over several policy pairs, the cells each summary
// line says (read back from its text) and the cells each change lists in
// the JSON are, each way, exactly the cells whose decision changes — by
// the reference reading of SPEC §2.2, region code by region code — with no
// cell said twice; and the demo's widening reads in at most 12 lines.
func TestDiffSummaryExact(t *testing.T) {
	demo := demoPolicies(t)
	pairs := []diffPair{
		{"demo 1→2", demo[0], demo[1], true},
		{"demo 2→3", demo[1], demo[2], true},
		{"demo 1→3", demo[0], demo[2], true},
		{"demo 3→2 (narrowing)", demo[2], demo[1], true},
		{"mixed", mixedOld, mixedNew, false},
		{"mixed, back", mixedNew, mixedOld, false},
		{"a region group alone", diffBase, strings.Replace(diffBase, "strict: [DE, FR]", "strict: [DE, ES-CT]", 1), true},
		{"attributes and roles", diffBase, strings.Replace(diffBase, "    when: { region: strict }",
			"    when: { region: strict }\n  - id: premium-authors\n    effect: deny\n    when: { tier: premium, role: [author, mentioned], category: msg }", 1), true},
		{"the same version", mixedOld, mixedOld, false},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 12; i++ {
		pairs = append(pairs, diffPair{fmt.Sprintf("random %d", i), randomPolicy(r), randomPolicy(r), false})
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			oldT, newT := compile(t, p.old), compile(t, p.new)
			d, err := Compare(oldT, newT, 0)
			if err != nil {
				t.Fatal(err)
			}
			o, n := oldT.Doc, newT.Doc
			codes := []string{"", "US", "US-TX", "US-CA", "CA", "JP", "BR", "DE", "DE-BY", "ES", "ES-CT", "FR", "IS", "NO", "LI", "CH", "GB", "CN", "GF"}
			if p.countries {
				codes = append(codes, region.Countries()...)
			}
			for _, doc := range []*Document{o, n} {
				for _, g := range doc.Groups {
					codes = append(codes, g...)
				}
			}
			codes = union(codes, nil)
			want := truth(o, n, codes)
			checkDiffJSON(t, d, codes, want)

			b, _ := json.Marshal(d)
			var j jsonDiff
			json.Unmarshal(b, &j)
			groups := func(name string) ([]string, bool) {
				var def []string
				for _, doc := range []*Document{n, o} {
					if g, ok := doc.Groups[name]; ok {
						if def != nil && !slices.Equal(sortedSet(g), def) {
							t.Errorf("the summary names %s, which the versions define differently", name)
						}
						def = sortedSet(g)
					}
				}
				return def, def != nil
			}
			got := map[string]bool{}
			for _, c := range d.Changes {
				s, err := readSummary(c.String(), &j, groups)
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				expand(s.recipients, s.purposes, s.categories, s.region, codes, s.attrs, s.roles, s.consent, func(k string) {
					if _, dup := got[k]; dup {
						t.Fatalf("cell %s is in two lines, the second %s", k, c)
					}
					got[k] = s.widening
				})
				if strings.Count(c.Words, " · ") != strings.Count(c.Summary, " · ") {
					t.Errorf("the words say other things than the summary:\n%s\n%s", c.Words, c.Summary)
				}
				if s.widening != c.Widening || s.cells != c.Cells {
					t.Errorf("%s: reads widening %v, %d cells", c, s.widening, s.cells)
				}
			}
			compareCells(t, "the summary lines", got, want)
			if strings.HasPrefix(p.name, "demo") {
				var lines []string
				for _, c := range d.Changes {
					lines = append(lines, c.String())
				}
				t.Logf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
				if len(lines) > 12 {
					t.Errorf("%d lines", len(lines))
				}
			}
		})
	}
}

// checkDiffJSON: the JSON's keys are snake_case, every change's cells are
// the product of its sets and listed once, the counts add up, and the
// cells it lists are want.
func checkDiffJSON(t *testing.T, d *Diff, codes []string, want map[string]bool) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	json.Unmarshal(b, &generic)
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("JSON key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("", generic)
	var j jsonDiff
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("the diff's JSON: %v", err)
	}
	size := len(j.Domain.Purposes) * len(j.Domain.Categories) * len(j.Domain.Recipients) * len(j.Domain.RegionClasses) * len(j.Domain.Roles) * len(j.Domain.Consent)
	for _, a := range j.Domain.Attributes {
		size *= len(a.Values) + 1
	}
	if size != j.Cells {
		t.Errorf("the domain has %d cells, the diff says %d", size, j.Cells)
	}
	got := map[string]bool{}
	classCells := map[string]bool{}
	widening, narrowing := 0, 0
	for _, c := range j.Changes {
		var attrs [][]string
		n := len(c.Recipients) * len(c.Purposes) * len(c.Categories) * len(c.RegionClasses) * len(c.Roles) * len(c.Consent)
		if len(c.Attributes) != len(j.Domain.Attributes) {
			t.Fatalf("%s: %d attributes, the domain %d", c.Summary, len(c.Attributes), len(j.Domain.Attributes))
		}
		for k, a := range c.Attributes {
			vals := slices.Clone(a.Values)
			if a.Absent {
				vals = append(vals, "")
			}
			if a.Name != j.Domain.Attributes[k].Name {
				t.Fatalf("%s: attribute %s where the domain has %s", c.Summary, a.Name, j.Domain.Attributes[k].Name)
			}
			attrs = append(attrs, vals)
			n *= len(vals)
		}
		if n != c.Cells || n == 0 {
			t.Errorf("%s: %d cells, the product of its sets %d", c.Summary, c.Cells, n)
		}
		if c.Widening {
			widening += n
		} else {
			narrowing += n
		}
		// By region class: no cell in two changes.
		classNames := make([]string, len(c.RegionClasses))
		for i, rc := range c.RegionClasses {
			classNames[i] = strconv.Itoa(rc)
		}
		expand(c.Recipients, c.Purposes, c.Categories, func(string) bool { return true }, classNames, attrs, c.Roles, c.Consent, func(k string) {
			if classCells[k] {
				t.Fatalf("cell %s in two changes", k)
			}
			classCells[k] = true
		})
		// By region code, as a client would find a code's class.
		inRegion := func(code string) bool { return slices.Contains(c.RegionClasses, jsonClassOf(&j, code)) }
		expand(c.Recipients, c.Purposes, c.Categories, inRegion, codes, attrs, c.Roles, c.Consent, func(k string) { got[k] = c.Widening })
	}
	if widening != j.Widening || narrowing != j.Narrowing {
		t.Errorf("the changes hold %d widening and %d narrowing cells, the diff says %d and %d", widening, narrowing, j.Widening, j.Narrowing)
	}
	compareCells(t, "the JSON", got, want)
}

func compareCells(t *testing.T, what string, got, want map[string]bool) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if bad++; bad <= 5 {
				t.Errorf("%s: cell %s (widening %v) is missing or the wrong way", what, k, w)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s: cell %s does not change", what, k)
			}
		}
	}
}
