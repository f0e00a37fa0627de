package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/impact"
)

// diffShown is how many lines of a diff the version list shows before
// linking to the whole diff; diffPage how many a page of the diff shows.
const (
	diffShown = 12
	diffPage  = 50
)

// versionRow is a published version with the diff from the one before.
type versionRow struct {
	gate.PolicyInfo
	D         *gate.Diff
	Prev      string
	Diff      []string
	More      int // lines not shown
	Widening  int
	Narrowing int
	Violation bool
	Exposed   *int
}

// exportRow is an export with its counts and chart.
type exportRow struct {
	gate.ExportSummary
	Purpose, Recipient string
	Chart              string
}

// recipientNotices are one recipient's notices as the console lists them.
type recipientNotices struct {
	gate.RecipientNotices
	Who  string
	Rows []noticeRow
}

// noticeRow is one notice in the console's table.
type noticeRow struct {
	gate.Notice
	Issued, Deadline string
	Last             string // the latest answer: status, who, when, note
}

func noticeRows(w gate.Words, rs []gate.RecipientNotices) []recipientNotices {
	out := make([]recipientNotices, 0, len(rs))
	for _, r := range rs {
		v := recipientNotices{RecipientNotices: r, Who: w.Recipient(r.Recipient)}
		for _, n := range r.Notices {
			row := noticeRow{Notice: n, Issued: when(n.IssuedAt), Deadline: "none"}
			if n.Deadline != 0 {
				row.Deadline = when(n.Deadline)
			}
			if k := len(n.Answers); k > 0 {
				a := n.Answers[k-1]
				row.Last = a.Status + " by " + a.By + ", " + when(a.At)
				if a.Note != "" {
					row.Last += ": “" + a.Note + "”"
				}
			}
			v.Rows = append(v.Rows, row)
		}
		out = append(out, v)
	}
	return out
}

// impactView is the impact queue's page as the console shows it.
type impactView struct {
	*gate.ImpactPage
	Filter     gate.ImpactFilter
	From, To   int
	Prev, Next string // links to the pages before and after ("" for none)
}

// staffSession is session for the console's pages: the platform's staff
// only.
func (p *pages) staffSession(w http.ResponseWriter, r *http.Request, post bool) (access.Principal, string, bool) {
	pr, csrf, ok := p.session(w, r, post)
	if ok && !pr.Role.Staff() {
		p.fail(w, r, http.StatusForbidden, "The admin console is for the platform's staff. A member's settings are in the privacy centre.")
		return pr, csrf, false
	}
	return pr, csrf, ok
}

func (p *pages) admin(w http.ResponseWriter, r *http.Request) {
	pr, csrf, ok := p.staffSession(w, r, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	f := gate.ImpactFilter{Export: q.Get("export"), Status: q.Get("status"), Reason: q.Get("reason"), Offset: (page - 1) * 50, Limit: 50}
	if ex, subj, ok := strings.Cut(q.Get("marked"), "/"); ok {
		f.FindExport, f.FindSubject = ex, subj
	}
	c, err := p.g.Console(r.Context(), pr, f)
	if err != nil {
		p.failErr(w, r, "The console could not be loaded", err)
		return
	}
	words := c.Words
	var versions []versionRow
	for _, h := range c.Versions {
		row := versionRow{PolicyInfo: h.Version, D: h.Diff}
		if d := h.Diff; d != nil {
			row.Prev, row.Widening, row.Narrowing, row.Violation, row.Exposed = d.Old, d.Widening, d.Narrowing, d.Notice.Violation, d.Exposed
			lines := diffLines(d)
			if len(lines) > diffShown {
				row.More = len(lines) - diffShown
				lines = lines[:diffShown]
			}
			row.Diff = lines
		}
		versions = append(versions, row)
	}
	var events []bar
	for _, m := range c.Months {
		events = append(events, bar{Label: monthWords(m.Month), Parts: []int64{m.Granted, m.Denied}})
	}
	charts := []string{columns("Consent choices recorded per month", "",
		[]series{{"agreements", "c-agreed"}, {"refusals", "c-refused"}}, events)}
	standing := []series{{"agreed", "c-agreed"}, {"on by default (never chose)", "c-default-on"}, {"refused", "c-refused"},
		{"off (never chose, opt-in)", "c-default-off"}, {"not possible (a rule forbids it)", "c-not-possible"}}
	parts := func(c gate.Standings) []int64 {
		return []int64{c.Agreed, c.OnByDefault, c.Refused, c.OffByDefault, c.NotPossible}
	}
	for _, s := range c.OverTime {
		var bars []bar
		for _, m := range s.Months {
			bars = append(bars, bar{Label: monthWords(m.Month), Parts: parts(m.Standings)})
		}
		charts = append(charts, columns(
			fmt.Sprintf("%s by %s: members at each month's end", words.Purpose(s.Purpose), words.Recipient(s.Class)), "", standing, bars))
	}
	if len(c.OptOutGroups) > 0 {
		var opt []bar
		for _, m := range c.OptOuts {
			opt = append(opt, bar{Label: monthWords(m.Month), Parts: m.Groups})
		}
		var ss []series
		for k, g := range c.OptOutGroups {
			ss = append(ss, series{"region " + g, fmt.Sprintf("c-r%d", k%6)})
		}
		charts = append(charts, columns("Refusals per month, by the member's region then", "", ss, opt))
	}
	for _, t := range c.Today {
		var bars []bar
		for _, g := range t.Groups {
			bars = append(bars, bar{Label: "region " + g.Group, Parts: parts(g.Standings)})
		}
		charts = append(charts, chart(fmt.Sprintf("%s by %s (%s) today, by region", words.Purpose(t.Purpose), words.Recipient(t.Recipient), words.Recipient(t.Class)), "", standing, bars))
	}
	var exports []exportRow
	for _, e := range c.Exports {
		exports = append(exports, exportRow{ExportSummary: e, Purpose: words.Purpose(e.Purpose), Recipient: words.Recipient(e.Recipient), Chart: exportChart(e)})
	}
	iv := impactView{ImpactPage: c.Impact, Filter: f}
	if iv.Matched > 0 {
		iv.From, iv.To = iv.Offset+1, iv.Offset+len(iv.Items)
	}
	link := func(page int) string {
		v := url.Values{"page": {strconv.Itoa(page)}}
		for k, x := range map[string]string{"export": f.Export, "status": f.Status, "reason": f.Reason} {
			if x != "" {
				v.Set(k, x)
			}
		}
		return "/admin?" + v.Encode() + "#impact"
	}
	if page > 1 {
		iv.Prev = link(page - 1)
	}
	if iv.Offset+len(iv.Items) < iv.Matched {
		iv.Next = link(page + 1)
	}
	var labels []string
	for _, h := range c.Versions {
		labels = append(labels, h.Version.Version)
	}
	p.render(w, "admin.html", http.StatusOK, map[string]any{
		"Role": string(pr.Role), "CanMark": pr.Can(access.MarkImpact, ""), "CSRF": csrf,
		"Versions": versions, "Labels": labels, "Charts": charts, "Exports": exports,
		"Checkpoint": c.Checkpoint, "CheckpointSize": c.CheckpointSize, "LogSize": c.LogSize, "Impact": iv, "Statuses": impact.Statuses,
		"Back": r.URL.RequestURI() + "#impact", "Notices": noticeRows(words, c.Notices),
	})
}

// diffLines are a diff's lines as the console shows them: in the
// policy's words, each id beside them.
func diffLines(d *gate.Diff) []string {
	var out []string
	for _, ch := range d.Changes {
		if ch.Words != "" {
			out = append(out, ch.Words)
		} else {
			out = append(out, ch.String())
		}
	}
	return out
}

// diff compares any two published versions (GET /admin/diff?from=A&to=B),
// the whole diff a page at a time.
func (p *pages) diff(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := p.staffSession(w, r, false)
	if !ok {
		return
	}
	infos, err := p.g.Policies(r.Context(), pr)
	if err != nil {
		p.failErr(w, r, "The versions could not be loaded", err)
		return
	}
	slices.Reverse(infos) // newest first, as the console lists them
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	data := map[string]any{"Infos": infos, "From": from, "To": to}
	if from == "" || to == "" {
		p.render(w, "diff.html", http.StatusOK, data)
		return
	}
	d, err := p.g.Diff(r.Context(), pr, gate.PolicyArg{Label: from}, gate.PolicyArg{Label: to})
	if err != nil {
		p.failErr(w, r, "Those versions could not be compared", err)
		return
	}
	lines := diffLines(d)
	page, _ := strconv.Atoi(q.Get("page"))
	pages := (len(lines) + diffPage - 1) / diffPage
	if page < 1 || page > pages {
		page = 1
	}
	lo, hi := (page-1)*diffPage, min(page*diffPage, len(lines))
	data["D"], data["Lines"], data["Page"], data["Pages"], data["First"] = d, lines[lo:hi], page, pages, lo+1
	link := func(n int) string {
		return "/admin/diff?" + url.Values{"from": {from}, "to": {to}, "page": {strconv.Itoa(n)}}.Encode()
	}
	if page > 1 {
		data["Prev"] = link(page - 1)
	}
	if page < pages {
		data["Next"] = link(page + 1)
	}
	p.render(w, "diff.html", http.StatusOK, data)
}

// monthWords is a YYYY-MM month as people read it ("Sep 2024").
func monthWords(m string) string {
	if len(m) != 7 {
		return m
	}
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	n, err := strconv.Atoi(m[5:])
	if err != nil || n < 1 || n > 12 {
		return m
	}
	return months[n-1] + " " + m[:4]
}

// bar is one bar of a stacked bar chart.
type bar struct {
	Label string
	Parts []int64
}

// total is the bar's length: the sum of its parts.
func (b bar) total() int64 {
	var t int64
	for _, v := range b.Parts {
		t += v
	}
	return t
}

// largest is the longest bar's total (at least 1, the charts' scale).
func largest(bars []bar) int64 {
	var max int64 = 1
	for _, b := range bars {
		max = maxOf(max, b.total())
	}
	return max
}

// series is one part of the bars: its name and the class that fills it
// (a colour and a pattern, so that no two differ by hue alone).
type series struct{ Name, Class string }

// chart draws a horizontal stacked bar chart as inline SVG whose bars are
// laid out in percentages of the page's width, so that its text keeps
// its size on a phone: each bar under its full label, its total beside
// it, a legend in HTML, and the numbers as a table for anyone who would
// rather read them.
func chart(title, caption string, ss []series, bars []bar) string {
	const rowH = 42
	max := largest(bars)
	var sb strings.Builder
	writeHead(&sb, title, caption, ss)
	h := rowH*len(bars) + 4
	fmt.Fprintf(&sb, `<svg class="bars" width="100%%" height="%d" role="img" aria-label="%s (the numbers are in the table below)">`, h, html.EscapeString(title))
	for i, b := range bars {
		y := i * rowH
		total := b.total()
		fmt.Fprintf(&sb, `<text x="0" y="%d" class="label">%s</text>`, y+14, html.EscapeString(b.Label))
		x := 0.0
		for k, v := range b.Parts {
			if v <= 0 {
				continue
			}
			wid := float64(v) / float64(max) * 86
			fmt.Fprintf(&sb, `<rect x="%.2f%%" y="%d" width="%.2f%%" height="18" class="%s seg"><title>%s, %s: %d</title></rect>`, x, y+19, wid, ss[k].Class, html.EscapeString(b.Label), html.EscapeString(ss[k].Name), v)
			x += wid
		}
		fmt.Fprintf(&sb, `<text x="%.2f%%" dx="6" y="%d" class="value">%d</text>`, x, y+33, total)
	}
	sb.WriteString(`</svg>`)
	writeNumbers(&sb, title, ss, bars)
	return sb.String()
}

// writeHead opens a chart's figure: its caption and its legend.
func writeHead(sb *strings.Builder, title, caption string, ss []series) {
	fmt.Fprintf(sb, `<figure class="chart"><figcaption><strong>%s</strong>`, html.EscapeString(title))
	if caption != "" {
		fmt.Fprintf(sb, ` <span class="small">%s</span>`, html.EscapeString(caption))
	}
	sb.WriteString(`</figcaption><ul class="legend">`)
	for _, s := range ss {
		fmt.Fprintf(sb, `<li><svg width="18" height="14" aria-hidden="true"><rect x="0.5" y="0.5" width="17" height="13" class="%s seg"/></svg>%s</li>`, s.Class, html.EscapeString(s.Name))
	}
	sb.WriteString(`</ul>`)
}

// writeNumbers closes a chart's figure with its numbers as a table.
func writeNumbers(sb *strings.Builder, title string, ss []series, bars []bar) {
	sb.WriteString(`<details class="numbers"><summary>The numbers<span class="sr">: ` + html.EscapeString(title) + `</span></summary><table><thead><tr><th scope="col"></th>`)
	for _, s := range ss {
		fmt.Fprintf(sb, `<th scope="col">%s</th>`, html.EscapeString(s.Name))
	}
	sb.WriteString(`<th scope="col">total</th></tr></thead><tbody>`)
	for _, b := range bars {
		fmt.Fprintf(sb, `<tr><th scope="row">%s</th>`, html.EscapeString(b.Label))
		for _, v := range b.Parts {
			fmt.Fprintf(sb, `<td>%d</td>`, v)
		}
		fmt.Fprintf(sb, `<td>%d</td></tr>`, b.total())
	}
	sb.WriteString(`</tbody></table></details></figure>`)
}

// columns draws a time series as stacked columns, one per month, laid
// out in percentages of the page's width with text at its own size: a
// label under every few columns (at most four, so that they fit a phone), the largest total beside
// the top line, the legend in HTML and every number in the table.
func columns(title, caption string, ss []series, bars []bar) string {
	const plotH, top = 150, 18
	max := largest(bars)
	var sb strings.Builder
	writeHead(&sb, title, caption, ss)
	every := (len(bars) + 3) / 4
	fmt.Fprintf(&sb, `<svg class="bars columns" width="100%%" height="%d" role="img" aria-label="%s (the numbers are in the table below)">`, top+plotH+24, html.EscapeString(title))
	fmt.Fprintf(&sb, `<line x1="0" x2="100%%" y1="%d" y2="%d" class="grid"/><text x="0" y="%d" class="value">%d</text>`, top, top, top-5, max)
	fmt.Fprintf(&sb, `<line x1="0" x2="100%%" y1="%d" y2="%d" class="axis"/>`, top+plotH, top+plotH)
	colW := 100 / float64(len(bars))
	for i, b := range bars {
		x := float64(i) * colW
		y := float64(top + plotH)
		fmt.Fprintf(&sb, `<g><title>%s: %s</title>`, html.EscapeString(b.Label), html.EscapeString(partsWords(ss, b.Parts, b.total())))
		for k, v := range b.Parts {
			if v <= 0 {
				continue
			}
			h := float64(v) / float64(max) * plotH
			y -= h
			fmt.Fprintf(&sb, `<rect x="%.2f%%" y="%.1f" width="%.2f%%" height="%.1f" class="%s seg"/>`, x+colW*.1, y, colW*.8, h, ss[k].Class)
		}
		sb.WriteString(`</g>`)
		if i%every == 0 {
			anchor, at := "start", x+colW*.1
			if x > 80 { // near the right edge: the label ends at its column
				anchor, at = "end", x+colW*.9
			}
			fmt.Fprintf(&sb, `<text x="%.2f%%" y="%d" class="label" text-anchor="%s">%s</text>`, at, top+plotH+17, anchor, html.EscapeString(b.Label))
		}
	}
	sb.WriteString(`</svg>`)
	writeNumbers(&sb, title, ss, bars)
	return sb.String()
}

// partsWords says a bar's parts ("agreed 3, refused 1 of 4").
func partsWords(ss []series, parts []int64, total int64) string {
	var out []string
	for k, v := range parts {
		out = append(out, fmt.Sprintf("%s %d", ss[k].Name, v))
	}
	return strings.Join(out, ", ") + fmt.Sprintf(" (%d in all)", total)
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func exportChart(e gate.ExportSummary) string {
	bars := []bar{{Label: "included", Parts: []int64{e.Included, 0}}}
	for _, rc := range e.Reasons {
		bars = append(bars, bar{Label: "left out: " + rc.Reason, Parts: []int64{0, rc.Count}})
	}
	return chart(fmt.Sprintf("Export %s: %d records read", e.ID, e.Read), "", []series{{"included", "c-agreed"}, {"left out", "c-refused"}}, bars)
}

// mark sets an impact item's status from the console.
func (p *pages) mark(w http.ResponseWriter, r *http.Request) {
	pr, _, ok := p.staffSession(w, r, true)
	if !ok {
		return
	}
	if !pr.Can(access.MarkImpact, "") {
		p.fail(w, r, http.StatusForbidden, "Auditors read; operators and admins record what was done.")
		return
	}
	_, err := p.g.MarkImpact(r.Context(), pr, r.FormValue("export"), r.FormValue("subject"), r.FormValue("status"), r.FormValue("note"))
	if err != nil {
		p.failErr(w, r, "The status could not be saved", err)
		return
	}
	// Back to the page the item was saved from, saying what was saved.
	back, _ := url.Parse("/admin")
	if ref, err := url.Parse(r.FormValue("back")); err == nil && ref.Path == "/admin" {
		back.RawQuery = ref.RawQuery
	}
	q := back.Query()
	q.Set("marked", r.FormValue("export")+"/"+r.FormValue("subject"))
	back.RawQuery, back.Fragment = q.Encode(), "marked"
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}
