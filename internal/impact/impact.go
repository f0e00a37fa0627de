// Package impact owns the answer to "opting out does not affect training
// that has already occurred" (SPEC §5): for every export, the subjects one
// of whose included records would be excluded if the export were decided
// again — because they withdrew, moved, changed an attribute, or a
// narrower policy version took effect — naming the records, the first
// reason and when it arose, with the status operators give each item. It
// is pure: the caller passes the versions, a view of the store now, the
// exports' kept records and the operators' marks.
package impact

import (
	"slices"
	"sort"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// The statuses an operator may set; an item nobody marked is open, and
// one whose subject allows every record again is lapsed (unless an
// operator marked it since).
const (
	Open      = "open"
	Notified  = "notified"
	Deleted   = "deleted"
	Retrained = "retrained"
	WontFix   = "wontfix"
	Lapsed    = "lapsed"
)

// Statuses are the statuses an operator may set, in the order a console
// offers them.
var Statuses = []string{Open, Notified, Deleted, Retrained, WontFix}

// ValidStatus reports whether an operator may set s.
func ValidStatus(s string) bool { return slices.Contains(Statuses, s) }

// The causes of an item, as notices to recipients name them (SPEC §11).
const (
	Withdrawal    = "withdrawal"      // the subject refused the use
	Ineligibility = "ineligibility"   // the subject's region or attributes changed
	Narrower      = "narrower policy" // a later policy version no longer allows it
)

// Export is one complete export as impact needs it.
type Export struct {
	ID        string
	Purpose   string
	Recipient string
	Class     policy.Class // the recipient's class as the export decided it
	AsOf      timestamp.Time
	// Records calls fn with the export's kept record chunks in output
	// order (inclusion's stored form).
	Records func(fn func(chunk []byte) error) error
}

// Mark is an operator's status change of an item.
type Mark struct {
	Seq    int64          `json:"seq"`
	Status string         `json:"status"`
	Note   string         `json:"note,omitempty"`
	At     timestamp.Time `json:"at"`
}

// Item is one subject of one export whose data the export may no longer
// hold. It never vanishes: once a record was denied it stays, lapsed when
// the subject allows every record again.
type Item struct {
	ExportID  string         `json:"export_id"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	AsOf      timestamp.Time `json:"as_of"`
	Subject   string         `json:"subject"`
	// Records are the ids of the subject's included records that were
	// denied at some time since the export, in output order; Indexes their
	// positions in the output.
	Records []string `json:"records"`
	Indexes []int64  `json:"indexes"`
	// Reason is the first failing check's reason when the item arose, for
	// the first such record; Role and Check say where it failed.
	Reason string         `json:"reason"`
	Role   string         `json:"role"`
	Check  string         `json:"check,omitempty"`
	Cause  string         `json:"cause"` // withdrawal, ineligibility or narrower policy
	At     timestamp.Time `json:"at"`    // when it arose
	// Status is open, lapsed, or the latest an operator set; LapsedAt when
	// the subject allowed every record again (zero while any is denied).
	Status   string         `json:"status"`
	LapsedAt timestamp.Time `json:"lapsed_at,omitempty"`
	Note     string         `json:"note,omitempty"`
	Marks    []Mark         `json:"marks"`
	// Notices are the notices to the recipient that name the item's
	// records (SPEC §11), by id; Overdue when one of them is past its
	// deadline unanswered. An open item all of whose records a notice
	// named reads notified.
	Notices []NoticeRef `json:"notices"`
	Overdue bool        `json:"overdue"`
}

// NoticeRef names a notice that covers an item, with its state.
type NoticeRef struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Overdue bool   `json:"overdue"`
}

// Key identifies an item.
type Key struct{ Export, Subject string }

// Compute finds the items of the exports over view, a view of every
// subject as of now (with their whole history), with marks by item. An
// (export, subject) is an item when, at some time from the export's as-of
// time to now, the subject's own checks (SPEC §2.3) would deny one of the
// export's records on which the subject appears: decided as of the export's
// as-of time, then as of each later change of the subject's consent, region
// or attributes and each later policy version, each time over the store's
// events up to it (SPEC §2.3's as-of rule; an event recorded since with an
// earlier time counts from that time). The item arose at the first such
// time. Items arising before since are left out. Exports keep their
// order, and items within one export are by subject.
func Compute(vs *decision.Versions, view *consent.View, exports []Export, marks map[Key][]Mark, since timestamp.Time) ([]Item, error) {
	byNumber := make(map[int64]int, view.Len())
	for i := 0; i < view.Len(); i++ {
		byNumber[view.Number(i)] = i
	}
	var items []Item
	for i := range exports {
		got, err := computeExport(vs, view, byNumber, &exports[i], marks, since)
		if err != nil {
			return nil, err
		}
		items = append(items, got...)
	}
	return items, nil
}

// acc gathers one subject's denials in one export.
type acc struct {
	first     timestamp.Time // the earliest time a record was denied
	firstIdx  int64          // the record denied then (the first in output order)
	category  string         // its category and creation time
	created   timestamp.Time
	reason    policy.Outcome
	check     decision.Check
	role      policy.Role
	lastDeny  timestamp.Time // the latest candidate time a record was denied at
	deniedNow bool           // a record is denied at the subject's last candidate time
	records   []string
	indexes   []int64
}

func computeExport(vs *decision.Versions, view *consent.View, byNumber map[int64]int, e *Export,
	marks map[Key][]Mark, since timestamp.Time) ([]Item, error) {
	now := view.AsOf
	// Policy versions taking effect after the export: every subject's
	// checks may change then.
	var versionTimes []timestamp.Time
	for v := vs.IndexAt(e.AsOf) + 1; v < vs.Len(); v++ {
		if at := vs.Table(v).Doc.EffectiveFrom; at > e.AsOf && at <= now {
			versionTimes = append(versionTimes, at)
		}
	}
	plans := map[policy.Class]*decision.Plan{}
	planAt := func(t timestamp.Time) *decision.Plan {
		class := e.Class
		if c, ok := vs.At(t).Doc.RecipientClass(e.Recipient); ok {
			class = c
		}
		p := plans[class]
		if p == nil {
			p = decision.PlanFor(vs, view, decision.Target{Purpose: e.Purpose, Recipient: e.Recipient, Class: class})
			plans[class] = p
		}
		return p
	}
	candidates := map[int][]timestamp.Time{}
	timesOf := func(s int) []timestamp.Time {
		if ts, ok := candidates[s]; ok {
			return ts
		}
		ts := append([]timestamp.Time{e.AsOf}, versionTimes...)
		for k := view.NumConsent(s) - 1; k >= 0; k-- {
			at, _, _, _ := view.ConsentRaw(s, k)
			if at <= e.AsOf {
				break
			}
			if at <= now {
				ts = append(ts, at)
			}
		}
		for _, at := range view.FirstSet(s) {
			if at > e.AsOf && at <= now {
				ts = append(ts, at)
			}
		}
		for t := e.AsOf; ; {
			at, ok := view.ChangedAfter(s, t)
			if !ok || at > now {
				break
			}
			ts = append(ts, at)
			t = at
		}
		slices.Sort(ts)
		ts = slices.Compact(ts)
		candidates[s] = ts
		return ts
	}
	accs := map[int]*acc{}
	var r inclusion.Reader
	err := e.Records(func(chunk []byte) error {
		return r.Each(chunk, func(rec *inclusion.Record) error {
			for _, ref := range rec.Subjects {
				s, ok := byNumber[ref.Number]
				if !ok {
					continue // no longer in the store
				}
				ts := timesOf(s)
				denied := false
				for k, t := range ts {
					o, check := planAt(t).CheckAt(s, ref.Role, rec.Category, rec.Created, t)
					if o.Allow {
						continue
					}
					a := accs[s]
					if a == nil {
						a = &acc{first: timestamp.Max}
						accs[s] = a
					}
					if t < a.first {
						a.first, a.firstIdx, a.reason, a.check, a.role = t, rec.Index, o, check, ref.Role
						a.category, a.created = rec.Category, rec.Created
					}
					if !denied {
						denied = true
						if n := len(a.indexes); n == 0 || a.indexes[n-1] != rec.Index {
							a.records = append(a.records, string(rec.ID))
							a.indexes = append(a.indexes, rec.Index)
						}
					}
					a.lastDeny = max(a.lastDeny, t)
					if k == len(ts)-1 {
						a.deniedNow = true
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var items []Item
	for s, a := range accs {
		it := Item{ExportID: e.ID, Purpose: e.Purpose, Recipient: e.Recipient, AsOf: e.AsOf, Subject: view.ID(s),
			Records: a.records, Indexes: a.indexes, Reason: a.reason.Reason, Role: a.role.String(), Check: a.check.String(),
			At: a.first, Status: Open, Marks: []Mark{}}
		p := planAt(a.first)
		it.Cause = cause(vs, view, p, s, e.AsOf, a)
		if it.At < since {
			continue
		}
		if !a.deniedNow {
			ts := timesOf(s)
			k, _ := slices.BinarySearch(ts, a.lastDeny)
			if k+1 < len(ts) {
				it.LapsedAt = ts[k+1]
			}
		}
		ms := marks[Key{e.ID, it.Subject}]
		if len(ms) > 0 {
			it.Marks = ms
			last := ms[len(ms)-1]
			it.Status, it.Note = last.Status, last.Note
		}
		if it.LapsedAt != 0 && (len(ms) == 0 || ms[len(ms)-1].At < it.LapsedAt) {
			it.Status = Lapsed
		}
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Subject < items[j].Subject })
	return items, nil
}

// cause says why an item arose: a refusal the subject made after the
// export is a withdrawal; otherwise, when the policy and consent in force
// then still allow the first denied record for the subject as it stood at
// the export (region and attributes as known at the as-of time), the
// subject changed (ineligibility), and when they do not, the policy
// narrowed what it allows — a later version, one published since with an
// earlier effective date, or a recipient moved into a class the subject
// had refused.
func cause(vs *decision.Versions, view *consent.View, p *decision.Plan, s int, asOf timestamp.Time, a *acc) string {
	if a.reason.Reason == "consent.denied" {
		if st, ev := decision.ConsentStateAt(vs, view, s, p.Target(), a.first); st == policy.Denied && ev != nil && ev.At > asOf {
			return Withdrawal
		}
	}
	if o, _ := p.CheckKnown(s, a.role, a.category, a.created, a.first, asOf); o.Allow {
		return Ineligibility
	}
	return Narrower
}
