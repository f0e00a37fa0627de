package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/region"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Any stands for every value of a dimension in a diff summary.
const Any = "any"

// Change is a group of cells of the decision domain whose decision the
// same way changes between two versions. Dimensions whose every value
// changes alike read Any.
type Change struct {
	Purpose   string   `json:"purpose"`
	Category  string   `json:"category"`
	Recipient string   `json:"recipient"` // "id (class)" or Any
	Region    string   `json:"region"`    // codes of a region class, "unknown", or Any
	Attrs     []string `json:"attributes"`
	Role      string   `json:"role"`
	Consent   string   `json:"consent"`
	Widening  bool     `json:"widening"` // deny → allow; otherwise allow → deny
	Cells     int      `json:"cells"`

	// For Covers: the region class as (old, new) classes, and the
	// attribute values in the diff's attribute order ("" absent); nil
	// when Any.
	regionPair *[2]int
	attrVals   []string
	attrNames  []string
}

// Covers reports whether a request falls in the change: its purpose,
// category, recipient id, region code ("" for none) and attributes, role
// and consent — as the diff's two tables see them.
func (c Change) Covers(d *Diff, purpose, category, recipient, regionCode string, attrs map[string]string, role Role, st State) bool {
	hier := func(field, v string) bool {
		if field == Any || field == v {
			return true
		}
		node, below := strings.CutSuffix(field, " and below")
		return below && IsAncestorOrSelf(node, v)
	}
	if !hier(c.Purpose, purpose) || !hier(c.Category, category) ||
		c.Role != Any && c.Role != role.String() || c.Consent != Any && c.Consent != st.String() {
		return false
	}
	if c.Recipient != Any && !strings.HasPrefix(c.Recipient, recipient+" (") {
		return false
	}
	if c.regionPair != nil && *c.regionPair != [2]int{d.oldT.RegionClass(regionCode), d.newT.RegionClass(regionCode)} {
		return false
	}
	for i, v := range c.attrVals {
		if attrs[c.attrNames[i]] != v {
			return false
		}
	}
	return true
}

func (c Change) String() string {
	parts := []string{}
	add := func(label, v string) {
		if v != Any {
			parts = append(parts, label+v)
		}
	}
	add("", c.Purpose)
	add("", c.Category)
	add("", c.Recipient)
	add("region ", c.Region)
	parts = append(parts, c.Attrs...)
	add("role ", c.Role)
	add("consent ", c.Consent)
	if len(parts) == 0 {
		parts = append(parts, "every use")
	}
	verdict := "allow → deny (narrowing)"
	if c.Widening {
		verdict = "deny → allow (widening)"
	}
	return strings.Join(parts, " × ") + ": " + verdict
}

// Notice is the notice check of SPEC §2.5.
type Notice struct {
	Required      bool           `json:"required"` // the change widens
	Violation     bool           `json:"violation"`
	EffectiveFrom timestamp.Time `json:"effective_from"`
	AnnouncedAt   timestamp.Time `json:"announced_at"`
	MinNotice     string         `json:"min_notice"`
	Due           timestamp.Time `json:"due"` // the earliest effective_from the notice allows
}

// Diff is the exact difference between two versions' decisions.
type Diff struct {
	Old, New  string   `json:"-"`
	Changes   []Change `json:"changes"`
	Widening  int      `json:"widening_cells"`
	Narrowing int      `json:"narrowing_cells"`
	Cells     int      `json:"cells"`
	Notice    Notice   `json:"notice"`

	oldT, newT *Table
	purposes   []string
	recipients []Recipient // with the class the diff decides them by
}

// Purposes and Recipients are the diff's domain of uses.
func (d *Diff) Purposes() []string { return d.purposes }

// Recipients returns the recipients of the diff's domain, with the class it
// decides each by.
func (d *Diff) Recipients() []Recipient { return d.recipients }

// SubjectInWidening reports whether a subject with this region (code, ""
// for none), these attributes and this consent (consentOf a purpose and a
// recipient of the domain) falls in at least one widened combination.
func (d *Diff) SubjectInWidening(regionCode string, attrs map[string]string, consentOf func(purpose string, r Recipient) State) bool {
	pair := [2]int{d.oldT.RegionClass(regionCode), d.newT.RegionClass(regionCode)}
	for _, c := range d.Changes {
		if !c.Widening || c.regionPair != nil && *c.regionPair != pair {
			continue
		}
		attrsMatch := true
		for i, v := range c.attrVals {
			attrsMatch = attrsMatch && attrs[c.attrNames[i]] == v
		}
		if !attrsMatch {
			continue
		}
		node, below := strings.CutSuffix(c.Purpose, " and below")
		for _, p := range d.purposes {
			if !(c.Purpose == Any || p == c.Purpose || below && IsAncestorOrSelf(node, p)) {
				continue
			}
			for _, r := range d.recipients {
				if c.Recipient != Any && c.Recipient != fmt.Sprintf("%s (%s)", r.ID, r.Class) {
					continue
				}
				if c.Consent == Any || consentOf(p, r).String() == c.Consent {
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
func Compare(oldT, newT *Table, announced timestamp.Time) (*Diff, error) {
	o, n := oldT.Doc, newT.Doc
	d := &Diff{Old: o.Version, New: n.Version, oldT: oldT, newT: newT}

	purposes := union(o.Purposes, n.Purposes)
	categories := union(o.Categories, n.Categories)
	d.purposes = purposes
	type recip struct {
		id    string
		class Class
	}
	var recips []recip
	seen := map[string]bool{}
	for _, doc := range []*Document{n, o} {
		for _, r := range doc.Recipients {
			if !seen[r.ID] {
				seen[r.ID] = true
				recips = append(recips, recip{r.ID, r.Class}) // NEW's class first: the class at the as-of time
			}
		}
	}
	sort.Slice(recips, func(i, j int) bool { return recips[i].id < recips[j].id })
	for _, r := range recips {
		d.recipients = append(d.recipients, Recipient{ID: r.id, Class: r.class})
	}

	// Region classes: the coarsest partition on which both versions agree.
	type rclass struct {
		o, n  int
		codes []string
	}
	var regions []*rclass
	byPair := map[[2]int]*rclass{}
	addRegion := func(code string) {
		k := [2]int{oldT.RegionClass(code), newT.RegionClass(code)}
		rc, ok := byPair[k]
		if !ok {
			rc = &rclass{o: k[0], n: k[1]}
			byPair[k] = rc
			regions = append(regions, rc)
		}
		rc.codes = append(rc.codes, code)
	}
	codes := map[string]bool{}
	for _, c := range region.Countries() {
		codes[c] = true
	}
	for _, doc := range []*Document{o, n} {
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
	sorted := make([]string, 0, len(codes))
	for c := range codes {
		sorted = append(sorted, c)
	}
	sort.Strings(sorted)
	for _, c := range sorted {
		addRegion(c)
	}
	addRegion("") // unknown

	// Attributes: each declared value on either side, and absent.
	type attr struct {
		name   string
		values []string // "" is absent
		oi, ni int      // index in each table, -1 if not declared there
	}
	var attrs []attr
	for _, name := range union(attrNames(o), attrNames(n)) {
		a := attr{name: name, oi: -1, ni: -1}
		var vals []string
		if i, ok := oldT.AttrIndex(name); ok {
			a.oi = i
			vals = append(vals, o.Attributes[i].Values...)
		}
		if i, ok := newT.AttrIndex(name); ok {
			a.ni = i
			vals = append(vals, n.Attributes[i].Values...)
		}
		a.values = append(union(vals, nil), "")
		attrs = append(attrs, a)
	}
	nAttr := 1
	for _, a := range attrs {
		nAttr *= len(a.values)
	}
	total := len(purposes) * len(categories) * len(recips) * len(regions) * nAttr * int(numRoles) * int(numStates)
	if total > MaxDiffCells {
		return nil, fmt.Errorf("the domain of %s and %s has %d cells, more than %d a diff walks", o.Version, n.Version, total, MaxDiffCells)
	}
	d.Cells = total

	// Walk every cell; keep the changed ones as index tuples.
	const dims = 7              // purpose, category, recipient, region, attrs (one combined), role, consent
	var changed [][dims + 1]int // last: 1 widening, 0 narrowing
	ocls, ncls := make([]int, len(attrs)), make([]int, len(attrs))
	var oAttrCls, nAttrCls []int
	for pi, p := range purposes {
		op, np := oldT.PurposeClass(p), newT.PurposeClass(p)
		for ci, c := range categories {
			oc, nc := oldT.CategoryClass(c), newT.CategoryClass(c)
			for ri, r := range recips {
				or, nr := oldT.RecipientClass(r.id, r.class), newT.RecipientClass(r.id, r.class)
				for gi, g := range regions {
					for ai := 0; ai < nAttr; ai++ {
						rest := ai
						oAttrCls, nAttrCls = ocls[:0], ncls[:0]
						vals := make([]int, len(attrs))
						for k := len(attrs) - 1; k >= 0; k-- {
							vals[k] = rest % len(attrs[k].values)
							rest /= len(attrs[k].values)
						}
						for k, a := range attrs {
							v := a.values[vals[k]]
							if a.oi >= 0 {
								oAttrCls = append(oAttrCls, oldT.AttrClass(a.oi, v, v != ""))
							}
							if a.ni >= 0 {
								nAttrCls = append(nAttrCls, newT.AttrClass(a.ni, v, v != ""))
							}
						}
						os, ns := oldT.SubjectClass(g.o, oAttrCls), newT.SubjectClass(g.n, nAttrCls)
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
								changed = append(changed, [dims + 1]int{pi, ci, ri, gi, ai, int(role), int(st), w})
							}
						}
					}
				}
			}
		}
	}

	// Summarise: collapse a dimension wherever every one of its values
	// changes alike, the others equal; -1 marks Any.
	sizes := [dims]int{len(purposes), len(categories), len(recips), len(regions), nAttr, int(numRoles), int(numStates)}
	counts := map[[dims + 1]int]int{}
	for _, c := range changed {
		counts[c]++
	}
	for _, dim := range []int{6, 5, 4, 3, 2, 1, 0} {
		groups := map[[dims + 1]int][]([dims + 1]int){}
		for c := range counts {
			k := c
			k[dim] = -2
			groups[k] = append(groups[k], c)
		}
		for k, members := range groups {
			if len(members) == sizes[dim] && sizes[dim] > 1 {
				sum := 0
				for _, m := range members {
					sum += counts[m]
					delete(counts, m)
				}
				k[dim] = -1
				counts[k] += sum
			}
		}
	}
	keys := make([][dims + 1]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		for x := dims; x >= 0; x-- {
			a, b := keys[i][x], keys[j][x]
			if x == dims {
				a, b = -a, -b // widening first
			}
			if a != b {
				return a < b
			}
		}
		return false
	})
	for _, k := range keys {
		ch := Change{Widening: k[dims] == 1, Cells: counts[k], Purpose: Any, Category: Any, Recipient: Any, Region: Any, Role: Any, Consent: Any}
		if k[0] >= 0 {
			ch.Purpose = purposes[k[0]]
		}
		if k[1] >= 0 {
			ch.Category = categories[k[1]]
		}
		if k[2] >= 0 {
			ch.Recipient = fmt.Sprintf("%s (%s)", recips[k[2]].id, recips[k[2]].class)
		}
		if k[3] >= 0 {
			ch.Region = regionLabel(regions[k[3]].codes, n, o)
			ch.regionPair = &[2]int{regions[k[3]].o, regions[k[3]].n}
		}
		if k[4] >= 0 {
			rest := k[4]
			vals := make([]int, len(attrs))
			for x := len(attrs) - 1; x >= 0; x-- {
				vals[x] = rest % len(attrs[x].values)
				rest /= len(attrs[x].values)
			}
			for x, a := range attrs {
				v := a.values[vals[x]]
				ch.attrVals = append(ch.attrVals, v)
				ch.attrNames = append(ch.attrNames, a.name)
				if v == "" {
					v = "(absent)"
				}
				ch.Attrs = append(ch.Attrs, a.name+"="+v)
			}
		}
		if k[5] >= 0 {
			ch.Role = Role(k[5]).String()
		}
		if k[6] >= 0 {
			ch.Consent = State(k[6]).String()
		}
		d.Changes = append(d.Changes, ch)
	}

	d.Changes = collapseTree(d.Changes, purposes, func(c *Change) *string { return &c.Purpose })
	d.Changes = collapseTree(d.Changes, categories, func(c *Change) *string { return &c.Category })

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

// regionLabel names a region class: a group of either version whose codes
// are exactly the class's countries, else the codes themselves.
func regionLabel(codes []string, docs ...*Document) string {
	if len(codes) == 1 && codes[0] == "" {
		return region.Unknown
	}
	var countries []string
	for _, c := range codes {
		if c != "" && !strings.Contains(c, "-") {
			countries = append(countries, c)
		}
	}
	all := region.Countries()
	for _, d := range docs {
		for _, name := range append(append([]string{}, d.GroupOrder...), "@EEA", "@EU") {
			var g []string
			for _, c := range union(d.Groups[name], nil) {
				if !strings.Contains(c, "-") {
					g = append(g, c)
				}
			}
			if len(g) == 0 {
				continue
			}
			if len(g) == len(countries) && strings.Join(sortedCopy(g), ",") == strings.Join(sortedCopy(countries), ",") {
				return name
			}
			if len(g)+len(countries) == len(all) && !overlaps(g, countries) {
				return "outside " + name
			}
		}
	}
	list := codes
	if len(list) > 8 {
		return strings.Join(list[:6], ", ") + fmt.Sprintf(", … (%d regions)", len(list))
	}
	return strings.Join(list, ", ")
}

func overlaps(a, b []string) bool {
	set := map[string]bool{}
	for _, x := range a {
		set[x] = true
	}
	for _, x := range b {
		if set[x] {
			return true
		}
	}
	return false
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
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

// collapseTree merges changes that differ only in one hierarchical
// dimension when they cover a whole subtree of it: "user.content and
// below" for user.content and all its descendants in the domain.
func collapseTree(changes []Change, domain []string, field func(*Change) *string) []Change {
	key := func(c Change) string {
		*field(&c) = ""
		c.Cells = 0
		return fmt.Sprintf("%v", c)
	}
	groups := map[string][]int{}
	var order []string
	for i, c := range changes {
		k := key(c)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var out []Change
	for _, k := range order {
		idx := groups[k]
		present := map[string]int{}
		for _, i := range idx {
			present[*field(&changes[i])] = i
		}
		covered := map[string]bool{}
		// Shallowest nodes first, so the largest subtree wins.
		nodes := append([]string(nil), domain...)
		sort.SliceStable(nodes, func(a, b int) bool { return strings.Count(nodes[a], ".") < strings.Count(nodes[b], ".") })
		for _, node := range nodes {
			if covered[node] {
				continue
			}
			if _, ok := present[node]; !ok {
				continue
			}
			var sub []string
			complete := true
			for _, x := range domain {
				if IsAncestorOrSelf(node, x) {
					sub = append(sub, x)
					if _, ok := present[x]; !ok {
						complete = false
					}
				}
			}
			if !complete || len(sub) < 2 {
				continue
			}
			merged := changes[present[node]]
			merged.Cells = 0
			for _, x := range sub {
				merged.Cells += changes[present[x]].Cells
				covered[x] = true
			}
			*field(&merged) = node + " and below"
			out = append(out, merged)
		}
		for _, i := range idx {
			if !covered[*field(&changes[i])] {
				out = append(out, changes[i])
			}
		}
	}
	return out
}
