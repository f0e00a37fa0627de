package consent

import (
	"sort"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// View is the store as it stood at an as-of time: each subject's states over
// time (region and the attributes of interest) and its consent events, all at
// or before AsOf. Events after AsOf are not seen, so the same store and as-of
// time always give the same view. Build one with a Builder.
type View struct {
	AsOf      timestamp.Time
	AttrNames []string // the attributes kept, by slot

	index    *idTable
	keyOf    []int32 // view position → key in index
	subjects []subjectEntry

	stateAt     []timestamp.Time
	stateRegion []uint32 // index into Regions; 0 = no region
	stateAttr   []uint32 // len(AttrNames) per state; index into AttrValues[slot]; 0 = absent

	// Regions and AttrValues are the distinct values the view holds; index 0
	// of each is the empty value (no region, absent attribute).
	Regions    []string
	AttrValues [][]string

	// firstSet holds, for the subjects with a field first set after
	// their first event, when each field (region, then the slots) was
	// first set (timestamp.Min for one never set).
	firstSet map[int32][]timestamp.Time

	consent []viewEvent
	// Purposes and Recipients are the distinct consent event purposes and
	// recipients; Recipients[0] is "" (every recipient).
	Purposes   []string
	Recipients []string
}

type subjectEntry struct {
	state0, nState int32
	cons0, nCons   int32
	number         int64 // the sequence number of the subject's first event: stable
}

type viewEvent struct {
	at        timestamp.Time
	seq       int64
	purpose   uint32
	recipient uint32
	state     policy.State
	source    string
}

// Len is the number of subjects known at AsOf.
func (v *View) Len() int { return len(v.subjects) }

// Lookup finds a subject known at AsOf.
func (v *View) Lookup(id string) (int, bool) {
	return v.index.lookup([]byte(id), v.keyOf)
}

// LookupBytes finds a subject by an id held in bytes, without allocating.
func (v *View) LookupBytes(id []byte) (int, bool) {
	return v.index.lookup(id, v.keyOf)
}

// Number returns subject i's stable number: the sequence number of its
// first subject event, which never changes, so that a set of subjects can
// be kept as numbers (an export's subjects, say).
func (v *View) Number(i int) int64 { return v.subjects[i].number }

// ID returns subject i's id.
func (v *View) ID(i int) string { return string(v.index.key(v.keyOf[i])) }

// StateAt returns the index of subject i's state at time t (SPEC §2.3: each
// field from the latest event at or before t that sets it, else from the
// earliest event that sets it).
func (v *View) StateAt(i int, t timestamp.Time) int {
	s := v.subjects[i]
	lo, n := int(s.state0), int(s.nState)
	if n == 1 || t < v.stateAt[lo+1] {
		return lo
	}
	if t >= v.stateAt[lo+n-1] {
		return lo + n - 1
	}
	k := sort.Search(n, func(k int) bool { return v.stateAt[lo+k] > t })
	return lo + k - 1
}

// Since is when subject i's first state begins: the time of its first
// subject event (the store's first word of the subject).
func (v *View) Since(i int) timestamp.Time { return v.stateAt[v.subjects[i].state0] }

// Unseen reports which fields of subject i's states a decision as of t
// does not see: a field whose first setting event is after t has no value
// then, not the earliest value StateAt gives it (SPEC §2.3: events after
// the as-of time are not seen, not even as a field's earliest value).
// Field 0 is the region, field 1+slot an attribute's slot. It returns nil
// when every field is seen, as it always is for t at or after the view's
// as-of time (or the subject's fields' first settings).
func (v *View) Unseen(i int, t timestamp.Time) []bool {
	fs, ok := v.firstSet[int32(i)]
	if !ok || t >= v.AsOf {
		return nil
	}
	var unseen []bool
	for f, at := range fs {
		if at > t {
			if unseen == nil {
				unseen = make([]bool, len(fs))
			}
			unseen[f] = true
		}
	}
	return unseen
}

// FirstSet returns when each of subject i's fields (region, then the
// slots) was first set, for a subject with a field first set after its
// first event; nil for the others. A field first set later changes what a
// decision as of a time sees (Unseen) without changing StateAt's states.
func (v *View) FirstSet(i int) []timestamp.Time { return v.firstSet[int32(i)] }

// ChangedAfter returns the time of subject i's first change of state after
// t, and false when it has none.
func (v *View) ChangedAfter(i int, t timestamp.Time) (timestamp.Time, bool) {
	st := v.StateAt(i, t)
	s := v.subjects[i]
	if st+1 < int(s.state0+s.nState) {
		return v.stateAt[st+1], true
	}
	return 0, false
}

// StateRegion returns the region code of a state ("" for none) by dictionary index.
func (v *View) StateRegion(state int) uint32 { return v.stateRegion[state] }

// StateAttr returns the dictionary index of the attribute in slot of a state (0 absent).
func (v *View) StateAttr(state, slot int) uint32 {
	return v.stateAttr[state*len(v.AttrNames)+slot]
}

// Attrs returns a state's attributes of interest by name.
func (v *View) Attrs(state int) map[string]string {
	m := map[string]string{}
	for slot, name := range v.AttrNames {
		if x := v.StateAttr(state, slot); x != 0 {
			m[name] = v.AttrValues[slot][x]
		}
	}
	return m
}

// NumConsent returns how many consent events subject i has at or before AsOf.
func (v *View) NumConsent(i int) int { return int(v.subjects[i].nCons) }

// ConsentEvent returns subject i's k-th consent event in (at, seq) order.
func (v *View) ConsentEvent(i, k int) Event {
	e := v.consent[int(v.subjects[i].cons0)+k]
	return Event{Seq: e.seq, Subject: v.ID(i), Purpose: v.Purposes[e.purpose],
		Recipient: v.Recipients[e.recipient], State: e.state, At: e.at, Source: e.source}
}

// ConsentRaw returns the compact form of subject i's k-th event: its time,
// purpose and recipient dictionary indexes and state.
func (v *View) ConsentRaw(i, k int) (at timestamp.Time, purpose, recipient uint32, st policy.State) {
	e := &v.consent[int(v.subjects[i].cons0)+k]
	return e.at, e.purpose, e.recipient, e.state
}

// NumStates returns how many distinct states subject i has over time.
func (v *View) NumStates(i int) int { return int(v.subjects[i].nState) }

// TotalStates returns the total number of subject states in the view.
func (v *View) TotalStates() int { return len(v.stateAt) }

// EmptyView is a view with no subjects.
func EmptyView(asOf timestamp.Time, attrs []string) *View {
	return NewBuilder(asOf, attrs, 0, 0).Finish()
}

// Hash is the hash LookupHashed and Touch take for an id.
func (v *View) Hash(id []byte) uint64 { return v.index.hash(id) }

// LookupHashed is LookupBytes with the id's Hash computed already.
func (v *View) LookupHashed(id []byte, h uint64) (int, bool) {
	return v.index.lookupHashed(id, h, v.keyOf)
}

// Touch reads the index slot of a hashed id so that a lookup soon after
// finds it in cache; it returns a value of no meaning. Touching the ids of
// many records in a tight loop lets their cache misses overlap.
func (v *View) Touch(h uint64) uint32 { return v.index.touch(h) }
