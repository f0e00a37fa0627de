package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/region"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Diff is the exact difference between two versions' decisions (SPEC
// §2.5): every cell of the union of their domains whose decision changes
// is in exactly one of Changes.
type Diff struct {
	Old, New  string `json:"-"`
	Widening  int    `json:"widening_cells"`  // cells deny → allow
	Narrowing int    `json:"narrowing_cells"` // cells allow → deny
	Cells     int    `json:"cells"`           // cells of the domain: the product of its dimensions' sizes
	Notice    Notice `json:"notice"`
	// Changes are disjoint boxes of the domain that together are exactly
	// the changed cells, as few as the summary could make them, widening
	// first.
	Changes []Change `json:"changes"`
	// Domain is what the changes' sets are drawn from.
	Domain Domain `json:"domain"`
	// RegionGroups are the region groups the summaries and the region
	// classes' labels name, with the codes they stand for (the same in
	// every version that defines them).
	RegionGroups []RegionGroup `json:"region_groups"`
	// GPC is set when the versions' gpc lists differ: what a Global
	// Privacy Control signal records a refusal of changes, which no
	// decision cell shows (the signal's events are recorded, not decided).
	GPC *GPCChange `json:"gpc_change,omitempty"`

	oldT, newT *Table
	recipients []Recipient // with the class the diff decides them by
	lay        layout
	regionOf   map[[2]int]int // (old, new) table region classes → Domain.RegionClasses index
	index      [3]map[string]int
	attrIndex  []map[string]int // per attribute: value → index ("" absent)
}

// Change is one line of a diff's summary: the cells whose recipient,
// purpose, category, region class, attribute values, role and consent
// state are each in the change's sets, all of whose decisions change the
// same way. Its cells are the product of the sets: a set is never empty,
// and one that holds its dimension's every value is listed in full.
type Change struct {
	Widening bool `json:"widening"` // deny → allow; otherwise allow → deny
	Cells    int  `json:"cells"`
	// Summary is the line for an engineer, with ids (String); Words the
	// same line in the versions' describe words, each id beside them.
	Summary       string       `json:"summary"`
	Words         string       `json:"words"`
	Recipients    []string     `json:"recipients"`     // ids; their classes are in Domain.Recipients
	Purposes      []string     `json:"purposes"`       // names of Domain.Purposes (no descendants implied)
	Categories    []string     `json:"categories"`     // names of Domain.Categories (no descendants implied)
	RegionClasses []int        `json:"region_classes"` // indices into Domain.RegionClasses
	Attributes    []AttrValues `json:"attributes"`     // one per attribute of the domain, in its order
	Roles         []string     `json:"roles"`
	Consent       []string     `json:"consent"` // none, granted, denied

	b box
}

// String is the change's summary line.
func (c Change) String() string { return c.Summary }

// AttrValues is a set of values of one subject attribute: declared values,
// and (Absent) a subject without the attribute — or with a value neither
// version declares, which both decide as absent.
type AttrValues struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
	Absent bool     `json:"absent"`
}

// Domain is the union of two versions' domains the diff walks.
type Domain struct {
	Purposes      []string        `json:"purposes"`   // declared by either, with ancestors
	Categories    []string        `json:"categories"` // declared by either, with ancestors
	Recipients    []DiffRecipient `json:"recipients"`
	RegionClasses []RegionClass   `json:"region_classes"`
	Attributes    []AttrValues    `json:"attributes"` // every value either declares, and absent
	Roles         []string        `json:"roles"`
	Consent       []string        `json:"consent"`
}

// DiffRecipient is a recipient of a diff's domain with the class both
// versions are decided by (NEW's, else OLD's: the class at the as-of time).
type DiffRecipient struct {
	ID    string `json:"id"`
	Class string `json:"class"`
}

// RegionClass is a set of regions both versions treat alike: the codes
// of both versions' region universe in it (every country, and every code
// either names), and Unknown when it holds subjects with no region. A
// subject's region is in the class that lists its code, else in the one
// that lists its country's code.
type RegionClass struct {
	Label   string   `json:"label"`
	Codes   []string `json:"codes"`
	Unknown bool     `json:"unknown"`
}

// RegionGroup is a region group a summary names, with its codes.
type RegionGroup struct {
	Name  string   `json:"name"`
	Codes []string `json:"codes"`
}

// String reads "strict = @EEA, CA, CH, CN, GB, HK".
func (g RegionGroup) String() string { return g.Name + " = " + groupCodesText(g.Codes) }

// Notice is the notice check of SPEC §2.5.
type Notice struct {
	Required      bool           `json:"required"` // the change widens
	Violation     bool           `json:"violation"`
	EffectiveFrom timestamp.Time `json:"effective_from"`
	AnnouncedAt   timestamp.Time `json:"announced_at"`
	MinNotice     string         `json:"min_notice"`
	Due           timestamp.Time `json:"due"` // the earliest effective_from the notice allows
}

// Purposes returns the purposes of the diff's domain.
func (d *Diff) Purposes() []string { return d.Domain.Purposes }

// Recipients returns the recipients of the diff's domain, with the class it
// decides each by.
func (d *Diff) Recipients() []Recipient { return d.recipients }

// Covers reports whether a request falls in the change: its purpose,
// category, recipient id, region code ("" for none) and attributes, role
// and consent — as the diff's two tables see them. A purpose, category or
// recipient outside the diff's domain is in no change.
func (c Change) Covers(d *Diff, purpose, category, recipient, regionCode string, attrs map[string]string, role Role, st State) bool {
	for k, v := range []string{recipient, purpose, category} {
		i, ok := d.index[k][v]
		if !ok || !c.b.has(&d.lay, k, i) {
			return false
		}
	}
	rc, ok := d.regionClass(regionCode)
	if !ok || !c.b.has(&d.lay, dimRegion, rc) {
		return false
	}
	if !c.attrsMatch(d, attrs) {
		return false
	}
	return c.b.has(&d.lay, d.lay.role(), int(role)) && c.b.has(&d.lay, d.lay.consent(), int(st))
}

func (c Change) attrsMatch(d *Diff, attrs map[string]string) bool {
	for k, a := range d.Domain.Attributes {
		i, ok := d.attrIndex[k][attrs[a.Name]]
		if !ok {
			i = d.attrIndex[k][""]
		}
		if !c.b.has(&d.lay, dimAttr0+k, i) {
			return false
		}
	}
	return true
}

// regionClass returns the index of a region code's class ("" for none).
func (d *Diff) regionClass(code string) (int, bool) {
	i, ok := d.regionOf[[2]int{d.oldT.RegionClass(code), d.newT.RegionClass(code)}]
	return i, ok
}

// SubjectInWidening reports whether a subject with this region (code, ""
// for none), these attributes and this consent (consentOf a purpose and a
// recipient of the domain) falls in at least one widened combination.
func (d *Diff) SubjectInWidening(regionCode string, attrs map[string]string, consentOf func(purpose string, r Recipient) State) bool {
	rc, ok := d.regionClass(regionCode)
	if !ok {
		return false
	}
	for _, c := range d.Changes {
		if !c.Widening || !c.b.has(&d.lay, dimRegion, rc) || !c.attrsMatch(d, attrs) {
			continue
		}
		for _, p := range c.b.members(&d.lay, dimPurpose) {
			for _, r := range c.b.members(&d.lay, dimRecipient) {
				if c.b.has(&d.lay, d.lay.consent(), int(consentOf(d.Domain.Purposes[p], d.recipients[r]))) {
					return true
				}
			}
		}
	}
	return false
}

// MaxDiffCells bounds the domain a diff walks.
const MaxDiffCells = 50_000_000

// Compare computes the diff of two compiled versions over the union of
// their domains (SPEC §2.5): every purpose, category and recipient either
// declares, every region class of both, every combination of attribute
// values (each declared value, and absent), every role and every consent
// state. announced is when NEW was announced when it has no announced_at
// (the publication time; for two files, its effective_from).
// GPCChange is a change of the gpc list: the entries before and after.
type GPCChange struct {
	Old []string `json:"old"`
	New []string `json:"new"`
}

// String reads "gpc [train_ai_system] → [affiliate, third_party]".
func (g GPCChange) String() string {
	return "gpc [" + strings.Join(g.Old, ", ") + "] → [" + strings.Join(g.New, ", ") + "]"
}

func Compare(oldT, newT *Table, announced timestamp.Time) (*Diff, error) {
	o, n := oldT.Doc, newT.Doc
	d := &Diff{Old: o.Version, New: n.Version, Changes: []Change{}, oldT: oldT, newT: newT}
	og, ng := append([]string{}, o.GPC...), append([]string{}, n.GPC...)
	slices.Sort(og)
	slices.Sort(ng)
	if !slices.Equal(og, ng) {
		d.GPC = &GPCChange{Old: og, New: ng}
	}
	dom := &d.Domain

	dom.Purposes = union(o.Purposes, n.Purposes)
	dom.Categories = union(o.Categories, n.Categories)
	seen := map[string]bool{}
	for _, doc := range []*Document{n, o} {
		for _, r := range doc.Recipients {
			if !seen[r.ID] {
				seen[r.ID] = true
				d.recipients = append(d.recipients, r) // NEW's class first: the class at the as-of time
			}
		}
	}
	sort.Slice(d.recipients, func(i, j int) bool { return d.recipients[i].ID < d.recipients[j].ID })
	for _, r := range d.recipients {
		dom.Recipients = append(dom.Recipients, DiffRecipient{ID: r.ID, Class: r.Class.String()})
	}
	for k, names := range [][]string{recipientIDs(d.recipients), dom.Purposes, dom.Categories} {
		d.index[k] = map[string]int{}
		for i, x := range names {
			d.index[k][x] = i
		}
	}

	// Region classes: the coarsest partition on which both versions agree.
	universe := regionUniverse(o, n)
	d.regionOf = map[[2]int]int{}
	var classOf []int // universe index → class
	for _, c := range universe {
		k := [2]int{oldT.RegionClass(c), newT.RegionClass(c)}
		i, ok := d.regionOf[k]
		if !ok {
			i = len(dom.RegionClasses)
			d.regionOf[k] = i
			dom.RegionClasses = append(dom.RegionClasses, RegionClass{Codes: []string{}})
		}
		rc := &dom.RegionClasses[i]
		if c == "" {
			rc.Unknown = true
		} else {
			rc.Codes = append(rc.Codes, c)
		}
		classOf = append(classOf, i)
	}

	// Attributes: each declared value on either side, and absent.
	type attr struct {
		oi, ni int // index in each table, -1 if not declared there
	}
	var attrs []attr
	for _, name := range union(attrNames(o), attrNames(n)) {
		a := attr{oi: -1, ni: -1}
		var vals []string
		if i, ok := oldT.AttrIndex(name); ok {
			a.oi = i
			vals = append(vals, o.Attributes[i].Values...)
		}
		if i, ok := newT.AttrIndex(name); ok {
			a.ni = i
			vals = append(vals, n.Attributes[i].Values...)
		}
		attrs = append(attrs, a)
		av := AttrValues{Name: name, Values: union(vals, nil), Absent: true}
		dom.Attributes = append(dom.Attributes, av)
		idx := map[string]int{}
		for i, v := range av.Values {
			idx[v] = i
		}
		idx[""] = len(av.Values)
		d.attrIndex = append(d.attrIndex, idx)
	}
	for r := Role(0); r < numRoles; r++ {
		dom.Roles = append(dom.Roles, r.String())
	}
	for s := State(0); s < numStates; s++ {
		dom.Consent = append(dom.Consent, s.String())
	}

	sizes := []int{len(d.recipients), len(dom.Purposes), len(dom.Categories), len(dom.RegionClasses)}
	nAttr := 1
	for _, a := range dom.Attributes {
		sizes = append(sizes, len(a.Values)+1)
		nAttr *= len(a.Values) + 1
	}
	sizes = append(sizes, int(numRoles), int(numStates))
	total := 1
	for _, s := range sizes {
		total *= s
		if total > MaxDiffCells {
			break
		}
	}
	if total > MaxDiffCells {
		return nil, fmt.Errorf("the domain of %s and %s has more than %d cells, the most a diff walks", o.Version, n.Version, MaxDiffCells)
	}
	d.Cells = total
	d.lay = newLayout(sizes)

	// Walk every cell. The changed cells of one (recipient, purpose,
	// category, region class, attribute values) are at most nine (role ×
	// consent); they become boxes of roles × consent states at once.
	var boxes []box
	oAttrCls, nAttrCls := make([]int, 0, len(attrs)), make([]int, 0, len(attrs))
	vals := make([]int, len(attrs))
	regionPairs := make([][2]int, len(dom.RegionClasses))
	for k, i := range d.regionOf {
		regionPairs[i] = k
	}
	for ri, r := range d.recipients {
		or, nr := oldT.RecipientClass(r.ID, r.Class), newT.RecipientClass(r.ID, r.Class)
		for pi, p := range dom.Purposes {
			op, np := oldT.PurposeClass(p), newT.PurposeClass(p)
			for ci, c := range dom.Categories {
				oc, nc := oldT.CategoryClass(c), newT.CategoryClass(c)
				for gi, g := range regionPairs {
					for ai := 0; ai < nAttr; ai++ {
						rest := ai
						for k := len(attrs) - 1; k >= 0; k-- {
							vals[k] = rest % sizes[dimAttr0+k]
							rest /= sizes[dimAttr0+k]
						}
						oAttrCls, nAttrCls = oAttrCls[:0], nAttrCls[:0]
						for k, a := range attrs {
							v, present := "", vals[k] < len(dom.Attributes[k].Values)
							if present {
								v = dom.Attributes[k].Values[vals[k]]
							}
							if a.oi >= 0 {
								oAttrCls = append(oAttrCls, oldT.AttrClass(a.oi, v, present))
							}
							if a.ni >= 0 {
								nAttrCls = append(nAttrCls, newT.AttrClass(a.ni, v, present))
							}
						}
						os, ns := oldT.SubjectClass(g[0], oAttrCls), newT.SubjectClass(g[1], nAttrCls)
						var masks [2][numRoles]uint8 // [widening][role] → consent states that change
						changed := false
						for role := Role(0); role < numRoles; role++ {
							for st := State(0); st < numStates; st++ {
								oa := oldT.Outcomes[oldT.Decide(op, oc, or, os, role, st)].Allow
								na := newT.Outcomes[newT.Decide(np, nc, nr, ns, role, st)].Allow
								if oa == na {
									continue
								}
								w := 0
								if na {
									w = 1
									d.Widening++
								} else {
									d.Narrowing++
								}
								masks[w][role] |= 1 << st
								changed = true
							}
						}
						if !changed {
							continue
						}
						fixed := append([]int{ri, pi, ci, gi}, vals...)
						for w := range masks {
							for role, m := range masks[w] {
								if m == 0 {
									continue
								}
								done := false
								for j := 0; j < role; j++ {
									done = done || masks[w][j] == m
								}
								if done {
									continue
								}
								b := d.lay.newBox(w == 1, fixed)
								for r2 := role; r2 < int(numRoles); r2++ {
									if masks[w][r2] == m {
										b.set(&d.lay, d.lay.role(), r2)
									}
								}
								for st := 0; st < int(numStates); st++ {
									if m&(1<<st) != 0 {
										b.set(&d.lay, d.lay.consent(), st)
									}
								}
								boxes = append(boxes, b)
							}
						}
					}
				}
			}
		}
	}

	boxes = cover(boxes, &d.lay)
	s := newSummarizer(d, universe, classOf)
	for i := range dom.RegionClasses {
		dom.RegionClasses[i].Label = s.regionText(s.classSet([]int{i}), false)
	}
	for _, b := range boxes {
		d.Changes = append(d.Changes, s.change(b))
	}
	sort.SliceStable(d.Changes, func(i, j int) bool {
		a, b := d.Changes[i], d.Changes[j]
		if a.Widening != b.Widening {
			return a.Widening
		}
		if a.Cells != b.Cells {
			return a.Cells > b.Cells
		}
		return a.Summary < b.Summary
	})
	d.RegionGroups = s.groupsNamed()

	// The notice check.
	notice := max(o.MinNotice, n.MinNotice)
	d.Notice = Notice{Required: d.Widening > 0, EffectiveFrom: n.EffectiveFrom, AnnouncedAt: announced, MinNotice: formatDuration(notice)}
	if n.HasAnnounced {
		d.Notice.AnnouncedAt = n.AnnouncedAt
	}
	d.Notice.Due = d.Notice.AnnouncedAt + timestamp.Time(notice/time.Microsecond)
	d.Notice.Violation = d.Notice.Required && n.EffectiveFrom < d.Notice.Due
	return d, nil
}

// regionUniverse is every country, every code either version names (in a
// group or a rule), sorted, and "" (no region) last.
func regionUniverse(docs ...*Document) []string {
	codes := map[string]bool{}
	for _, c := range region.Countries() {
		codes[c] = true
	}
	for _, doc := range docs {
		for _, g := range doc.Groups {
			for _, c := range g {
				codes[c] = true
			}
		}
		for _, r := range doc.Rules {
			for _, c := range r.When.Regions {
				if region.Validate(c) == nil {
					codes[c] = true
				}
			}
		}
	}
	sorted := make([]string, 0, len(codes)+1)
	for c := range codes {
		sorted = append(sorted, c)
	}
	sort.Strings(sorted)
	return append(sorted, "")
}

func recipientIDs(rs []Recipient) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0d"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

// union returns the distinct strings of a then b, in order.
func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func attrNames(d *Document) []string {
	var out []string
	for _, a := range d.Attributes {
		out = append(out, a.Name)
	}
	return out
}

// groupCodesText writes a group's codes with the built-in groups they
// hold: "@EEA, CA, CH, CN, GB, HK".
func groupCodesText(codes []string) string {
	set := map[string]bool{}
	for _, c := range codes {
		set[c] = true
	}
	var parts []string
	for _, g := range []string{"@EEA", "@EU"} {
		all := true
		for _, c := range region.Groups[g] {
			all = all && set[c]
		}
		if all {
			parts = append(parts, g)
			for _, c := range region.Groups[g] {
				delete(set, c)
			}
			break
		}
	}
	rest := make([]string, 0, len(set))
	for c := range set {
		rest = append(rest, c)
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), ", ")
}
