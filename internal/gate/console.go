package gate

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// Console is what the admin console shows: the policy history with its
// diffs, consent over time and by region, the exports with their counts,
// the log's checkpoint and the impact queue.
type Console struct {
	Versions []History `json:"versions"`
	// Months are the last 24 months with consent events, oldest first.
	Months []MonthCount `json:"months"`
	// OptOutGroups are the region groups of OptOuts' counts.
	OptOutGroups []string     `json:"opt_out_groups"`
	OptOuts      []MonthCount `json:"opt_outs"` // denials per month by the member's region group then
	// Today is, per leaf purpose, today's consent by region group to the
	// widest recipient class's first recipient.
	Today          []PurposeByRegion `json:"today"`
	Exports        []ExportSummary   `json:"exports"` // newest first
	Checkpoint     string            `json:"checkpoint"`
	CheckpointSize int64             `json:"checkpoint_size"`
	LogSize        int64             `json:"log_size"`
	Impact         []impact.Item     `json:"impact"`
}

// MonthCount is one month's counts.
type MonthCount struct {
	Month   string  `json:"month"` // YYYY-MM
	Granted int64   `json:"granted,omitempty"`
	Denied  int64   `json:"denied,omitempty"`
	Groups  []int64 `json:"groups,omitempty"` // by OptOutGroups
}

// PurposeByRegion is one purpose's consent today by region group.
type PurposeByRegion struct {
	Purpose   string        `json:"purpose"`
	Recipient string        `json:"recipient"`
	Class     string        `json:"class"`
	Default   string        `json:"default"` // what "never chose" means: granted or denied
	Groups    []GroupCounts `json:"groups"`
}

// GroupCounts are a region group's members by their consent.
type GroupCounts struct {
	Group   string `json:"group"`
	Granted int64  `json:"granted"`
	Denied  int64  `json:"denied"`
	None    int64  `json:"never_chose"`
}

// ExportSummary is an export with its counts.
type ExportSummary struct {
	ExportInfo
	Read     int64         `json:"read"`
	Included int64         `json:"included"`
	Reasons  []ReasonCount `json:"excluded_by_reason"` // by count, then reason
}

// ReasonCount is how many records a reason excluded.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// Console gathers the admin console's answers, over one view of the
// store now.
func (g *Gate) Console(ctx context.Context, p access.Principal) (*Console, error) {
	if !p.Can(access.ReadExports, "") || !p.Can(access.ReadPolicies, "") {
		return nil, errForbidden
	}
	out := &Console{}
	vs, ps, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	// One view of the store now for every part of the page.
	nowView := g.viewOnce(ctx, vs)
	if out.Versions, err = g.policyHistory(vs, ps, nowView); err != nil {
		return nil, err
	}
	view, err := nowView()
	if err != nil {
		return nil, err
	}
	if err := consentCharts(vs, view, out); err != nil {
		return nil, err
	}
	es, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(es) - 1; i >= 0; i-- {
		e := &es[i]
		row := ExportSummary{ExportInfo: exportInfo(e)}
		var m export.Manifest
		if json.Unmarshal(e.Manifest, &m) == nil {
			row.Read, row.Included = m.Counts.Read, m.Counts.Included
			for reason, n := range m.Counts.ExcludedByReason {
				row.Reasons = append(row.Reasons, ReasonCount{reason, n})
			}
			sort.Slice(row.Reasons, func(a, b int) bool {
				if row.Reasons[a].Count != row.Reasons[b].Count {
					return row.Reasons[a].Count > row.Reasons[b].Count
				}
				return row.Reasons[a].Reason < row.Reasons[b].Reason
			})
		}
		out.Exports = append(out.Exports, row)
	}
	if cps, err := g.st.Checkpoints(ctx); err != nil {
		return nil, err
	} else if len(cps) > 0 {
		out.Checkpoint = string(cps[len(cps)-1].Note)
		if vkey, err := g.VerifierKey(); err == nil {
			if cp, err := translog.OpenCheckpoint(cps[len(cps)-1].Note, vkey); err == nil {
				out.CheckpointSize = cp.Size
			}
		}
	}
	if out.LogSize, err = g.st.LogSize(ctx); err != nil {
		return nil, err
	}
	if out.Impact, err = g.impact(ctx, "", timestamp.Min, nowView); err != nil {
		return nil, err
	}
	return out, nil
}

// consentCharts counts consent events per month by state (the last 24
// months with events), denials per month by the member's region group
// then, and today's consent per region group for each leaf purpose.
func consentCharts(vs *decision.Versions, view *consent.View, out *Console) error {
	t := view.AsOf
	months := map[string]*MonthCount{}
	for i := 0; i < view.Len(); i++ {
		for k := 0; k < view.NumConsent(i); k++ {
			at, _, _, st := view.ConsentRaw(i, k)
			m := at.Time().UTC().Format("2006-01")
			if months[m] == nil {
				months[m] = &MonthCount{Month: m}
			}
			if st == policy.Granted {
				months[m].Granted++
			} else {
				months[m].Denied++
			}
		}
	}
	var keys []string
	for k := range months {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 24 {
		keys = keys[len(keys)-24:]
	}
	for _, k := range keys {
		out.Months = append(out.Months, *months[k])
	}
	if vs.IndexAt(t) == 0 {
		return nil
	}
	doc := vs.At(t).Doc
	groupOf := regionGroups(doc)
	byMonth := map[string]map[string]int64{}
	for i := 0; i < view.Len(); i++ {
		for k := 0; k < view.NumConsent(i); k++ {
			at, _, _, st := view.ConsentRaw(i, k)
			m := at.Time().UTC().Format("2006-01")
			if st != policy.Denied || !slices.Contains(keys, m) {
				continue
			}
			grp := groupOf(view.Regions[view.StateRegion(view.StateAt(i, at))])
			if byMonth[m] == nil {
				byMonth[m] = map[string]int64{}
			}
			if !slices.Contains(out.OptOutGroups, grp) {
				out.OptOutGroups = append(out.OptOutGroups, grp)
			}
			byMonth[m][grp]++
		}
	}
	sort.Strings(out.OptOutGroups)
	if len(out.OptOutGroups) > 0 {
		for _, k := range keys {
			mc := MonthCount{Month: k}
			for _, grp := range out.OptOutGroups {
				mc.Groups = append(mc.Groups, byMonth[k][grp])
			}
			out.OptOuts = append(out.OptOuts, mc)
		}
	}
	// The widest recipient class the policy names (third parties if any).
	var target *policy.Recipient
	for i := range doc.Recipients {
		if target == nil || doc.Recipients[i].Class > target.Class {
			target = &doc.Recipients[i]
		}
	}
	if target == nil {
		return nil
	}
	for _, purpose := range doc.LeafPurposes() {
		states := decision.ConsentAll(vs, view, decision.Target{Purpose: purpose, Recipient: target.ID, Class: target.Class})
		counts := map[string]*GroupCounts{}
		for i := 0; i < view.Len(); i++ {
			grp := groupOf(view.Regions[view.StateRegion(view.StateAt(i, t))])
			if counts[grp] == nil {
				counts[grp] = &GroupCounts{Group: grp}
			}
			switch states[i] {
			case policy.Granted:
				counts[grp].Granted++
			case policy.Denied:
				counts[grp].Denied++
			default:
				counts[grp].None++
			}
		}
		pr := PurposeByRegion{Purpose: purpose, Recipient: target.ID, Class: target.Class.String(), Default: "denied"}
		if doc.DefaultGranted(purpose) {
			pr.Default = "granted"
		}
		for _, c := range counts {
			pr.Groups = append(pr.Groups, *c)
		}
		sort.Slice(pr.Groups, func(i, j int) bool { return pr.Groups[i].Group < pr.Groups[j].Group })
		out.Today = append(out.Today, pr)
	}
	return nil
}

// regionGroups returns the function naming a region's group as the policy
// names them, its own groups first (a code in "strict" and in @EEA counts
// as "strict"), in name order; "unknown" for no region, "elsewhere" for a
// region in no group.
func regionGroups(doc *policy.Document) func(code string) string {
	var names []string
	for name := range doc.Groups {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.HasPrefix(names[i], "@"), strings.HasPrefix(names[j], "@")
		if a != b {
			return !a
		}
		return names[i] < names[j]
	})
	return func(code string) string {
		if code == "" {
			return "unknown"
		}
		for _, name := range names {
			for _, c := range doc.Groups[name] {
				if c == code || strings.HasPrefix(code, c+"-") {
					return name
				}
			}
		}
		return "elsewhere"
	}
}
