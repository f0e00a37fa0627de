package gate

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// Console is what the admin console shows: the policy history with its
// diffs, consent over time and by region, the exports with their counts,
// the log's checkpoint and the impact queue.
type Console struct {
	Versions []History `json:"versions"`
	// Words are the version in force's words for its names (gate.Words).
	Words Words `json:"words"`
	// Months are every month from the first with a consent event (at
	// most 24 back) to the present one, oldest first, empty ones too.
	Months []MonthCount `json:"months"`
	// OverTime is, per leaf purpose and recipient class, the members'
	// consent at the end of each of Months (the present month: now).
	OverTime []ConsentSeries `json:"over_time"`
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
	Impact         *ImpactPage       `json:"impact"` // the page of the queue the filter asked for
	// Notices are the notices per recipient (SPEC §11), by recipient.
	Notices []RecipientNotices `json:"notices"`
}

// RecipientNotices are one recipient's notices: how many are open and
// overdue, and every one, newest first.
type RecipientNotices struct {
	Recipient string   `json:"recipient"`
	Open      int      `json:"open"`
	Overdue   int      `json:"overdue"`
	Notices   []Notice `json:"notices"`
}

// MonthCount is one month's counts.
type MonthCount struct {
	Month   string  `json:"month"` // YYYY-MM
	Granted int64   `json:"granted,omitempty"`
	Denied  int64   `json:"denied,omitempty"`
	Groups  []int64 `json:"groups,omitempty"` // by OptOutGroups
}

// ConsentSeries is the members' consent to one leaf purpose by one
// recipient class (its first recipient), month by month.
type ConsentSeries struct {
	Purpose   string       `json:"purpose"`
	Class     string       `json:"class"`
	Recipient string       `json:"recipient"`
	Months    []StateCount `json:"months"`
}

// StateCount is how many members stood where at a month's end (those the
// store knew then), as the version in force then decides a record of
// theirs (decision.StandingOverTime): not possible when a rule forbids the
// use whatever they choose, else by their choice, and those who never
// chose by what the version made of it (on by default under an opt-out
// default and no rule asking for consent for every kind of data; off
// otherwise).
type StateCount struct {
	Month string `json:"month"`
	Standings
}

// Standings count members by decision.Standing.
type Standings struct {
	Agreed       int64 `json:"agreed"`
	Refused      int64 `json:"refused"`
	OnByDefault  int64 `json:"on_by_default"`
	OffByDefault int64 `json:"off_by_default"`
	NotPossible  int64 `json:"not_possible"`
}

func (c *Standings) add(s decision.Standing) {
	switch s {
	case decision.Agreed:
		c.Agreed++
	case decision.Refused:
		c.Refused++
	case decision.OnByDefault:
		c.OnByDefault++
	case decision.NotPossible:
		c.NotPossible++
	default:
		c.OffByDefault++
	}
}

// PurposeByRegion is one purpose's consent today by region group.
type PurposeByRegion struct {
	Purpose   string        `json:"purpose"`
	Recipient string        `json:"recipient"`
	Class     string        `json:"class"`
	Default   string        `json:"default"` // what "never chose" means: granted or denied
	Groups    []GroupCounts `json:"groups"`
}

// GroupCounts are a region group's members by their standing.
type GroupCounts struct {
	Group string `json:"group"`
	Standings
}

// ExportSummary is an export with its counts.
type ExportSummary struct {
	ExportInfo
	Read     int64         `json:"read"`
	Included int64         `json:"included"`
	Reasons  []ReasonCount `json:"excluded_by_reason"` // by count, then reason
	// Jobs are the jobs known to have run on its output (OpenLineage).
	Jobs []LineageLink `json:"jobs"`
}

// ReasonCount is how many records a reason excluded.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// Console gathers the admin console's answers, over one view of the
// store now, with the page of the impact queue f asks for.
func (g *Gate) Console(ctx context.Context, p access.Principal, f ImpactFilter) (*Console, error) {
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
	out.Words = Words{}
	if vs.IndexAt(view.AsOf) > 0 {
		out.Words = WordsOf(vs.At(view.AsOf).Doc)
	}
	if err := consentCharts(vs, view, out); err != nil {
		return nil, err
	}
	es, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	jobs, err := g.lineageByExport(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(es) - 1; i >= 0; i-- {
		e := &es[i]
		row := ExportSummary{ExportInfo: exportInfo(e), Jobs: jobs[e.ID]}
		if row.Jobs == nil {
			row.Jobs = []LineageLink{}
		}
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
	items, err := g.impact(ctx, "", timestamp.Min, nowView)
	if err != nil {
		return nil, err
	}
	out.Impact = pageImpact(items, f)
	ns, err := g.notices(ctx)
	if err != nil {
		return nil, err
	}
	out.Notices = noticesByRecipient(ns)
	return out, nil
}

// noticesByRecipient groups notices by recipient, newest first.
func noticesByRecipient(ns []Notice) []RecipientNotices {
	out := []RecipientNotices{}
	at := map[string]int{}
	for i := len(ns) - 1; i >= 0; i-- {
		n := ns[i]
		k, ok := at[n.Recipient]
		if !ok {
			k = len(out)
			at[n.Recipient] = k
			out = append(out, RecipientNotices{Recipient: n.Recipient})
		}
		r := &out[k]
		if noticeOpen(n.Status) {
			r.Open++
		}
		if n.Overdue {
			r.Overdue++
		}
		r.Notices = append(r.Notices, n)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Recipient < out[b].Recipient })
	return out
}

// consentCharts counts consent events per month by state (the last 24
// months with events), denials per month by the member's region group
// then, and today's consent per region group for each leaf purpose.
func consentCharts(vs *decision.Versions, view *consent.View, out *Console) error {
	t := view.AsOf
	months := map[string]*MonthCount{}
	first := ""
	for i := 0; i < view.Len(); i++ {
		for k := 0; k < view.NumConsent(i); k++ {
			at, _, _, st := view.ConsentRaw(i, k)
			m := at.Time().UTC().Format("2006-01")
			if first == "" || m < first {
				first = m
			}
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
	keys := monthAxis(first, t)
	ends := make([]timestamp.Time, len(keys))
	for k, m := range keys {
		mc := MonthCount{Month: m}
		if months[m] != nil {
			mc = *months[m]
		}
		out.Months = append(out.Months, mc)
		ends[k] = monthEnd(m, t)
	}
	consentOverTime(vs, view, keys, ends, out)
	if vs.IndexAt(t) == 0 {
		return nil
	}
	doc := vs.At(t).Doc
	// Each of the view's regions' group, once (not per member).
	named := regionGroups(doc)
	groups := make([]string, len(view.Regions))
	for k, code := range view.Regions {
		groups[k] = named(code)
	}
	groupOf := func(i int, at timestamp.Time) string { return groups[view.StateRegion(view.StateAt(i, at))] }
	byMonth := map[string]map[string]int64{}
	for i := 0; i < view.Len(); i++ {
		for k := 0; k < view.NumConsent(i); k++ {
			at, _, _, st := view.ConsentRaw(i, k)
			m := at.Time().UTC().Format("2006-01")
			if st != policy.Denied || months[m] == nil || !slices.Contains(keys, m) {
				continue
			}
			grp := groupOf(i, at)
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
		states := decision.StandingOverTime(vs, view, decision.Target{Purpose: purpose, Recipient: target.ID, Class: target.Class}, []timestamp.Time{t})[0]
		counts := map[string]*GroupCounts{}
		for i := 0; i < view.Len(); i++ {
			grp := groupOf(i, t)
			if counts[grp] == nil {
				counts[grp] = &GroupCounts{Group: grp}
			}
			counts[grp].add(states[i])
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

// monthAxis is every month from first (YYYY-MM; "" for none) to t's, at
// most the last 24.
func monthAxis(first string, t timestamp.Time) []string {
	last := t.Time().UTC()
	start := time.Date(last.Year(), last.Month()-23, 1, 0, 0, 0, 0, time.UTC)
	if f, err := time.Parse("2006-01", first); err == nil && f.After(start) {
		start = f
	} else if err != nil {
		start = time.Date(last.Year(), last.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	var out []string
	for m := start; !m.After(last); m = m.AddDate(0, 1, 0) {
		out = append(out, m.Format("2006-01"))
	}
	return out
}

// monthEnd is the last instant of a month, or now for the present one.
func monthEnd(m string, now timestamp.Time) timestamp.Time {
	f, _ := time.Parse("2006-01", m)
	end := timestamp.FromTime(f.AddDate(0, 1, 0)) - 1
	if end > now {
		return now
	}
	return end
}

// consentOverTime counts, for each leaf purpose of the version in force
// now and each recipient class it declares (its first recipient standing
// for the class), the members the store knew at each month's end by their
// consent then (SPEC §2.2's latest applicable event) and, for those who
// never chose, by the default of the version in force then.
func consentOverTime(vs *decision.Versions, view *consent.View, months []string, ends []timestamp.Time, out *Console) {
	if vs.IndexAt(view.AsOf) == 0 {
		return
	}
	doc := vs.At(view.AsOf).Doc
	for _, purpose := range doc.LeafPurposes() {
		for class := policy.FirstParty; class <= policy.ThirdParty; class++ {
			var r *policy.Recipient
			for i := range doc.Recipients {
				if doc.Recipients[i].Class == class {
					r = &doc.Recipients[i]
					break
				}
			}
			if r == nil {
				continue
			}
			states := decision.StandingOverTime(vs, view, decision.Target{Purpose: purpose, Recipient: r.ID, Class: class}, ends)
			series := ConsentSeries{Purpose: purpose, Class: class.String(), Recipient: r.ID}
			for k, end := range ends {
				c := StateCount{Month: months[k]}
				for i, st := range states[k] {
					if view.Since(i) <= end {
						c.add(st)
					}
				}
				series.Months = append(series.Months, c)
			}
			out.OverTime = append(out.OverTime, series)
		}
	}
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
				if c == code || len(code) > len(c) && code[len(c)] == '-' && strings.HasPrefix(code, c) {
					return name
				}
			}
		}
		return "elsewhere"
	}
}
