package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/region"
)

// A diff's summary line names, for one change, in this order: the
// recipients, the purposes, the categories, the regions, the attribute
// values and roles where not every one is in, and the consent states:
//
//	widening:  to affiliates, partner-x · train_ai_system and below · every category except user.content.private and below · every region except strict, unknown · consent none (144 cells)
//
// Each set is read the same way, and says exactly the change's values:
//
//   - "every purpose" is the whole of the diff's domain, "every purpose
//     except A, B" all of it but A and B, "A, B" just A and B;
//   - a purpose or category "X and below" is X and every descendant of it
//     in the domain, "X itself" is X without its descendants, and a bare
//     "X" has no descendant in the domain;
//   - a region is a code (with its subdivisions), a region group (with
//     every code of it: the policy's groups, @EU, @EEA, each named only
//     when every version that defines it defines it alike; Diff.RegionGroups
//     lists those named), or unknown (no region); "every region" includes
//     unknown, and "A, B except C" is A and B without C;
//   - "tier premium or (absent)" are attribute values, "tier not premium"
//     every value but one (absent included); roles read "as author" or
//     "except as mentioned"; consent "consent none or granted", "consent not
//     denied" or "any consent".

// cset is a set of small integers.
type cset []uint64

func newCset(n int) cset            { return make(cset, (n+63)/64) }
func (s cset) set(i int)            { s[i/64] |= 1 << (i % 64) }
func (s cset) has(i int) bool       { return s[i/64]&(1<<(i%64)) != 0 }
func (s cset) or(o cset)            { s.each(o, func(a, b uint64) uint64 { return a | b }) }
func (s cset) andNot(o cset) cset   { return s.with(o, func(a, b uint64) uint64 { return a &^ b }) }
func (s cset) and(o cset) cset      { return s.with(o, func(a, b uint64) uint64 { return a & b }) }
func (s cset) subsetOf(o cset) bool { return s.andNot(o).empty() }

func (s cset) each(o cset, f func(a, b uint64) uint64) {
	for i := range s {
		s[i] = f(s[i], o[i])
	}
}

func (s cset) with(o cset, f func(a, b uint64) uint64) cset {
	out := slices.Clone(s)
	out.each(o, f)
	return out
}

func (s cset) empty() bool {
	for _, w := range s {
		if w != 0 {
			return false
		}
	}
	return true
}

// regionUnit is a name a summary may use for regions: a group or a code,
// and the codes of the region universe it stands for.
type regionUnit struct {
	name  string
	group bool
	codes cset
}

// summarizer writes a diff's changes and region classes.
type summarizer struct {
	d        *Diff
	universe []string // region codes, "" (no region) last
	classOf  []int    // universe index → region class
	groups   []regionUnit
	code     []regionUnit // per universe index
	named    map[string][]string
	docs     []*Document // NEW, then OLD
}

func newSummarizer(d *Diff, universe []string, classOf []int) *summarizer {
	s := &summarizer{d: d, universe: universe, classOf: classOf, named: map[string][]string{}, docs: []*Document{d.newT.Doc, d.oldT.Doc}}
	n := len(universe)
	known := len(universe) - 1 // "" is last
	for i, c := range universe[:known] {
		u := regionUnit{name: c, codes: newCset(n)}
		for j := i; j < known && region.Covers(c, universe[j]); j++ {
			u.codes.set(j)
		}
		s.code = append(s.code, u)
	}
	unknown := regionUnit{name: region.Unknown, codes: newCset(n)}
	unknown.codes.set(known)
	s.code = append(s.code, unknown)

	at := map[string]int{}
	for i, c := range universe {
		at[c] = i
	}
	var names []string
	for _, doc := range s.docs {
		names = append(names, doc.GroupOrder...)
	}
	for _, name := range union(names, []string{"@EEA", "@EU"}) {
		var def []string
		alike := true
		for _, doc := range s.docs {
			codes, ok := doc.Groups[name]
			if !ok {
				continue
			}
			codes = sortedSet(codes)
			if def != nil && !slices.Equal(def, codes) {
				alike = false
			}
			def = codes
		}
		if def == nil {
			def = sortedSet(region.Groups[name])
		}
		if !alike || len(def) == 0 {
			continue
		}
		u := regionUnit{name: name, group: true, codes: newCset(n)}
		for _, c := range def {
			u.codes.or(s.code[at[c]].codes)
		}
		s.groups = append(s.groups, u)
		s.named[name] = def
	}
	return s
}

func sortedSet(codes []string) []string {
	out := union(codes, nil)
	sort.Strings(out)
	return out
}

// classSet is the universe codes of some region classes.
func (s *summarizer) classSet(classes []int) cset {
	set := newCset(len(s.universe))
	for i, c := range s.classOf {
		if slices.Contains(classes, c) {
			set.set(i)
		}
	}
	return set
}

// regionUnits names a set of universe codes: units whose union, less the
// codes in except (subdivisions only), is exactly set.
func (s *summarizer) regionUnits(set cset) (include []regionUnit, except []string) {
	covered := newCset(len(s.universe))
	excluded := newCset(len(s.universe))
	isSub := func(i int) bool { return strings.Contains(s.universe[i], "-") }
	// usable: the unit's codes outside set are subdivisions alone.
	usable := func(u regionUnit) (in, out cset, ok bool) {
		in, out = u.codes.and(set), u.codes.andNot(set)
		for i := range s.universe {
			if out.has(i) && !isSub(i) {
				return nil, nil, false
			}
		}
		return in, out, !in.empty()
	}
	for {
		best, bestGain := -1, 1 // a group must say more than a code would
		for gi, g := range s.groups {
			in, _, ok := usable(g)
			if !ok {
				continue
			}
			gain := 0
			for i := range s.universe {
				if in.has(i) && !covered.has(i) {
					gain++
				}
			}
			if gain > bestGain {
				best, bestGain = gi, gain
			}
		}
		if best < 0 {
			break
		}
		in, out, _ := usable(s.groups[best])
		include = append(include, s.groups[best])
		covered.or(in)
		excluded.or(out)
	}
	for pass := 0; pass < 2; pass++ { // countries first, then subdivisions left over
		for i := range s.universe {
			if !set.has(i) || covered.has(i) || isSub(i) != (pass == 1) {
				continue
			}
			in, out, _ := usable(s.code[i])
			include = append(include, s.code[i])
			covered.or(in)
			excluded.or(out)
		}
	}
	for i := range s.universe {
		if excluded.has(i) {
			except = append(except, s.universe[i])
		}
	}
	// Groups first, then codes in order, unknown last.
	sort.SliceStable(include, func(a, b int) bool {
		ka, kb := unitRank(include[a]), unitRank(include[b])
		if ka != kb {
			return ka < kb
		}
		return !include[a].group && include[a].name < include[b].name
	})
	return include, except
}

func unitNames(us []regionUnit) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.name)
	}
	return out
}

func unitRank(u regionUnit) int {
	switch {
	case u.group:
		return 0
	case u.name == region.Unknown:
		return 2
	}
	return 1
}

// regionText says a set of universe codes; words writes unknown for people.
func (s *summarizer) regionText(set cset, words bool) string {
	name := func(u regionUnit) string {
		if words && u.name == region.Unknown {
			return "no region (unknown)"
		}
		return u.name
	}
	join := func(us []regionUnit) string {
		var parts []string
		for _, u := range us {
			parts = append(parts, name(u))
		}
		return strings.Join(parts, ", ")
	}
	all := newCset(len(s.universe))
	for i := range s.universe {
		all.set(i)
	}
	rest := all.andNot(set)
	if rest.empty() {
		return "every region"
	}
	inc, exc := s.regionUnits(set)
	text, used := join(inc), inc
	if len(exc) > 0 {
		text += " except " + strings.Join(exc, ", ")
	}
	if cinc, cexc := s.regionUnits(rest); len(cexc) == 0 {
		// Which is shorter is judged with ids, so both forms agree.
		idText := func(us []regionUnit) int { return len(strings.Join(unitNames(us), ", ")) }
		plain := idText(inc)
		if len(exc) > 0 {
			plain += len(" except " + strings.Join(exc, ", "))
		}
		if len("every region except ")+idText(cinc) < plain {
			text, used = "every region except "+join(cinc), cinc
		}
	}
	for _, u := range used {
		if u.group {
			s.d.nameGroup(u.name, s.named[u.name])
		}
	}
	return text
}

func (d *Diff) nameGroup(name string, codes []string) {
	for _, g := range d.RegionGroups {
		if g.Name == name {
			return
		}
	}
	d.RegionGroups = append(d.RegionGroups, RegionGroup{Name: name, Codes: codes})
}

func (s *summarizer) groupsNamed() []RegionGroup {
	gs := s.d.RegionGroups
	sort.Slice(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name })
	if gs == nil {
		gs = []RegionGroup{}
	}
	return gs
}

// words returns a name as people read it: its describe words with the
// name beside them, else the name.
func (s *summarizer) words(name, shown string) string {
	for _, doc := range s.docs {
		if w := doc.Words(name); w != "" {
			return w + " (" + shown + ")"
		}
	}
	return shown
}

// hierText says a set of a hierarchy's domain: "every purpose", "every
// purpose except …" or a list, whichever is shorter with ids (the words
// form says the same, in words).
func (s *summarizer) hierText(domain []string, in []bool, noun string, words bool) string {
	var out []bool
	for _, x := range in {
		out = append(out, !x)
	}
	if !slices.Contains(out, true) {
		return "every " + noun
	}
	if c := "every " + noun + " except " + s.hierUnits(domain, out, false); len(c) < len(s.hierUnits(domain, in, false)) {
		return "every " + noun + " except " + s.hierUnits(domain, out, words)
	}
	return s.hierUnits(domain, in, words)
}

// hierUnits lists a set of a hierarchy's domain with whole subtrees as
// "X and below", in domain order.
func (s *summarizer) hierUnits(domain []string, in []bool, words bool) string {
	byDepth := make([]int, len(domain))
	for i := range byDepth {
		byDepth[i] = i
	}
	sort.SliceStable(byDepth, func(a, b int) bool {
		return strings.Count(domain[byDepth[a]], ".") < strings.Count(domain[byDepth[b]], ".")
	})
	covered := make([]bool, len(domain))
	unit := make([]string, len(domain))
	for _, i := range byDepth {
		if !in[i] || covered[i] {
			continue
		}
		var sub []int
		whole := true
		for j, y := range domain {
			if IsAncestorOrSelf(domain[i], y) {
				sub = append(sub, j)
				whole = whole && in[j]
			}
		}
		switch {
		case len(sub) == 1:
			unit[i] = domain[i]
		case whole:
			unit[i] = domain[i] + " and below"
			for _, j := range sub {
				covered[j] = true
			}
		default:
			unit[i] = domain[i] + " itself"
		}
		covered[i] = true
		if words {
			unit[i] = s.words(domain[i], unit[i])
		}
	}
	var parts []string
	for _, u := range unit {
		if u != "" {
			parts = append(parts, u)
		}
	}
	return strings.Join(parts, listSep(words))
}

// listSep separates the items of a list: words may hold commas.
func listSep(words bool) string {
	if words {
		return "; "
	}
	return ", "
}

// flatText says a set of names, "every X" or "every X except …" or a
// list, whichever is shorter with ids; shown are the names as written.
func flatText(ids, shown []string, in []bool, noun, sep string) string {
	var yes, no, yesShown, noShown []string
	for i, x := range ids {
		if in[i] {
			yes, yesShown = append(yes, x), append(yesShown, shown[i])
		} else {
			no, noShown = append(no, x), append(noShown, shown[i])
		}
	}
	if len(no) == 0 {
		return "every " + noun
	}
	if c := "every " + noun + " except " + strings.Join(no, ", "); len(c) < len(strings.Join(yes, ", ")) {
		return "every " + noun + " except " + strings.Join(noShown, sep)
	}
	return strings.Join(yesShown, sep)
}

// valuesText says a set of a small dimension's values: the values joined
// with " or " after lead, or "not" the one left out, whichever is shorter;
// "" when every value is in.
func valuesText(values []string, in []bool, lead, notLead string, canNot func(string) bool) string {
	var yes, no []string
	for i, v := range values {
		if in[i] {
			yes = append(yes, v)
		} else {
			no = append(no, v)
		}
	}
	if len(no) == 0 {
		return ""
	}
	text := lead + strings.Join(yes, " or ")
	if len(no) == 1 && canNot(no[0]) {
		if c := notLead + no[0]; len(c) < len(text) {
			text = c
		}
	}
	return text
}

const absentText = "(absent)"

// change turns a box into a change: its sets, its cells and its lines.
func (s *summarizer) change(b box) Change {
	d, l := s.d, &s.d.lay
	dom := &d.Domain
	c := Change{Widening: b.widening, Cells: b.cells(l), b: b}
	pick := func(names []string, dim int) []string {
		out := []string{}
		for _, i := range b.members(l, dim) {
			out = append(out, names[i])
		}
		return out
	}
	in := func(dim int) []bool {
		out := make([]bool, l.sizes[dim])
		for i := range out {
			out[i] = b.has(l, dim, i)
		}
		return out
	}
	c.Recipients = pick(recipientIDs(d.recipients), dimRecipient)
	c.Purposes = pick(dom.Purposes, dimPurpose)
	c.Categories = pick(dom.Categories, dimCategory)
	c.RegionClasses = b.members(l, dimRegion)
	for k, a := range dom.Attributes {
		av := AttrValues{Name: a.Name, Values: []string{}}
		for _, i := range b.members(l, dimAttr0+k) {
			if i == len(a.Values) {
				av.Absent = true
			} else {
				av.Values = append(av.Values, a.Values[i])
			}
		}
		c.Attributes = append(c.Attributes, av)
	}
	c.Roles = pick(dom.Roles, l.role())
	c.Consent = pick(dom.Consent, l.consent())
	if c.Attributes == nil {
		c.Attributes = []AttrValues{}
	}

	regions := s.classSet(c.RegionClasses)
	line := func(words bool) string {
		var f []string
		ids := recipientIDs(d.recipients)
		shown := ids
		if words {
			shown = nil
			for _, r := range ids {
				shown = append(shown, s.words(r, r))
			}
		}
		f = append(f, "to "+flatText(ids, shown, in(dimRecipient), "recipient", listSep(words)),
			s.hierText(dom.Purposes, in(dimPurpose), "purpose", words),
			s.hierText(dom.Categories, in(dimCategory), "category", words),
			s.regionText(regions, words))
		for k, a := range dom.Attributes {
			vals := append(slices.Clone(a.Values), absentText)
			if t := valuesText(vals, in(dimAttr0+k), a.Name+" ", a.Name+" not ", func(v string) bool { return v != absentText }); t != "" {
				f = append(f, t)
			}
		}
		if t := valuesText(dom.Roles, in(l.role()), "as ", "except as ", func(string) bool { return true }); t != "" {
			f = append(f, t)
		}
		if words {
			states := []string{"never chose", "agreed", "refused"}
			if t := valuesText(states, in(l.consent()), "members who ", "", func(string) bool { return false }); t != "" {
				f = append(f, t)
			} else {
				f = append(f, "whatever members chose")
			}
		} else if t := valuesText(dom.Consent, in(l.consent()), "consent ", "consent not ", func(string) bool { return true }); t != "" {
			f = append(f, t)
		} else {
			f = append(f, "any consent")
		}
		cells := fmt.Sprintf("(%d cells)", c.Cells)
		if c.Cells == 1 {
			cells = "(1 cell)"
		}
		lead := "narrowing: "
		if c.Widening {
			lead = "widening:  "
		}
		if words {
			lead = "No longer allowed: "
			if c.Widening {
				lead = "Newly allowed: "
			}
		}
		return lead + strings.Join(f, " · ") + " " + cells
	}
	c.Summary, c.Words = line(false), line(true)
	return c
}
