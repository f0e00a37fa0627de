package policy

import (
	"fmt"
	"strings"

	"github.com/consentgate/consentgate/internal/region"
)

// State is a subject's consent state for one purpose and recipient.
type State uint8

// Consent states. None means the subject never chose.
const (
	None State = iota
	Granted
	Denied
	numStates
)

func (s State) String() string {
	switch s {
	case Granted:
		return "granted"
	case Denied:
		return "denied"
	}
	return "none"
}

// Outcome is one possible result of a check in a version.
type Outcome struct {
	Allow  bool
	Reason string // e.g. "rule:premium-messages-stay-private", "default.granted"
	Rule   string // the rule id behind the reason, if any
	Line   int    // the rule's line in the policy file, if any
}

// Fixed outcomes follow the per-rule ones in Table.Outcomes.
const (
	outConsentDenied = iota
	outUndeclared
	outGranted
	outDefaultGranted
	outDefaultDenied
	numFixed
)

// MaxCells bounds a compiled table; a policy whose domain is larger is refused.
const MaxCells = 1 << 24

// Table is a policy version compiled over its finite domain. Every input
// dimension (purpose, category, recipient, region, attributes, role) is
// partitioned into classes of values that every rule, declaration and
// default treats alike; the table holds the outcome of SPEC §2.2 for every
// combination of classes and consent states, so a decision is one index
// computation and one load.
type Table struct {
	Doc      *Document
	Outcomes []Outcome

	purpose, category, recipient, regionD, role dim
	attrs                                       []dim

	purposeOf, purposeChild      map[string]int
	purposeRoot                  int
	categoryOf, categoryChild    map[string]int
	categoryRoot                 int
	recipientIdx                 map[string]int // declared id → index
	recipientOf                  []int          // (index or undeclared=len(ids))*3 + class → class id
	regionOf                     map[string]int
	regionUnknown, regionUnnamed int
	attrIdx                      map[string]int
	attrOf                       []map[string]int // per attribute: value → class
	attrAbsent                   []int
	attrRadix                    []int
	roleOf                       [numRoles]int
	nAttr                        int
	strideP, strideC, strideR    int
	strideS                      int
	cells                        []uint16
}

// dim collects the classes of one input dimension: each class is a match
// vector over the rules (true where the rule does not test this dimension or
// the value satisfies its test) and an extra byte (declared, default).
type dim struct {
	keys    map[string]int
	vectors [][]bool
	extra   []uint8
}

func (d *dim) add(vec []bool, extra uint8) int {
	if d.keys == nil {
		d.keys = map[string]int{}
	}
	var b strings.Builder
	b.WriteByte(extra)
	for _, v := range vec {
		if v {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	if id, ok := d.keys[b.String()]; ok {
		return id
	}
	id := len(d.vectors)
	d.keys[b.String()] = id
	d.vectors = append(d.vectors, vec)
	d.extra = append(d.extra, extra)
	return id
}

func (d *dim) n() int { return len(d.vectors) }

const (
	extraDeclared       = 1
	extraDefaultGranted = 2
)

// Compile builds the decision table of a validated document.
func Compile(doc *Document) (*Table, error) {
	t := &Table{Doc: doc}
	rules := doc.Rules
	for _, r := range rules {
		if r.Effect == Deny {
			t.Outcomes = append(t.Outcomes, Outcome{Reason: "rule:" + r.ID, Rule: r.ID, Line: r.Line})
		} else {
			t.Outcomes = append(t.Outcomes, Outcome{Reason: "consent.required:" + r.ID, Rule: r.ID, Line: r.Line})
		}
	}
	t.Outcomes = append(t.Outcomes,
		Outcome{Reason: "consent.denied"},
		Outcome{Reason: "consent.required:undeclared"},
		Outcome{Allow: true, Reason: "consent.granted"},
		Outcome{Allow: true, Reason: "default.granted"},
		Outcome{Reason: "default.denied"},
	)

	// Purposes and categories.
	hierVec := func(name string, sel func(Condition) []string) []bool {
		vec := make([]bool, len(rules))
		for i, r := range rules {
			list := sel(r.When)
			if list == nil {
				vec[i] = true
				continue
			}
			for _, q := range list {
				if IsAncestorOrSelf(q, name) {
					vec[i] = true
					break
				}
			}
		}
		return vec
	}
	defaultOf := func(p string) uint8 {
		if doc.DefaultGranted(p) {
			return extraDefaultGranted
		}
		return 0
	}
	selP := func(c Condition) []string { return c.Purposes }
	selC := func(c Condition) []string { return c.Categories }
	t.purposeOf, t.purposeChild = map[string]int{}, map[string]int{}
	for _, p := range doc.Purposes {
		vec := hierVec(p, selP)
		t.purposeOf[p] = t.purpose.add(vec, extraDeclared|defaultOf(p))
		t.purposeChild[p] = t.purpose.add(vec, defaultOf(p))
	}
	t.purposeRoot = t.purpose.add(hierVec("", selP), 0)
	t.categoryOf, t.categoryChild = map[string]int{}, map[string]int{}
	for _, c := range doc.Categories {
		vec := hierVec(c, selC)
		t.categoryOf[c] = t.category.add(vec, extraDeclared)
		t.categoryChild[c] = t.category.add(vec, 0)
	}
	t.categoryRoot = t.category.add(hierVec("", selC), 0)

	// Recipients: (declared id or undeclared) × the class the as-of version gives it.
	t.recipientIdx = map[string]int{}
	for i, r := range doc.Recipients {
		t.recipientIdx[r.ID] = i
	}
	for i := 0; i <= len(doc.Recipients); i++ {
		id := ""
		var extra uint8
		if i < len(doc.Recipients) {
			id, extra = doc.Recipients[i].ID, extraDeclared
		}
		for c := Class(0); c < numClasses; c++ {
			vec := make([]bool, len(rules))
			for k, r := range rules {
				if r.When.Recipients == nil {
					vec[k] = true
					continue
				}
				for _, x := range r.When.Recipients {
					if x == c.String() || (id != "" && x == id) {
						vec[k] = true
					}
				}
			}
			t.recipientOf = append(t.recipientOf, t.recipient.add(vec, extra))
		}
	}

	// Regions: every country, every code the document names, unknown.
	regionVec := func(code string) []bool {
		vec := make([]bool, len(rules))
		for i, r := range rules {
			vec[i] = r.When.Regions == nil || doc.regionMatches(r.When.Regions, code)
		}
		return vec
	}
	t.regionOf = map[string]int{}
	addRegion := func(code string) {
		if _, ok := t.regionOf[code]; !ok {
			t.regionOf[code] = t.regionD.add(regionVec(code), 0)
		}
	}
	for _, c := range region.Countries() {
		addRegion(c)
	}
	for _, codes := range doc.Groups {
		for _, c := range codes {
			addRegion(c)
		}
	}
	for _, r := range rules {
		for _, c := range r.When.Regions {
			if region.Validate(c) == nil {
				addRegion(c)
			}
		}
	}
	t.regionUnknown = t.regionD.add(regionVec(""), 0)
	t.regionUnnamed = t.regionD.add(regionVec("\x00unnamed"), 0)

	// Attributes: each declared value, and absent (or undeclared) which
	// matches no condition.
	t.attrIdx = map[string]int{}
	t.nAttr = 1
	for ai, a := range doc.Attributes {
		t.attrIdx[a.Name] = ai
		var dm dim
		vecFor := func(v string, present bool) []bool {
			vec := make([]bool, len(rules))
			for i, r := range rules {
				vec[i] = true
				for _, ac := range r.When.Attrs {
					if ac.Name != a.Name {
						continue
					}
					ok := false
					for _, x := range ac.Values {
						if present && x == v {
							ok = true
						}
					}
					vec[i] = vec[i] && ok
				}
			}
			return vec
		}
		of := map[string]int{}
		for _, v := range a.Values {
			of[v] = dm.add(vecFor(v, true), 0)
		}
		t.attrAbsent = append(t.attrAbsent, dm.add(vecFor("", false), 0))
		t.attrOf = append(t.attrOf, of)
		t.attrs = append(t.attrs, dm)
		t.attrRadix = append(t.attrRadix, dm.n())
		t.nAttr *= dm.n()
	}

	for ro := Role(0); ro < numRoles; ro++ {
		vec := make([]bool, len(rules))
		for i, r := range rules {
			if r.When.Roles == nil {
				vec[i] = true
			}
			for _, x := range r.When.Roles {
				if x == ro {
					vec[i] = true
				}
			}
		}
		t.roleOf[ro] = t.role.add(vec, 0)
	}

	nS := t.regionD.n() * t.nAttr
	t.strideS = t.role.n() * int(numStates)
	t.strideR = nS * t.strideS
	t.strideC = t.recipient.n() * t.strideR
	t.strideP = t.category.n() * t.strideC
	total := t.purpose.n() * t.strideP
	if total > MaxCells || total <= 0 {
		return nil, fmt.Errorf("%s: policy %s is too large to compile (%d cells; at most %d): fewer attribute values or rules would help",
			doc.File, doc.Version, total, MaxCells)
	}
	t.cells = make([]uint16, total)
	match := make([]bool, len(rules))
	attrCls := make([]int, len(doc.Attributes))
	i := 0
	for p := 0; p < t.purpose.n(); p++ {
		for c := 0; c < t.category.n(); c++ {
			for r := 0; r < t.recipient.n(); r++ {
				for s := 0; s < nS; s++ {
					rg := s / t.nAttr
					rest := s % t.nAttr
					for k := len(attrCls) - 1; k >= 0; k-- {
						attrCls[k] = rest % t.attrRadix[k]
						rest /= t.attrRadix[k]
					}
					for k := range rules {
						m := t.purpose.vectors[p][k] && t.category.vectors[c][k] &&
							t.recipient.vectors[r][k] && t.regionD.vectors[rg][k]
						for a := range attrCls {
							m = m && t.attrs[a].vectors[attrCls[a]][k]
						}
						match[k] = m
					}
					declared := t.purpose.extra[p]&extraDeclared != 0 &&
						t.category.extra[c]&extraDeclared != 0 && t.recipient.extra[r]&extraDeclared != 0
					defGranted := t.purpose.extra[p]&extraDefaultGranted != 0
					for ro := 0; ro < t.role.n(); ro++ {
						for st := State(0); st < numStates; st++ {
							t.cells[i] = uint16(t.evaluate(match, t.role.vectors[ro], declared, defGranted, st))
							i++
						}
					}
				}
			}
		}
	}
	return t, nil
}

// evaluate is SPEC §2.2 for one combination of classes.
func (t *Table) evaluate(match, role []bool, declared, defGranted bool, c State) int {
	rules := t.Doc.Rules
	n := len(rules)
	for k, r := range rules {
		if r.Effect == Deny && match[k] && role[k] {
			return k
		}
	}
	if c == Denied {
		return n + outConsentDenied
	}
	for k, r := range rules {
		if r.Effect == RequireConsent && match[k] && role[k] && c != Granted {
			return k
		}
	}
	if !declared && c != Granted {
		return n + outUndeclared
	}
	if c == Granted {
		return n + outGranted
	}
	if defGranted {
		return n + outDefaultGranted
	}
	return n + outDefaultDenied
}

// PurposeClass returns the class of a purpose name, declared or not.
func (t *Table) PurposeClass(p string) int {
	return hierClass(p, t.purposeOf, t.purposeChild, t.purposeRoot)
}

// CategoryClass returns the class of a category name, declared or not.
func (t *Table) CategoryClass(c string) int {
	return hierClass(c, t.categoryOf, t.categoryChild, t.categoryRoot)
}

func hierClass(name string, of, child map[string]int, root int) int {
	if c, ok := of[name]; ok {
		return c
	}
	for x, ok := Parent(name); ok; x, ok = Parent(x) {
		if c, ok := child[x]; ok {
			return c
		}
	}
	return root
}

// RecipientClass returns the class of a recipient id given the class the
// as-of version declares for it.
func (t *Table) RecipientClass(id string, c Class) int {
	i, ok := t.recipientIdx[id]
	if !ok {
		i = len(t.Doc.Recipients)
	}
	return t.recipientOf[i*int(numClasses)+int(c)]
}

// RegionClass returns the class of a region code ("" for no region).
func (t *Table) RegionClass(code string) int {
	if code == "" {
		return t.regionUnknown
	}
	if c, ok := t.regionOf[code]; ok {
		return c
	}
	if c, ok := t.regionOf[region.Country(code)]; ok {
		return c
	}
	return t.regionUnnamed
}

// NumAttrs is the number of attributes the version declares.
func (t *Table) NumAttrs() int { return len(t.Doc.Attributes) }

// AttrIndex returns the position of a declared attribute.
func (t *Table) AttrIndex(name string) (int, bool) {
	i, ok := t.attrIdx[name]
	return i, ok
}

// AttrClass returns the class of attribute i's value (present false for absent).
func (t *Table) AttrClass(i int, value string, present bool) int {
	if present {
		if c, ok := t.attrOf[i][value]; ok {
			return c
		}
	}
	return t.attrAbsent[i]
}

// SubjectClass combines a region class and the attribute classes (in
// declaration order) into one subject class.
func (t *Table) SubjectClass(regionClass int, attrClasses []int) int {
	s := 0
	for k, c := range attrClasses {
		s = s*t.attrRadix[k] + c
	}
	return regionClass*t.nAttr + s
}

// Index is the position of (purpose class, category class, recipient
// class, subject class, role, state) in the table.
func (t *Table) Index(p, c, r, s int, role Role, st State) int {
	return p*t.strideP + c*t.strideC + r*t.strideR + s*t.strideS + t.roleOf[role]*int(numStates) + int(st)
}

// Decide returns the outcome index of one check; Outcomes[i] describes it.
// It is a lookup: no allocation, no branching on the policy.
func (t *Table) Decide(p, c, r, s int, role Role, st State) int {
	return int(t.cells[t.Index(p, c, r, s, role, st)])
}

// Partial fixes the purpose and recipient classes of repeated decisions:
// DecidePartial(Partial(p, r), c, s, role, st) is Decide(p, c, r, s, role, st).
func (t *Table) Partial(p, r int) int { return p*t.strideP + r*t.strideR }

// DecidePartial is Decide with the purpose and recipient fixed by Partial.
func (t *Table) DecidePartial(base, c, s int, role Role, st State) int {
	return int(t.cells[base+c*t.strideC+s*t.strideS+t.roleOf[role]*int(numStates)+int(st)])
}

// Cells is the number of cells in the compiled table.
func (t *Table) Cells() int { return len(t.cells) }

// NumSubjectClasses is the number of subject classes (region classes ×
// attribute combinations).
func (t *Table) NumSubjectClasses() int { return t.regionD.n() * t.nAttr }

// NumAttrCombos is the number of attribute-combination classes.
func (t *Table) NumAttrCombos() int { return t.nAttr }

// AttrRadix is the number of classes of declared attribute k.
func (t *Table) AttrRadix(k int) int { return t.attrRadix[k] }
