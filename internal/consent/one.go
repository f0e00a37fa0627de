package consent

import (
	"math"

	"github.com/consentgate/consentgate/internal/timestamp"
)

// One returns a view of subject i alone as of asOf (at most v.AsOf): its
// states and its consent events at or before asOf, with extra consent
// events added after them (what a choice not yet made would give). Its
// dictionaries hold only that subject's values, so a decision plan over it
// costs next to nothing: the shape for answering one member's questions
// from a view of every member.
func (v *View) One(i int, asOf timestamp.Time, extra ...Event) *View {
	asOf = min(asOf, v.AsOf)
	b := NewBuilder(asOf, v.AttrNames, 1, v.NumConsent(i)+len(extra))
	id := v.ID(i)
	s := v.subjects[i]
	for k := 0; k < int(s.nState); k++ {
		st := int(s.state0) + k
		e := SubjectEvent{Seq: v.Number(i) + int64(k), Subject: id, At: v.stateAt[st], RegionSet: true, Region: v.Regions[v.stateRegion[st]],
			Attributes: make(map[string]*string, len(v.AttrNames))}
		for slot, name := range v.AttrNames {
			if x := v.StateAttr(st, slot); x != 0 {
				val := v.AttrValues[slot][x]
				e.Attributes[name] = &val
			} else {
				e.Attributes[name] = nil
			}
		}
		b.AddSubject(e)
	}
	for k := 0; k < v.NumConsent(i); k++ {
		b.AddConsent(v.ConsentEvent(i, k))
	}
	for k, e := range extra {
		e.Subject, e.Seq = id, math.MaxInt64-int64(len(extra)-k)
		b.AddConsent(e)
	}
	return b.Finish()
}
