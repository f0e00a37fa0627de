package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

func manifestOf(b []byte) (*export.Manifest, bool) {
	var m export.Manifest
	return &m, json.Unmarshal(b, &m) == nil
}

// versionRow is a published version with the diff from the one before.
type versionRow struct {
	store.Policy
	Diff      []string
	Widening  int
	Narrowing int
	Violation bool
	Prev      string
}

// exportRow is an export with its counts and chart.
type exportRow struct {
	store.Export
	Read, Included int64
	Chart          string
	Reasons        []reasonCount
}

type reasonCount struct {
	Reason string
	Count  int64
}

func (p *pages) admin(w http.ResponseWriter, r *http.Request) {
	pr, csrf, ok := p.session(w, r, false)
	if !ok {
		return
	}
	if pr.Role == access.Subject {
		p.fail(w, http.StatusForbidden, "The admin console is for the platform's staff. Your settings are in the privacy centre.")
		return
	}
	ctx := r.Context()
	fail := func(what string, err error) {
		p.s.Logger.Error("admin", "what", what, "err", err)
		p.fail(w, http.StatusInternalServerError, what+" could not be loaded.")
	}
	vs, ps, err := p.s.Versions(ctx)
	if err != nil {
		fail("The policy versions", err)
		return
	}
	var versions []versionRow
	for i, v := range ps {
		row := versionRow{Policy: v}
		if i > 0 {
			oldT, _ := vs.ByLabel(ps[i-1].Version)
			newT, _ := vs.ByLabel(v.Version)
			if oldT != nil && newT != nil {
				if d, err := policy.Compare(oldT, newT, v.PublishedAt); err == nil {
					row.Prev, row.Widening, row.Narrowing, row.Violation = ps[i-1].Version, d.Widening, d.Narrowing, d.Notice.Violation
					for k, c := range d.Changes {
						if k == 8 {
							row.Diff = append(row.Diff, fmt.Sprintf("… and %d more", len(d.Changes)-8))
							break
						}
						row.Diff = append(row.Diff, c.String())
					}
				}
			}
		}
		versions = append(versions, row)
	}
	for i, j := 0, len(versions)-1; i < j; i, j = i+1, j-1 {
		versions[i], versions[j] = versions[j], versions[i]
	}

	now := timestamp.Now()
	overTime, byRegion, err := p.consentCharts(r, vs, now)
	if err != nil {
		fail("Consent", err)
		return
	}

	es, err := p.s.Store.Exports(ctx)
	if err != nil {
		fail("The exports", err)
		return
	}
	var exports []exportRow
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		row := exportRow{Export: e}
		if m, ok := manifestOf(e.Manifest); ok {
			row.Read, row.Included = m.Counts.Read, m.Counts.Included
			for reason, n := range m.Counts.ExcludedByReason {
				row.Reasons = append(row.Reasons, reasonCount{reason, n})
			}
			sort.Slice(row.Reasons, func(a, b int) bool {
				if row.Reasons[a].Count != row.Reasons[b].Count {
					return row.Reasons[a].Count > row.Reasons[b].Count
				}
				return row.Reasons[a].Reason < row.Reasons[b].Reason
			})
			row.Chart = exportChart(row)
		}
		exports = append(exports, row)
	}

	var checkpoint string
	var size int64
	if cps, err := p.s.Store.Checkpoints(ctx); err == nil && len(cps) > 0 {
		checkpoint = string(cps[len(cps)-1].Note)
		if p.s.Signer != nil {
			if cp, err := translog.OpenCheckpoint(cps[len(cps)-1].Note, p.s.Signer.Verifier); err == nil {
				size = cp.Size
			}
		}
	}
	logSize, _ := p.s.Store.LogSize(ctx)

	items, err := impact.Items(ctx, p.s.Store, timestamp.Min)
	if err != nil {
		fail("The impact queue", err)
		return
	}
	p.render(w, "admin.html", http.StatusOK, map[string]any{
		"Role": string(pr.Role), "CanMark": pr.Can(access.MarkImpact, ""), "CSRF": csrf,
		"Versions": versions, "OverTime": overTime, "ByRegion": byRegion, "Exports": exports,
		"Checkpoint": checkpoint, "CheckpointSize": size, "LogSize": logSize, "Impact": items, "Statuses": impact.Statuses,
	})
}

// consentCharts draws consent events per month by state (the last 24
// months with events) and today's consent per region group for the policy's
// first purpose and each recipient class.
func (p *pages) consentCharts(r *http.Request, vs *decision.Versions, now timestamp.Time) (string, string, error) {
	// One view of every subject as of now serves every chart.
	view, err := store.LoadView(r.Context(), p.s.Store, now, vs.Attributes(), nil)
	if err != nil {
		return "", "", err
	}
	type monthly struct{ granted, denied int }
	months := map[string]*monthly{}
	for i := 0; i < view.Len(); i++ {
		for k := 0; k < view.NumConsent(i); k++ {
			e := view.ConsentEvent(i, k)
			m := e.At.Time().UTC().Format("2006-01")
			if months[m] == nil {
				months[m] = &monthly{}
			}
			if e.State == policy.Granted {
				months[m].granted++
			} else {
				months[m].denied++
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
	var bars []bar
	for _, k := range keys {
		bars = append(bars, bar{Label: k, Parts: []int64{int64(months[k].granted), int64(months[k].denied)}})
	}
	overTime := stackedBars("Consent events recorded per month", []string{"granted", "denied"}, bars)

	if vs.IndexAt(now) == 0 {
		return overTime, "", nil
	}
	doc := vs.At(now).Doc
	// Region groups as the policy names them, its own groups first (so a
	// code in "strict" and in @EEA counts as "strict"), in name order.
	var groupNames []string
	for name := range doc.Groups {
		groupNames = append(groupNames, name)
	}
	sort.Slice(groupNames, func(i, j int) bool {
		a, b := strings.HasPrefix(groupNames[i], "@"), strings.HasPrefix(groupNames[j], "@")
		if a != b {
			return !a
		}
		return groupNames[i] < groupNames[j]
	})
	groupOf := func(code string) string {
		if code == "" {
			return "unknown"
		}
		for _, name := range groupNames {
			for _, c := range doc.Groups[name] {
				if c == code || strings.HasPrefix(code, c+"-") {
					return name
				}
			}
		}
		return "elsewhere"
	}
	// Opt-outs over time by region group: each denial by the subject's
	// region when it was made.
	regionMonths := map[string]map[string]int64{}
	var regionNames []string
	for i := 0; i < view.Len(); i++ {
		for k := 0; k < view.NumConsent(i); k++ {
			e := view.ConsentEvent(i, k)
			if e.State != policy.Denied {
				continue
			}
			m := e.At.Time().UTC().Format("2006-01")
			if !slices.Contains(keys, m) {
				continue
			}
			g := groupOf(view.Regions[view.StateRegion(view.StateAt(i, e.At))])
			if regionMonths[m] == nil {
				regionMonths[m] = map[string]int64{}
			}
			if !slices.Contains(regionNames, g) {
				regionNames = append(regionNames, g)
			}
			regionMonths[m][g]++
		}
	}
	sort.Strings(regionNames)
	var optBars []bar
	for _, k := range keys {
		b := bar{Label: k}
		for _, g := range regionNames {
			b.Parts = append(b.Parts, regionMonths[k][g])
		}
		optBars = append(optBars, b)
	}
	if len(regionNames) > 0 {
		overTime += "\n" + stackedBarsIn("r", "Opt-outs per month by the member's region then", regionNames, optBars)
	}

	// One chart per leaf purpose, for the widest recipient class the
	// policy names (third parties if any): granted, denied, never chose.
	var target *policy.Recipient
	for i := range doc.Recipients {
		if target == nil || doc.Recipients[i].Class > target.Class {
			target = &doc.Recipients[i]
		}
	}
	var charts []string
	for _, purpose := range doc.Purposes {
		if !doc.IsLeafPurpose(purpose) || target == nil {
			continue
		}
		states := decision.ConsentAll(vs, view, decision.Target{Purpose: purpose, Recipient: target.ID, Class: target.Class})
		counts := map[string]*[3]int64{}
		for i := 0; i < view.Len(); i++ {
			g := groupOf(view.Regions[view.StateRegion(view.StateAt(i, now))])
			if counts[g] == nil {
				counts[g] = &[3]int64{}
			}
			switch states[i] {
			case policy.Granted:
				counts[g][0]++
			case policy.Denied:
				counts[g][1]++
			default:
				counts[g][2]++
			}
		}
		var groups []string
		for g := range counts {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		var bars []bar
		for _, g := range groups {
			c := counts[g]
			bars = append(bars, bar{Label: g, Parts: c[:]})
		}
		charts = append(charts, stackedBars(fmt.Sprintf("Consent today to %s by %s (%s), by region", purpose, target.ID, target.Class), []string{"granted", "denied", "never chose"}, bars))
	}
	return overTime, strings.Join(charts, "\n"), nil
}

// bar is one bar of a stacked bar chart.
type bar struct {
	Label string
	Parts []int64
}

// stackedBars draws a horizontal stacked bar chart as inline SVG, with a
// title and a legend for screen readers and eyes alike.
func stackedBars(title string, series []string, bars []bar) string {
	return stackedBarsIn("s", title, series, bars)
}

// stackedBarsIn draws with a palette: "s" (granted, denied, never chose)
// or "r" (categories without meaning in their colour).
func stackedBarsIn(palette, title string, series []string, bars []bar) string {
	const width, labelW, rowH = 640, 150, 22
	var max int64 = 1
	for _, b := range bars {
		var t int64
		for _, v := range b.Parts {
			t += v
		}
		if t > max {
			max = t
		}
	}
	h := 40 + rowH*len(bars) + 24
	var sb strings.Builder
	fmt.Fprintf(&sb, `<figure class="chart"><svg viewBox="0 0 %d %d" role="img" aria-label="%s" class="bars">`, width, h, html.EscapeString(title))
	fmt.Fprintf(&sb, `<title>%s</title>`, html.EscapeString(title))
	for i, b := range bars {
		y := 30 + i*rowH
		fmt.Fprintf(&sb, `<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, labelW-8, y+15, html.EscapeString(b.Label))
		x := float64(labelW)
		var total int64
		for k, v := range b.Parts {
			total += v
			wid := float64(v) / float64(max) * float64(width-labelW-60)
			if v > 0 {
				fmt.Fprintf(&sb, `<rect x="%.1f" y="%d" width="%.1f" height="%d" class="%s%d"><title>%s: %s %d</title></rect>`, x, y+2, wid, rowH-6, palette, k%8, html.EscapeString(b.Label), html.EscapeString(series[k]), v)
			}
			x += wid
		}
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d" class="value">%d</text>`, x+4, y+15, total)
	}
	y := 30 + len(bars)*rowH + 14
	x := labelW
	for k, s := range series {
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="12" height="12" class="%s%d"/><text x="%d" y="%d" class="legend">%s</text>`, x, y-10, palette, k%8, x+16, y, html.EscapeString(s))
		x += 30 + 8*len(s)
	}
	sb.WriteString(`</svg><figcaption>` + html.EscapeString(title) + `</figcaption></figure>`)
	return sb.String()
}

func exportChart(e exportRow) string {
	bars := []bar{{Label: "included", Parts: []int64{e.Included, 0}}}
	for _, rc := range e.Reasons {
		label := rc.Reason
		if len(label) > 22 {
			label = label[:21] + "…"
		}
		bars = append(bars, bar{Label: label, Parts: []int64{0, rc.Count}})
	}
	return stackedBars(fmt.Sprintf("Export %s: %d records read", e.ID, e.Read), []string{"included", "excluded"}, bars)
}

// mark sets an impact item's status from the console.
func (p *pages) mark(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := p.session(w, r, true)
	if !ok {
		return
	}
	if !pr.Can(access.MarkImpact, "") {
		p.fail(w, http.StatusForbidden, "Auditors read; operators and admins record what was done.")
		return
	}
	status := r.FormValue("status")
	if !impact.ValidStatus(status) {
		p.fail(w, http.StatusBadRequest, "That status does not exist.")
		return
	}
	m := store.ImpactMark{ExportID: r.FormValue("export"), Subject: r.FormValue("subject"), Status: status, Note: r.FormValue("note"), At: timestamp.Now()}
	if err := impact.Mark(r.Context(), p.s.Store, m); errors.Is(err, impact.ErrNotItem) {
		p.fail(w, http.StatusBadRequest, "That item is not in the impact queue.")
		return
	} else if err != nil {
		p.fail(w, http.StatusInternalServerError, "The status could not be saved.")
		return
	}
	http.Redirect(w, r, "/admin#impact", http.StatusSeeOther)
}
