package gate

import (
	"context"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Aftermath is what happened after a member stopped allowing an export's
// use of their data (SPEC §11, "the member sees it"): the export, why and
// since when, which notices told the recipient and what it answered, and
// which jobs had trained on the data — each notice with its place in the
// log.
type Aftermath struct {
	ExportID  string         `json:"export_id"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	AsOf      timestamp.Time `json:"as_of"`
	// Cause is withdrawal, ineligibility or narrower policy; Reason the
	// check's reason; At when it arose; Records how many of the member's
	// records the export held that it no longer may.
	Cause   string         `json:"cause"`
	Reason  string         `json:"reason"`
	At      timestamp.Time `json:"at"`
	Records int            `json:"records"`
	// Status is the item's: open (nobody told yet), notified, lapsed (the
	// member allows it again) or what an operator recorded.
	Status string `json:"status"`
	// Unnotified counts the member's records here that no notice names
	// yet (a notice may name some of them because of another member a
	// shared record concerns).
	Unnotified int            `json:"unnotified"`
	Notices    []MemberNotice `json:"notices"`
	Jobs       []LineageLink  `json:"jobs"`
	Lapsed     timestamp.Time `json:"lapsed_at,omitempty"`
	Marks      []impact.Mark  `json:"marks"`
}

// MemberNotice is a notice as the member whose records it names sees it:
// when it went, by when the recipient had to act, what it answered, how
// many of the member's records it named, and its log index (the proof is
// GET /v1/log/proofs/inclusion?index=N).
type MemberNotice struct {
	ID       string         `json:"id"`
	IssuedAt timestamp.Time `json:"issued_at"`
	Deadline timestamp.Time `json:"deadline,omitempty"`
	Status   string         `json:"status"`
	Overdue  bool           `json:"overdue"`
	Answers  []NoticeAnswer `json:"answers"`
	LogIndex int64          `json:"log_index"`
	Records  int            `json:"records"` // the member's records it names
}

// Aftermaths lists, for one member, every export that held data they no
// longer allow, with the notices and jobs: the same impact items, notices
// and lineage links the console and the recipients see.
func (g *Gate) Aftermaths(ctx context.Context, p access.Principal, subject string) ([]Aftermath, error) {
	if !p.Can(access.ReadSubject, subject) {
		return nil, errForbidden
	}
	rep, err := g.Report(ctx, p, subject)
	if err != nil {
		return nil, err
	}
	return g.aftermaths(ctx, subject, rep)
}

// aftermaths is Aftermaths given the member's report: only the exports
// that included the member (their subject sets say so) can hold an item of
// theirs, so the others' records are not read.
func (g *Gate) aftermaths(ctx context.Context, subject string, rep *Report) ([]Aftermath, error) {
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := []Aftermath{}
	if len(rep.Exports) == 0 {
		return out, nil
	}
	var view *consent.View
	nowView := func() (*consent.View, error) {
		if view == nil {
			v, err := store.LoadView(ctx, g.st, now(), vs.Attributes(), []string{subject})
			if err != nil {
				return nil, err
			}
			view = v
		}
		return view, nil
	}
	var items []impact.Item
	for _, e := range rep.Exports {
		got, err := g.impact(ctx, e.ExportID, timestamp.Min, nowView)
		if err != nil {
			return nil, err
		}
		items = append(items, got...)
	}
	ns, err := g.notices(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*Notice, len(ns))
	for i := range ns {
		byID[ns[i].ID] = &ns[i]
	}
	jobs, err := g.lineageByExport(ctx)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Subject != subject {
			continue
		}
		a := Aftermath{ExportID: it.ExportID, Purpose: it.Purpose, Recipient: it.Recipient, AsOf: it.AsOf, Cause: it.Cause, Reason: it.Reason,
			At: it.At, Records: len(it.Records), Status: it.Status, Notices: []MemberNotice{}, Jobs: jobs[it.ExportID], Lapsed: it.LapsedAt, Marks: it.Marks}
		if a.Jobs == nil {
			a.Jobs = []LineageLink{}
		}
		if a.Marks == nil {
			a.Marks = []impact.Mark{}
		}
		mine := map[int64]bool{}
		for _, ix := range it.Indexes {
			mine[ix] = true
		}
		named := map[int64]bool{}
		for _, ref := range it.Notices {
			n := byID[ref.ID]
			if n == nil {
				continue
			}
			mn := MemberNotice{ID: n.ID, IssuedAt: n.IssuedAt, Deadline: n.Deadline, Status: n.Status, Overdue: n.Overdue, Answers: n.Answers, LogIndex: n.LogIndex}
			mn.Records = n.countIndexes(mine, named)
			a.Notices = append(a.Notices, mn)
		}
		a.Unnotified = len(mine) - len(named)
		if len(a.Jobs) > 0 && len(a.Notices) > 0 {
			jobs := make([]LineageLink, len(a.Jobs))
			for k, j := range a.Jobs {
				for _, n := range a.Notices { // oldest first
					if n.Records > 0 && j.At > n.IssuedAt {
						j.AfterNotice = n.ID
						break
					}
				}
				jobs[k] = j
			}
			a.Jobs = jobs
		}
		out = append(out, a)
	}
	return out, nil
}
