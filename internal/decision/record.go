package decision

import (
	"fmt"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Fail-closed reasons of SPEC §2.4, in their order.
const (
	ReasonMalformed       = "record.malformed"
	ReasonCategoryUnknown = "category.unknown"
	ReasonFuture          = "record.future"
	ReasonSubjectUnknown  = "subject.unknown"
)

// Check names which of the two checks of SPEC §2.3 decided.
type Check uint8

// The checks.
const (
	NoCheck Check = iota
	Now
	Collection
)

func (c Check) String() string {
	switch c {
	case Now:
		return "now"
	case Collection:
		return "collection"
	}
	return ""
}

// SubjectRef is one subject on a record with its role. ID is raw bytes so
// the export can point into its input line.
type SubjectRef struct {
	ID   []byte
	Role policy.Role
	// Index is the subject's position in the plan's view, set by Decide
	// (-1 when the subject is unknown or was not reached).
	Index int
	hash  uint64 // set by Prefetch
}

// Record is what deciding needs of a record.
type Record struct {
	Category []byte
	Created  timestamp.Time
	Subjects []SubjectRef
}

// Result is a record's decision. For an excluded record, Reason is that of
// the first failing check and Subject, Role and Check say where it failed
// (Subject is empty and Check NoCheck for category.unknown and record.future).
type Result struct {
	Allow   bool
	Reason  string
	Subject []byte // the failing subject's id, pointing into the record
	Role    policy.Role
	Check   Check
}

// Plan is deciding prepared for one export: a view, a target and the
// versions, with every per-version class the records will need resolved
// once, so that deciding a record is lookups only.
type Plan struct {
	vs       *Versions
	view     *consent.View
	target   Target
	asOf     timestamp.Time
	asOfIdx  int
	pc, rc   []int
	region   [][]int   // [version][view region index] → region class
	attrSlot [][]int   // [version][declared attr] → view slot or -1
	attrCls  [][][]int // [version][declared attr][view value index] → class
	absent   [][]int   // [version][declared attr] → absent class
	// dense holds, per subject, stride words: its consent state (with a
	// flag for subjects whose region or attributes changed over time), then
	// for subjects with one state its class in each version. One record
	// check then touches one cache line per subject.
	dense    []uint16
	stride   int
	catIdx   map[string]int
	catNames []string // the as-of version's categories, by index
	catCls   [][]int  // [category][version]
	tables   []*policy.Table
	base     []int // per version, the table index part of the fixed purpose and recipient
	matcher  *consentMatcher
}

// NewPlan prepares deciding for purpose and recipient as of view.AsOf. The
// purpose must be a leaf of the as-of version's purpose tree and the
// recipient declared there (SPEC §2.3); otherwise NewPlan refuses.
func NewPlan(vs *Versions, view *consent.View, purpose, recipient string) (*Plan, error) {
	asOf := view.AsOf
	idx := vs.IndexAt(asOf)
	if idx == 0 {
		return nil, fmt.Errorf("no policy version is in force at %s: publish one with effective_from at or before it", asOf)
	}
	doc := vs.Table(idx).Doc
	class, ok := doc.RecipientClass(recipient)
	if !ok {
		return nil, fmt.Errorf("recipient %q is not declared by policy version %s in force at %s", recipient, doc.Version, asOf)
	}
	if !doc.DeclaresPurpose(purpose) {
		return nil, fmt.Errorf("purpose %q is not declared by policy version %s in force at %s", purpose, doc.Version, asOf)
	}
	if !doc.IsLeafPurpose(purpose) {
		return nil, fmt.Errorf("purpose %q is not a leaf of policy version %s: export for one of %v (a parent purpose would slip past rules and refusals on its children)",
			purpose, doc.Version, doc.LeafPurposes())
	}
	return newPlan(vs, view, Target{purpose, recipient, class}, true), nil
}

// newPlan prepares a plan; dense fills the per-subject rows that deciding
// records reads (CheckAt does without them).
func newPlan(vs *Versions, view *consent.View, t Target, dense bool) *Plan {
	p := &Plan{vs: vs, view: view, target: t, asOf: view.AsOf, asOfIdx: vs.IndexAt(view.AsOf)}
	slotOf := map[string]int{}
	for i, n := range view.AttrNames {
		slotOf[n] = i
	}
	n := vs.Len()
	p.pc, p.rc = make([]int, n), make([]int, n)
	p.region, p.attrSlot, p.attrCls, p.absent = make([][]int, n), make([][]int, n), make([][][]int, n), make([][]int, n)
	for v := 0; v < n; v++ {
		tb := vs.Table(v)
		p.pc[v] = tb.PurposeClass(t.Purpose)
		p.rc[v] = tb.RecipientClass(t.Recipient, t.Class)
		p.tables = append(p.tables, tb)
		p.base = append(p.base, tb.Partial(p.pc[v], p.rc[v]))
		p.region[v] = make([]int, len(view.Regions))
		for i, code := range view.Regions {
			p.region[v][i] = tb.RegionClass(code)
		}
		for k, a := range tb.Doc.Attributes {
			slot, ok := slotOf[a.Name]
			p.absent[v] = append(p.absent[v], tb.AttrClass(k, "", false))
			if !ok {
				p.attrSlot[v] = append(p.attrSlot[v], -1)
				p.attrCls[v] = append(p.attrCls[v], nil)
				continue
			}
			cls := make([]int, len(view.AttrValues[slot]))
			for i, val := range view.AttrValues[slot] {
				cls[i] = tb.AttrClass(k, val, i != 0)
			}
			p.attrSlot[v] = append(p.attrSlot[v], slot)
			p.attrCls[v] = append(p.attrCls[v], cls)
		}
	}
	p.catIdx = map[string]int{}
	for _, c := range vs.Table(p.asOfIdx).Doc.Categories {
		p.catIdx[c] = len(p.catCls)
		p.catNames = append(p.catNames, c)
		cls := make([]int, n)
		for v := 0; v < n; v++ {
			cls[v] = vs.Table(v).CategoryClass(c)
		}
		p.catCls = append(p.catCls, cls)
	}
	p.matcher = newConsentMatcher(vs, view, t)
	// Rows of a power-of-two size never straddle a cache line. A policy
	// with more subject classes than a uint16 holds takes the slow path
	// for every subject.
	p.stride = 1
	for p.stride < 1+n {
		p.stride *= 2
	}
	if !dense {
		return p
	}
	small := true
	for v := 0; v < n; v++ {
		tb := vs.Table(v)
		small = small && tb.NumSubjectClasses() <= 1<<16
	}
	p.dense = make([]uint16, view.Len()*p.stride)
	for s := 0; s < view.Len(); s++ {
		st, _ := p.matcher.state(view, s)
		row := p.dense[s*p.stride : (s+1)*p.stride]
		row[0] = uint16(st)
		if view.NumStates(s) > 1 || !small {
			row[0] |= multiState
			continue
		}
		state := view.StateAt(s, 0)
		for v := 0; v < n; v++ {
			row[1+v] = uint16(p.subjectClass(v, state))
		}
	}
	return p
}

// Target is what the plan decides for.
func (p *Plan) Target() Target { return p.target }

// View is the plan's view.
func (p *Plan) View() *consent.View { return p.view }

// Versions is the plan's policy history.
func (p *Plan) Versions() *Versions { return p.vs }

// subjectClass resolves a view state to its subject class in version v.
func (p *Plan) subjectClass(v, state int) int {
	return p.subjectClassSeen(v, state, nil)
}

// subjectClassSeen is subjectClass with the fields unseen marks (View.Unseen)
// taken as unset.
func (p *Plan) subjectClassSeen(v, state int, unseen []bool) int {
	tb := p.vs.Table(v)
	s := 0
	for k, slot := range p.attrSlot[v] {
		c := p.absent[v][k]
		if slot >= 0 && (unseen == nil || !unseen[1+slot]) {
			c = p.attrCls[v][k][p.view.StateAttr(state, slot)]
		}
		s = s*tb.AttrRadix(k) + c
	}
	region := p.view.StateRegion(state)
	if unseen != nil && unseen[0] {
		region = 0
	}
	return p.region[v][region]*tb.NumAttrCombos() + s
}

// check decides one subject in one version at one time; it returns the
// outcome index in that version's table.
func (p *Plan) check(v, cat, subj int, t timestamp.Time, role policy.Role) int {
	row := p.dense[subj*p.stride : subj*p.stride+p.stride]
	var sc int
	if row[0]&multiState == 0 {
		sc = int(row[1+v])
	} else {
		sc = p.subjectClass(v, p.view.StateAt(subj, t))
	}
	return p.tables[v].DecidePartial(p.base[v], p.catCls[cat][v], sc, role, policy.State(row[0]&3))
}

const multiState = 4

// category finds a category of the as-of version: a short scan beats a
// map for the handful a policy declares.
func (p *Plan) category(c []byte) (int, bool) {
	if len(p.catNames) > 16 {
		i, ok := p.catIdx[string(c)]
		return i, ok
	}
	for i, n := range p.catNames {
		if n == string(c) {
			return i, true
		}
	}
	return 0, false
}

// PlanFor prepares deciding a target again over a view without the checks
// NewPlan makes before an export starts: for re-deciding what an export
// included (impact), whose use a later version may no longer declare — a
// version that does not declare the purpose or the recipient then decides
// as SPEC §2.2 step 4 says. Deciding a whole record (Decide) needs a plan
// from NewPlan; PlanFor's serves CheckAt.
func PlanFor(vs *Versions, view *consent.View, t Target) *Plan {
	return newPlan(vs, view, t, false)
}

// CheckAt decides one subject's two checks for a record of category
// created at created, as of t (SPEC §2.3) — t may be any time up to the
// view's, and the decision sees the store as it stood at t: consent as it
// stood at t, the version in force at t with the subject's state at t
// (now), the version in force at created with the subject's state then
// (collection), where a field no event at or before t sets has no value.
// It returns the first failing check's outcome, or the collection check's
// when both allow. A category the version in force at t does not declare
// exactly fails closed (§2.4), reported with NoCheck and the reason
// category.unknown.
func (p *Plan) CheckAt(subj int, role policy.Role, category string, created, t timestamp.Time) (policy.Outcome, Check) {
	return p.CheckKnown(subj, role, category, created, t, t)
}

// CheckKnown is CheckAt with the subject's region and attributes as they
// stood at known (at most t) in the now check, and as known then in the
// collection check: what the policy and consent in force at t make of the
// subject as it was at known. Impact asks it whether the policy changed or
// the subject did.
func (p *Plan) CheckKnown(subj int, role policy.Role, category string, created, t, known timestamp.Time) (policy.Outcome, Check) {
	vNow := p.vs.IndexAt(t)
	if !p.vs.Table(vNow).Doc.DeclaresCategory(category) {
		return policy.Outcome{Reason: ReasonCategoryUnknown}, NoCheck
	}
	cs, _ := p.matcher.stateAt(p.view, subj, t)
	unseen := p.view.Unseen(subj, known)
	var o policy.Outcome
	for _, c := range [2]Check{Now, Collection} {
		v, at := vNow, known
		if c == Collection {
			v, at = p.vs.IndexAt(created), created
		}
		tb := p.vs.Table(v)
		sc := p.subjectClassSeen(v, p.view.StateAt(subj, at), unseen)
		o = tb.Outcomes[tb.DecidePartial(p.base[v], tb.CategoryClass(category), sc, role, cs)]
		if !o.Allow {
			return o, c
		}
	}
	return o, Collection
}

// DeniesMention reports whether a member mentioned in a record's text (by
// view position) does not allow this use: the record's checks for it, now
// and at collection, as a subject with the role mentioned. A category the
// as-of version does not declare denies.
func (p *Plan) DeniesMention(subject int, r *Record) bool {
	cat, ok := p.category(r.Category)
	if !ok {
		return true
	}
	if !p.vs.Table(p.asOfIdx).Outcomes[p.check(p.asOfIdx, cat, subject, p.asOf, policy.Mentioned)].Allow {
		return true
	}
	v := p.vs.IndexAt(r.Created)
	return !p.vs.Table(v).Outcomes[p.check(v, cat, subject, r.Created, policy.Mentioned)].Allow
}

// Decide decides a record (SPEC §2.3–§2.4 from step 2 of the fail-closed
// order: the caller has already refused malformed records).
func (p *Plan) Decide(r *Record) Result {
	p.Hash(r)
	p.Resolve(r)
	return p.decide(r, nil)
}

// Resolve finds each subject of a record in the view, setting Index (-1
// for an unknown subject). DecideResolved then decides without looking
// anything up by id.
//
// Deciding records one at a time waits on memory for every subject: with a
// million subjects, the index and the subjects' data are cache misses. A
// group of records goes faster in passes, each a tight loop of independent
// accesses that the processor overlaps: Hash every record, then Prefetch,
// Resolve and Touch every record, then DecideResolved each.
func (p *Plan) Resolve(r *Record) {
	for k := range r.Subjects {
		s := &r.Subjects[k]
		i, ok := p.view.LookupHashed(s.ID, s.hash)
		if !ok {
			i = -1
		}
		s.Index = i
	}
}

// Hash computes the index hashes of a record's subjects for Prefetch and
// Resolve.
func (p *Plan) Hash(r *Record) {
	for k := range r.Subjects {
		r.Subjects[k].hash = p.view.Hash(r.Subjects[k].ID)
	}
}

// Touch reads the per-subject data a resolved record's decision will need
// and returns a value of no meaning. Calling it for a group of records
// before deciding them lets the processor fetch their data from memory in
// parallel instead of one cache miss at a time.
func (p *Plan) Touch(r *Record) uint32 {
	var x uint32
	for _, s := range r.Subjects {
		if s.Index >= 0 {
			x += uint32(p.dense[s.Index*p.stride])
		}
	}
	return x
}

// Prefetch starts fetching what Resolve will read for a hashed record's
// subjects; it returns a value of no meaning.
func (p *Plan) Prefetch(r *Record) uint32 {
	var x uint32
	for _, s := range r.Subjects {
		x += p.view.Touch(s.hash)
	}
	return x
}

// DecideResolved decides a record whose subjects Resolve has found.
func (p *Plan) DecideResolved(r *Record) Result {
	return p.decide(r, nil)
}

func (p *Plan) decide(r *Record, ex *Explanation) Result {
	cat, ok := p.category(r.Category)
	if !ok {
		return Result{Reason: ReasonCategoryUnknown}
	}
	if r.Created > p.asOf {
		return Result{Reason: ReasonFuture}
	}
	for _, s := range r.Subjects {
		if s.Index < 0 {
			return Result{Reason: ReasonSubjectUnknown, Subject: s.ID, Role: s.Role}
		}
	}
	colIdx := p.vs.IndexAt(r.Created)
	res := Result{Allow: true}
	for _, s := range r.Subjects {
		subj := s.Index
		for _, c := range [2]Check{Now, Collection} {
			v, t := p.asOfIdx, p.asOf
			if c == Collection {
				v, t = colIdx, r.Created
			}
			o := p.check(v, cat, subj, t, s.Role)
			out := &p.vs.Table(v).Outcomes[o]
			if ex != nil {
				ex.add(p, subj, s.Role, c, v, t, out)
			}
			if !out.Allow && res.Allow {
				res = Result{Reason: out.Reason, Subject: s.ID, Role: s.Role, Check: c}
				if ex == nil {
					return res
				}
			}
		}
	}
	return res
}
