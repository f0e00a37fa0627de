package web

import (
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/impact"
)

// versionRow is a published version with the diff from the one before.
type versionRow struct {
	gate.PolicyInfo
	Prev      string
	Diff      []string
	Widening  int
	Narrowing int
	Violation bool
	Exposed   *int
}

// exportRow is an export with its counts and chart.
type exportRow struct {
	gate.ExportSummary
	Chart string
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
	c, err := p.g.Console(r.Context(), pr)
	if err != nil {
		p.failErr(w, "The console could not be loaded", err)
		return
	}
	var versions []versionRow
	for _, h := range c.Versions {
		row := versionRow{PolicyInfo: h.Version}
		if d := h.Diff; d != nil {
			row.Prev, row.Widening, row.Narrowing, row.Violation, row.Exposed = d.Old, d.Widening, d.Narrowing, d.Notice.Violation, d.Exposed
			for k, ch := range d.Changes {
				if k == 8 {
					row.Diff = append(row.Diff, fmt.Sprintf("… and %d more", len(d.Changes)-8))
					break
				}
				row.Diff = append(row.Diff, ch.String())
			}
		}
		versions = append(versions, row)
	}
	var bars []bar
	for _, m := range c.Months {
		bars = append(bars, bar{Label: m.Month, Parts: []int64{m.Granted, m.Denied}})
	}
	overTime := stackedBars("Consent events recorded per month", []string{"granted", "denied"}, bars)
	if len(c.OptOutGroups) > 0 {
		var opt []bar
		for _, m := range c.OptOuts {
			opt = append(opt, bar{Label: m.Month, Parts: m.Groups})
		}
		overTime += "\n" + stackedBarsIn("r", "Opt-outs per month by the member's region then", c.OptOutGroups, opt)
	}
	var charts []string
	for _, t := range c.Today {
		var bars []bar
		for _, g := range t.Groups {
			bars = append(bars, bar{Label: g.Group, Parts: []int64{g.Granted, g.Denied, g.None}})
		}
		none := "never chose (off: opt-in)"
		if t.Default == "granted" {
			none = "never chose (on by default)"
		}
		charts = append(charts, stackedBars(fmt.Sprintf("Consent today to %s by %s (%s), by region", t.Purpose, t.Recipient, t.Class), []string{"granted", "denied", none}, bars))
	}
	var exports []exportRow
	for _, e := range c.Exports {
		exports = append(exports, exportRow{ExportSummary: e, Chart: exportChart(e)})
	}
	p.render(w, "admin.html", http.StatusOK, map[string]any{
		"Role": string(pr.Role), "CanMark": pr.Can(access.MarkImpact, ""), "CSRF": csrf,
		"Versions": versions, "OverTime": overTime, "ByRegion": strings.Join(charts, "\n"), "Exports": exports,
		"Checkpoint": c.Checkpoint, "CheckpointSize": c.CheckpointSize, "LogSize": c.LogSize, "Impact": c.Impact, "Statuses": impact.Statuses,
	})
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

func exportChart(e gate.ExportSummary) string {
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
	_, err := p.g.MarkImpact(r.Context(), pr, r.FormValue("export"), r.FormValue("subject"), r.FormValue("status"), r.FormValue("note"))
	if err != nil {
		p.failErr(w, "The status could not be saved", err)
		return
	}
	http.Redirect(w, r, "/admin#impact", http.StatusSeeOther)
}
