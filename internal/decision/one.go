package decision

import (
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// One decides for one subject of a view without a plan: the shape for
// answering one member's questions (what is shared of their data now, what
// a choice would change) over a view of every member, where a plan — which
// prepares every subject of its view — would cost far more than the
// answer. Its decisions are a plan's (the differential test holds them to
// the same literal reading of SPEC §2).
type One struct {
	vs       *Versions
	view     *consent.View
	subj     int
	slotOf   map[string]int
	matchers map[Target]*consentMatcher
}

// NewOne prepares deciding for subject subj (a view position).
func NewOne(vs *Versions, view *consent.View, subj int) *One {
	o := &One{vs: vs, view: view, subj: subj, slotOf: make(map[string]int, len(view.AttrNames)), matchers: map[Target]*consentMatcher{}}
	for i, n := range view.AttrNames {
		o.slotOf[n] = i
	}
	return o
}

// Decide decides a record of category created at created with the subject
// alone on it in role, for target t as of asOf (at most the view's as-of
// time, seeing the store as it stood then): §2.4's category.unknown and record.future, then the now and
// collection checks of §2.3. consent, when not nil, stands for the
// subject's consent for the target (a choice not made yet). It returns the
// failing check's outcome, or the now check's when the record is allowed.
func (o *One) Decide(t Target, category string, created, asOf timestamp.Time, role policy.Role, consent *policy.State) (policy.Outcome, Check) {
	vNow := o.vs.IndexAt(asOf)
	if !o.vs.Table(vNow).Doc.DeclaresCategory(category) {
		return policy.Outcome{Reason: ReasonCategoryUnknown}, NoCheck
	}
	if created > asOf {
		return policy.Outcome{Reason: ReasonFuture}, NoCheck
	}
	var cs policy.State
	if consent != nil {
		cs = *consent
	} else {
		m := o.matchers[t]
		if m == nil {
			m = newConsentMatcher(o.vs, o.view, t)
			o.matchers[t] = m
		}
		cs, _ = m.stateAt(o.view, o.subj, asOf)
	}
	unseen := o.view.Unseen(o.subj, asOf)
	var first policy.Outcome
	for _, c := range [2]Check{Now, Collection} {
		v, at := vNow, asOf
		if c == Collection {
			v, at = o.vs.IndexAt(created), created
		}
		tb := o.vs.Table(v)
		sc := o.subjectClass(tb, o.view.StateAt(o.subj, at), unseen)
		out := tb.Outcomes[tb.Decide(tb.PurposeClass(t.Purpose), tb.CategoryClass(category), tb.RecipientClass(t.Recipient, t.Class), sc, role, cs)]
		if !out.Allow {
			return out, c
		}
		if c == Now {
			first = out
		}
	}
	return first, Now
}

// subjectClass resolves a view state to its subject class in a version,
// with the fields unseen marks (View.Unseen) taken as unset.
func (o *One) subjectClass(tb *policy.Table, state int, unseen []bool) int {
	attrs := make([]int, len(tb.Doc.Attributes))
	for k, a := range tb.Doc.Attributes {
		val, present := "", false
		if slot, ok := o.slotOf[a.Name]; ok && (unseen == nil || !unseen[1+slot]) {
			x := o.view.StateAttr(state, slot)
			val, present = o.view.AttrValues[slot][x], x != 0
		}
		attrs[k] = tb.AttrClass(k, val, present)
	}
	region := o.view.Regions[o.view.StateRegion(state)]
	if unseen != nil && unseen[0] {
		region = ""
	}
	return tb.SubjectClass(tb.RegionClass(region), attrs)
}
