package gate

import (
	"context"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Impact lists the impact items (SPEC §5) arising at or after since: for
// every complete export, each subject one of whose included records the
// export would exclude if decided again — with the records, the first
// reason, when it arose, and its status.
func (g *Gate) Impact(ctx context.Context, p access.Principal, since timestamp.Time) ([]impact.Item, error) {
	if !p.Can(access.ReadExports, "") {
		return nil, errForbidden
	}
	return g.impact(ctx, "", since, nil)
}

// impact computes the items of every complete export, or of one, over the
// view nowView gives (nil: one loaded for it).
func (g *Gate) impact(ctx context.Context, only string, since timestamp.Time, nowView func() (*consent.View, error)) ([]impact.Item, error) {
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	if nowView == nil {
		nowView = g.viewOnce(ctx, vs)
	}
	es, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	var exports []impact.Export
	for i := range es {
		e := &es[i]
		if e.Status != store.ExportComplete || (only != "" && e.ID != only) {
			continue
		}
		m, err := manifestOf(e)
		if err != nil {
			return nil, err
		}
		class, _ := policy.ParseClass(m.RecipientClass)
		id := e.ID
		exports = append(exports, impact.Export{ID: id, Purpose: e.Purpose, Recipient: e.Recipient, Class: class, AsOf: e.AsOf,
			Records: func(fn func([]byte) error) error { return g.st.ExportRecords(ctx, id, fn) }})
	}
	if len(exports) == 0 {
		return []impact.Item{}, nil
	}
	view, err := nowView()
	if err != nil {
		return nil, err
	}
	ms, err := g.st.ImpactMarks(ctx)
	if err != nil {
		return nil, err
	}
	marks := map[impact.Key][]impact.Mark{}
	for _, m := range ms {
		k := impact.Key{Export: m.ExportID, Subject: m.Subject}
		marks[k] = append(marks[k], impact.Mark{Seq: m.Seq, Status: m.Status, Note: m.Note, At: m.At})
	}
	items, err := impact.Compute(vs, view, exports, marks, since)
	if err != nil {
		return nil, err
	}
	ns, err := g.notices(ctx)
	if err != nil {
		return nil, err
	}
	if err := noticeOverlay(items, ns); err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].Notices == nil {
			items[i].Notices = []impact.NoticeRef{}
		}
	}
	if items == nil {
		items = []impact.Item{}
	}
	return items, nil
}

// MarkImpact records what an operator did about an item: a status of
// impact.Statuses, with a note (required for wontfix). An (export,
// subject) that is not an item is NotFound with the SeeImpact hint.
func (g *Gate) MarkImpact(ctx context.Context, p access.Principal, exportID, subject, status, note string) (*impact.Item, error) {
	if !p.Can(access.MarkImpact, "") {
		return nil, errForbidden
	}
	if err := g.writable(); err != nil {
		return nil, err
	}
	if !impact.ValidStatus(status) {
		return nil, invalid("status %q: expected one of %s", status, strings.Join(impact.Statuses, ", "))
	}
	if status == impact.WontFix && strings.TrimSpace(note) == "" {
		return nil, invalid("status wontfix needs a note saying why nothing will be done")
	}
	items, err := g.impact(ctx, exportID, timestamp.Min, nil)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].Subject != subject {
			continue
		}
		m := store.ImpactMark{ExportID: exportID, Subject: subject, Status: status, Note: note, At: now()}
		seq, err := g.st.AddImpactMark(ctx, m)
		if err != nil {
			return nil, err
		}
		it := items[i]
		it.Status, it.Note = status, note
		it.Marks = append(it.Marks, impact.Mark{Seq: seq, Status: status, Note: note, At: m.At})
		return &it, nil
	}
	return nil, Errorf(NotFound, SeeImpact, "export %s and subject %s are not an impact item", exportID, subject)
}

// ImpactFilter narrows the impact queue: by export, status and reason
// ("" for any), a page of Limit items from Offset.
type ImpactFilter struct {
	Export, Status, Reason string
	Offset, Limit          int
	// Find names one item to return as Found whatever the filter (the
	// export and subject; "" for none).
	FindExport, FindSubject string
}

// ImpactPage is one page of the impact queue, with what the filters can
// choose from and how many items match.
type ImpactPage struct {
	Items   []impact.Item `json:"items"`
	Total   int           `json:"total"`   // items in the queue
	Matched int           `json:"matched"` // items the filter matches
	Offset  int           `json:"offset"`
	Limit   int           `json:"limit"`
	// Exports, Statuses and Reasons are the values the queue holds, for
	// the filters' choices, each with how many items have it.
	Exports  []ValueCount `json:"exports"`
	Statuses []ValueCount `json:"statuses"`
	Reasons  []ValueCount `json:"reasons"`
	// Found is the item Find named, when it is in the queue.
	Found *impact.Item `json:"found,omitempty"`
	// Lapsed counts the items whose member allows every record again.
	Lapsed int `json:"lapsed"`
}

// ValueCount is a value and how many items have it.
type ValueCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// pageImpact filters and pages items (in their order).
func pageImpact(items []impact.Item, f ImpactFilter) *ImpactPage {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	out := &ImpactPage{Items: []impact.Item{}, Total: len(items), Offset: f.Offset, Limit: f.Limit}
	count := func(vs *[]ValueCount, v string) {
		for i := range *vs {
			if (*vs)[i].Value == v {
				(*vs)[i].Count++
				return
			}
		}
		*vs = append(*vs, ValueCount{v, 1})
	}
	for i, it := range items {
		if f.FindSubject != "" && it.ExportID == f.FindExport && it.Subject == f.FindSubject {
			out.Found = &items[i]
		}
		if it.LapsedAt != 0 {
			out.Lapsed++
		}
		count(&out.Exports, it.ExportID)
		count(&out.Statuses, it.Status)
		count(&out.Reasons, it.Reason)
		if f.Export != "" && it.ExportID != f.Export || f.Status != "" && it.Status != f.Status || f.Reason != "" && it.Reason != f.Reason {
			continue
		}
		if out.Matched >= f.Offset && len(out.Items) < f.Limit {
			out.Items = append(out.Items, it)
		}
		out.Matched++
	}
	for _, vs := range [][]ValueCount{out.Exports, out.Statuses, out.Reasons} {
		sort.Slice(vs, func(i, j int) bool { return vs[i].Value < vs[j].Value })
	}
	return out
}
