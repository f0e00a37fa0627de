package decision

import (
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Target is what a use is for and who receives it. Class is the recipient's
// class as declared by the version in force at the as-of time.
type Target struct {
	Purpose   string
	Recipient string
	Class     policy.Class
}

// consentMatcher answers SPEC §2.2 "Consent" for one target over a view's
// dictionaries: which (purpose, recipient) pairs of events apply, and which
// versions declared both the recipient and the purpose (for grants that do
// not name the recipient's id).
type consentMatcher struct {
	vs           *Versions
	purposeOK    []bool
	recipientOK  []bool
	recipientIsR []bool
	declares     []bool // per version: declares both R (by id) and P
}

func newConsentMatcher(vs *Versions, v *consent.View, t Target) *consentMatcher {
	m := &consentMatcher{vs: vs}
	m.purposeOK = make([]bool, len(v.Purposes))
	for i, p := range v.Purposes {
		m.purposeOK[i] = policy.IsAncestorOrSelf(p, t.Purpose)
	}
	m.recipientOK = make([]bool, len(v.Recipients))
	m.recipientIsR = make([]bool, len(v.Recipients))
	for i, r := range v.Recipients {
		m.recipientIsR[i] = r == t.Recipient
		m.recipientOK[i] = r == "" || r == "*" || r == t.Class.String() || r == t.Recipient
	}
	m.declares = make([]bool, vs.Len())
	for i := 0; i < vs.Len(); i++ {
		d := vs.Table(i).Doc
		_, hasR := d.RecipientClass(t.Recipient)
		m.declares[i] = hasR && d.DeclaresPurpose(t.Purpose)
	}
	return m
}

// state returns subject s's consent and the index of the deciding event
// (-1 when none applies).
func (m *consentMatcher) state(v *consent.View, s int) (policy.State, int) {
	return m.stateAt(v, s, timestamp.Max)
}

// stateAt is state as it stood at t: the events after t are not seen.
func (m *consentMatcher) stateAt(v *consent.View, s int, t timestamp.Time) (policy.State, int) {
	for k := v.NumConsent(s) - 1; k >= 0; k-- {
		at, p, r, st := v.ConsentRaw(s, k)
		if at > t || !m.purposeOK[p] || !m.recipientOK[r] {
			continue
		}
		if st == policy.Granted && !m.recipientIsR[r] && !m.declares[m.vs.IndexAt(at)] {
			continue
		}
		return st, k
	}
	return policy.None, -1
}

// ConsentStateAt returns a subject's consent for a target as it stood at
// a time (the view's events after it are not seen), and the deciding event
// when one applies.
func ConsentStateAt(vs *Versions, v *consent.View, s int, t Target, at timestamp.Time) (policy.State, *consent.Event) {
	m := newConsentMatcher(vs, v, t)
	st, k := m.stateAt(v, s, at)
	if k < 0 {
		return st, nil
	}
	e := v.ConsentEvent(s, k)
	return st, &e
}

// ConsentAll returns every subject's consent for a target, by view position.
func ConsentAll(vs *Versions, v *consent.View, t Target) []policy.State {
	m := newConsentMatcher(vs, v, t)
	out := make([]policy.State, v.Len())
	for s := range out {
		out[s], _ = m.state(v, s)
	}
	return out
}

// ConsentOverTime returns every subject's consent for a target as it
// stood at each of the times given: out[k][s] is subject s's at times[k].
func ConsentOverTime(vs *Versions, v *consent.View, t Target, times []timestamp.Time) [][]policy.State {
	m := newConsentMatcher(vs, v, t)
	out := make([][]policy.State, len(times))
	for k := range out {
		out[k] = make([]policy.State, v.Len())
	}
	for s := 0; s < v.Len(); s++ {
		for k, at := range times {
			out[k][s], _ = m.stateAt(v, s, at)
		}
	}
	return out
}

// Standing is what a member's consent to a use comes to at a time, as a
// privacy officer counts it: a rule forbids the use whatever they choose;
// else their choice; else what the version in force makes of silence.
type Standing uint8

// The standings.
const (
	OffByDefault Standing = iota // never chose; nothing is used without agreement
	OnByDefault                  // never chose; the default allows the use
	Agreed
	Refused
	NotPossible // a rule forbids every kind of data, whatever the member chooses
)

// StandingOverTime returns every subject's standing for a target at each
// of the times given (out[k][s]), deciding a record of each leaf category
// of the version in force then, created then, with the subject as author.
// Decisions are made once per version and subject class.
func StandingOverTime(vs *Versions, v *consent.View, t Target, times []timestamp.Time) [][]Standing {
	m := newConsentMatcher(vs, v, t)
	one := NewOne(vs, v, 0)
	type verdict struct{ known, possible, onSilence bool }
	memo := make([][]verdict, vs.Len()) // by version, then subject class
	classes := make([][]int32, vs.Len())
	out := make([][]Standing, len(times))
	for k := range out {
		out[k] = make([]Standing, v.Len())
	}
	for k, at := range times {
		vi := vs.IndexAt(at)
		if vi == 0 {
			for s := 0; s < v.Len(); s++ {
				if st, _ := m.stateAt(v, s, at); st == policy.Granted {
					out[k][s] = Agreed
				} else if st == policy.Denied {
					out[k][s] = Refused
				}
			}
			continue
		}
		tb := vs.Table(vi)
		cats := tb.Doc.LeafCategories()
		pc, rc := tb.PurposeClass(t.Purpose), tb.RecipientClass(t.Recipient, t.Class)
		// A state's subject class under this version, once per state (a
		// state's fields all seen; the few with a field unseen then are
		// resolved each time).
		if classes[vi] == nil {
			classes[vi] = make([]int32, v.TotalStates())
			for i := range classes[vi] {
				classes[vi][i] = -1
			}
		}
		for s := 0; s < v.Len(); s++ {
			state, unseen := v.StateAt(s, at), v.Unseen(s, at)
			var sc int
			if unseen != nil {
				sc = one.subjectClass(tb, state, unseen)
			} else if c := classes[vi][state]; c >= 0 {
				sc = int(c)
			} else {
				sc = one.subjectClass(tb, state, nil)
				classes[vi][state] = int32(sc)
			}
			for len(memo[vi]) <= sc {
				memo[vi] = append(memo[vi], verdict{})
			}
			vd := memo[vi][sc]
			if !vd.known {
				vd.known = true
				for _, c := range cats {
					cc := tb.CategoryClass(c)
					vd.possible = vd.possible || tb.Outcomes[tb.Decide(pc, cc, rc, sc, policy.Author, policy.Granted)].Allow
					vd.onSilence = vd.onSilence || tb.Outcomes[tb.Decide(pc, cc, rc, sc, policy.Author, policy.None)].Allow
				}
				memo[vi][sc] = vd
			}
			st, _ := m.stateAt(v, s, at)
			switch {
			case !vd.possible:
				out[k][s] = NotPossible
			case st == policy.Granted:
				out[k][s] = Agreed
			case st == policy.Denied:
				out[k][s] = Refused
			case vd.onSilence:
				out[k][s] = OnByDefault
			default:
				out[k][s] = OffByDefault
			}
		}
	}
	return out
}
