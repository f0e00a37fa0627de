// Package impact owns the answer to "opting out does not affect training
// that has already occurred": for every export, the subjects whose data it
// used and who, after its as-of time, withdrew consent for its purpose and
// recipient or became ineligible (a deny rule of today's policy now matches
// them), with the status operators give each item (open, notified,
// retrained, waived).
package impact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Statuses an item can have; new items are open.
var Statuses = []string{"open", "notified", "retrained", "waived"}

// ValidStatus reports whether s is one of Statuses.
func ValidStatus(s string) bool {
	for _, x := range Statuses {
		if x == s {
			return true
		}
	}
	return false
}

// Item is one subject of one export who withdrew or became ineligible.
type Item struct {
	ExportID  string         `json:"export_id"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	AsOf      timestamp.Time `json:"as_of"`
	Subject   string         `json:"subject"`
	Records   uint32         `json:"records"`
	Change    string         `json:"change"` // "withdrew consent" or "ineligible: rule:<id>"
	At        timestamp.Time `json:"at"`     // when it happened
	Status    string         `json:"status"`
	Note      string         `json:"note,omitempty"`
	MarkedAt  timestamp.Time `json:"marked_at,omitempty"`
}

// Compute finds the items of every complete export over a view of the
// store now (the view must hold every subject, with their history), with
// changes at or after since. marks are the status changes recorded, oldest
// first; the latest for an item is its status.
func Compute(vs *decision.Versions, view *consent.View, exports []store.Export, marks []store.ImpactMark, since timestamp.Time) ([]Item, error) {
	byNumber := make(map[int64]int, view.Len())
	for i := 0; i < view.Len(); i++ {
		byNumber[view.Number(i)] = i
	}
	latest := map[[2]string]store.ImpactMark{}
	for _, m := range marks {
		latest[[2]string{m.ExportID, m.Subject}] = m
	}
	now := view.AsOf
	var items []Item
	for _, e := range exports {
		if e.Status != "complete" || len(e.Subjects) == 0 {
			continue
		}
		set, err := export.DecodeSubjectSet(e.Subjects)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", e.ID, err)
		}
		var m export.Manifest
		if err := json.Unmarshal(e.Manifest, &m); err != nil {
			return nil, fmt.Errorf("export %s: manifest: %w", e.ID, err)
		}
		class, _ := vs.At(e.AsOf).Doc.RecipientClass(e.Recipient)
		states, times := decision.ConsentDecisions(vs, view, decision.Target{Purpose: e.Purpose, Recipient: e.Recipient, Class: class})
		// Ineligibility needs today's policy to still know the use.
		plan, planErr := decision.NewPlan(vs, view, e.Purpose, e.Recipient)
		for k, number := range set.Numbers {
			s, ok := byNumber[number]
			if !ok {
				continue // the subject is no longer in the store
			}
			it := Item{ExportID: e.ID, Purpose: e.Purpose, Recipient: e.Recipient, AsOf: e.AsOf, Subject: view.ID(s), Records: set.Records[k], Status: "open"}
			if states[s] == policy.Denied && times[s] > e.AsOf {
				it.Change, it.At = "withdrew consent", times[s]
			}
			if it.Change == "" && planErr == nil {
				if rule, now := plan.RuleDenies(s, now); now {
					if _, before := plan.RuleDenies(s, e.AsOf); !before {
						at, _ := view.ChangedAfter(s, e.AsOf)
						it.Change, it.At = "ineligible: rule:"+rule, at
					}
				}
			}
			if it.Change == "" || it.At < since {
				continue
			}
			if mk, ok := latest[[2]string{e.ID, it.Subject}]; ok {
				it.Status, it.Note, it.MarkedAt = mk.Status, mk.Note, mk.At
			}
			items = append(items, it)
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].ExportID != items[j].ExportID {
			return false // exports stay in their order
		}
		return items[i].Subject < items[j].Subject
	})
	return items, nil
}

// impactItems computes the impact list of a store now.
func Items(ctx context.Context, st store.Store, since timestamp.Time) ([]Item, error) {
	vs, _, err := store.LoadVersions(ctx, st)
	if err != nil {
		return nil, err
	}
	view, err := store.LoadView(ctx, st, timestamp.Now(), vs.Attributes(), nil)
	if err != nil {
		return nil, err
	}
	exports, err := st.Exports(ctx)
	if err != nil {
		return nil, err
	}
	marks, err := st.ImpactMarks(ctx)
	if err != nil {
		return nil, err
	}
	return Compute(vs, view, exports, marks, since)
}

// ErrNotItem: a status change for an (export, subject) that is not an
// impact item.
var ErrNotItem = errors.New("not an impact item")

// Mark records an operator's status change of an impact item, refusing a
// status that does not exist and a pair that is not an item.
func Mark(ctx context.Context, st store.Store, m store.ImpactMark) error {
	if !ValidStatus(m.Status) {
		return fmt.Errorf("status %q: expected one of %s", m.Status, strings.Join(Statuses, ", "))
	}
	items, err := Items(ctx, st, timestamp.Min)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.ExportID == m.ExportID && it.Subject == m.Subject {
			return st.AddImpactMark(ctx, m)
		}
	}
	return fmt.Errorf("export %s and subject %s: %w (see consentgate impact)", m.ExportID, m.Subject, ErrNotItem)
}
