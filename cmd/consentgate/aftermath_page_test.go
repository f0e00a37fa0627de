package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// aftermath is GET /v1/subjects/{id}/notices's answer, as the test reads it.
type aftermath struct {
	Subject     string `json:"subject"`
	AfterOptOut []struct {
		ExportID  string    `json:"export_id"`
		Recipient string    `json:"recipient"`
		AsOf      time.Time `json:"as_of"`
		Cause     string    `json:"cause"`
		At        time.Time `json:"at"`
		Records   int       `json:"records"`
		Notices   []struct {
			ID       string    `json:"id"`
			IssuedAt time.Time `json:"issued_at"`
			Deadline time.Time `json:"deadline"`
			Status   string    `json:"status"`
			Overdue  bool      `json:"overdue"`
			LogIndex int64     `json:"log_index"`
			Records  int       `json:"records"`
			Answers  []struct {
				Status string    `json:"status"`
				Note   string    `json:"note"`
				At     time.Time `json:"at"`
			} `json:"answers"`
		} `json:"notices"`
		Jobs []struct {
			Namespace string    `json:"namespace"`
			Job       string    `json:"job"`
			At        time.Time `json:"at"`
		} `json:"jobs"`
	} `json:"after_opt_out"`
}

// shownNotices are the notices of the demo's store (`notices --json`):
// the tour sends them on its story's calendar, one answered, one overdue,
// with a job linked to the export by an OpenLineage run event.
func shownNotices(t *testing.T, dir, store string) []map[string]any {
	t.Helper()
	var v struct{ Notices []map[string]any }
	if err := json.Unmarshal([]byte(ok(t, dir, store, "notices", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Notices) == 0 {
		t.Fatal("the demo sent no notice")
	}
	return v.Notices
}

// noticedMembers picks, from the impact queue, a member whose data a notice
// of each kind names — answered, overdue — one member for both when
// there is one.
func noticedMembers(t *testing.T, dir, store string, notices []map[string]any) []string {
	t.Helper()
	var answered, overdue []string
	for _, n := range notices {
		if n["overdue"] == true {
			overdue = append(overdue, n["id"].(string))
		} else if len(n["answers"].([]any)) > 0 {
			answered = append(answered, n["id"].(string))
		}
	}
	if len(answered) == 0 {
		t.Fatalf("no notice is answered: %v", notices)
	}
	if len(overdue) == 0 {
		t.Fatalf("no notice is overdue: %v", notices)
	}
	var v struct {
		Items []struct {
			Subject string
			At      time.Time
			Marks   []any
			Notices []struct{ ID string }
		}
	}
	issued := map[string]time.Time{}
	for _, n := range notices {
		issued[n["id"].(string)], _ = time.Parse(time.RFC3339Nano, n["issued_at"].(string))
	}
	if err := json.Unmarshal([]byte(ok(t, dir, store, "impact", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	has := map[string][2]bool{}
	var order []string
	for _, it := range v.Items {
		h, seen := has[it.Subject]
		for _, n := range it.Notices {
			// A member told about after their own choice, whom no other
			// part of this test marked: the story as it is meant.
			if len(it.Marks) > 0 || !it.At.Before(issued[n.ID]) {
				continue
			}
			h[0] = h[0] || slices.Contains(answered, n.ID)
			h[1] = h[1] || slices.Contains(overdue, n.ID)
		}
		has[it.Subject] = h
		if !seen {
			order = append(order, it.Subject)
		}
	}
	for _, s := range order {
		if h := has[s]; h[0] && h[1] {
			return []string{s}
		}
	}
	var out []string
	for k := range 2 {
		for _, s := range order {
			if has[s][k] {
				out = append(out, s)
				break
			}
		}
	}
	if len(out) != 2 {
		t.Fatalf("no member's item names an answered notice, or none an overdue one: %v", v.Items)
	}
	return out
}

func dayOf(t time.Time) string { return t.UTC().Format("2 Jan 2006") }

// aftermathChecks: the privacy centre's "After you said no" for members
// whose data the demo's notices name — one answered, one overdue, a job
// that trained on it — says what GET /v1/subjects/{id}/notices says, each
// notice's proof checks in the browser, and the console lists the
// notices per recipient and the jobs per export.
func aftermathChecks(t *testing.T, dir, store, url, axe string, token func(args ...string) string) {
	notices := shownNotices(t, dir, store)
	members := noticedMembers(t, dir, store, notices)
	s := &pageSession{t: t, ctx: browser(t), url: url, axe: axe}
	if err := chromedp.Do(s.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	sawAnswer, sawOverdue, sawJob := false, false, false
	shots := []string{"privacy-aftermath", "privacy-aftermath-overdue"} // the member with the answered notice, then the overdue one
	for k, member := range members {
		tok := token("--role", "subject", "--subject", member)
		req, _ := http.NewRequest("GET", url+"/v1/subjects/"+member+"/notices", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var api aftermath
		if err := json.Unmarshal(body, &api); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /v1/subjects/%s/notices: %d %s", member, resp.StatusCode, body)
		}
		s.width(1280)
		s.login("privacy", tok, false)
		if n := evalIn[int](s, `document.querySelectorAll("ul.after > li").length`); n != len(api.AfterOptOut) {
			t.Fatalf("%s: the page shows %d datasets after an opt-out, the API %d:\n%s", member, n, len(api.AfterOptOut), body)
		}
		if !strings.Contains(s.text("nav ul.toc"), "After you said no") {
			t.Errorf("the page's contents do not lead to the section")
		}
		var links []string
		for i, a := range api.AfterOptOut {
			li := s.text(fmt.Sprintf(`ul.after > li:nth-child(%d)`, i+1))
			want := []string{"Dataset " + a.ExportID, "decided as of " + dayOf(a.AsOf), "Partner X, an AI company"}
			switch a.Cause {
			case "withdrawal":
				want = append(want, "You withdrew on "+dayOf(a.At))
			case "ineligibility":
				want = append(want, "On "+dayOf(a.At)+" your details changed")
			default:
				want = append(want, "in force from "+dayOf(a.At)+", no longer allows")
			}
			if len(a.Notices) == 0 {
				want = append(want, "Not told yet")
			}
			for _, n := range a.Notices {
				want = append(want, "was told on "+dayOf(n.IssuedAt)+" ("+counted(n.Records, "record", "records")+" of yours in the notice)",
					"Notice "+n.ID+", entry "+fmt.Sprint(n.LogIndex)+" of the public log")
				if !n.Deadline.IsZero() {
					want = append(want, "It had until "+dayOf(n.Deadline)+" to act.")
				}
				for _, an := range n.Answers {
					want = append(want, "Answered on "+dayOf(an.At), ": "+an.Status+" — ", "“"+an.Note+"”")
					sawAnswer = true
				}
				if n.Overdue {
					want = append(want, "Overdue: no answer by "+dayOf(n.Deadline)+".")
					sawOverdue = true
					if !evalIn[bool](s, fmt.Sprintf(`!!document.querySelector("ul.after > li:nth-child(%d) p.overdue strong")`, i+1)) {
						t.Errorf("the overdue notice %s is not marked", n.ID)
					}
				} else if strings.Contains(li, "Overdue") {
					t.Errorf("%s reads as overdue:\n%s", n.ID, li)
				}
				links = append(links, n.ID)
			}
			for _, j := range a.Jobs {
				want = append(want, "Job "+j.Namespace+"/"+j.Job+", run finished "+dayOf(j.At))
				sawJob = true
			}
			for _, w := range want {
				if !strings.Contains(li, w) {
					t.Errorf("%s, dataset %s: the page lacks %q:\n%s", member, a.ExportID, w, li)
				}
			}
			if strings.Contains(li, "train_ai_system") || strings.Contains(li, "consent.denied") || strings.Contains(li, "third_party") || strings.Contains(li, ": notified") {
				t.Errorf("the section shows machine names:\n%s", li)
			}
		}
		onPage := evalIn[[]string](s, `Array.from(document.querySelectorAll('#after a[href^="/privacy/proof?notice="]')).map(a => new URL(a.href).searchParams.get("notice"))`)
		if !slices.Equal(onPage, links) {
			t.Errorf("the page links to the proofs of %v, the API names %v", onPage, links)
		}
		// The keyboard reaches each proof link once, with a focus ring.
		evalIn[bool](s, `document.activeElement.blur(), true`)
		var stops []string
		for range 150 {
			s.do("tab", chromedp.KeyEvent("\t"))
			stop := evalIn[string](s, `(() => { const e = document.activeElement, st = getComputedStyle(e);
				return (e.getAttribute("href") || e.id || e.tagName) + (e.offsetParent === null && e.tagName !== "BODY" ? " (hidden)" : "") + (st.outlineStyle === "none" || parseFloat(st.outlineWidth) < 2 ? " (no focus ring)" : "") })()`)
			if strings.HasPrefix(stop, "BODY") || slices.Contains(stops, stop) && strings.HasPrefix(stop, "/privacy/proof?notice=") {
				break
			}
			stops = append(stops, stop)
		}
		for _, id := range links {
			n := 0
			for _, stop := range stops {
				if strings.Contains(stop, "hidden") || strings.Contains(stop, "no focus ring") {
					t.Errorf("tab stop %q", stop)
				}
				if stop == "/privacy/proof?notice="+id {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the proof link of %s is %d tab stops: %v", id, n, stops)
			}
		}
		s.check("privacy centre after an opt-out (1280 px)")
		contrast(t, s)
		evalIn[bool](s, `document.getElementById("after").scrollIntoView(), true`)
		viewportShot(t, s.ctx, shots[k]+".png")
		s.width(390)
		s.check("privacy centre after an opt-out (390 px)")
		evalIn[bool](s, `document.getElementById("after").scrollIntoView(), true`)
		viewportShot(t, s.ctx, shots[k]+"-phone.png")
		s.width(640)
		s.check("privacy centre after an opt-out (200 % zoom)")

		// Each notice's proof checks in the browser; an edited entry does not.
		s.width(1280)
		for i, id := range links {
			s.do("notice proof", chromedp.Navigate(url+"/privacy/proof?notice="+id), chromedp.WaitVisible("button#check"), chromedp.Click("button#check"))
			r := waitResult(s)
			if !strings.HasPrefix(r, "Everything checks.") || !strings.Contains(r, "The entry records notice "+id+".") || !strings.Contains(r, "its signature verifies with the published key") {
				t.Fatalf("the proof of notice %s: %q", id, r)
			}
			if i == 0 && k == 0 {
				s.check("notice proof (1280 px)")
				screenshot(t, s.ctx, "privacy-notice-proof.png")
				evalIn[bool](s, `(() => { const l = document.getElementById("leaf"); l.textContent = l.textContent.slice(0, -2) + (l.textContent.endsWith("00") ? "01" : "00"); return true; })()`)
				s.do("check again", chromedp.Click("button#check"))
				if r := waitResult(s); r != "The proof does not check: the entry's leaf hash is wrong." {
					t.Errorf("an edited entry: %q", r)
				}
				s.do("reload", chromedp.Reload(), chromedp.WaitVisible("button#check"))
				s.width(390)
				s.check("notice proof (390 px)")
				s.width(640)
				s.check("notice proof (200 % zoom)")
				s.width(1280)
			}
		}
		// Another member's notice is not theirs to see.
		if st := s.loadStatus("a notice of nobody's", chromedp.Navigate(url+"/privacy/proof?notice=exp-none.n1")); st != 404 {
			t.Errorf("a notice that names none of the member's records: status %d", st)
		}
		s.do("sign out", chromedp.Navigate(url+"/privacy"), chromedp.WaitVisible("#settings"), chromedp.Click(`form[action="/privacy/logout"] button`), chromedp.WaitVisible("#signin"))
	}
	if !sawAnswer || !sawOverdue || !sawJob {
		t.Errorf("the members checked show an answered notice: %v, an overdue one: %v, a job: %v", sawAnswer, sawOverdue, sawJob)
	}

	// The console: per recipient, open and overdue counts and every
	// notice; per export, the jobs that read it.
	s.width(1280)
	s.login("admin", token("--role", "auditor"), false)
	sec := s.text("#notices")
	open, overdue := 0, 0
	for _, n := range notices {
		id := n["id"].(string)
		row := evalIn[string](s, `(() => { const r = Array.from(document.querySelectorAll("#notices tbody tr")).find(r => r.querySelector("code").textContent === `+jsString(id)+`); return r ? r.innerText : ""; })()`)
		if !strings.Contains(row, id) || !strings.Contains(row, n["export_id"].(string)) {
			t.Errorf("the console's row of %s:\n%s", id, row)
		}
		st := n["status"].(string)
		if st == "open" || st == "refused" {
			open++
		}
		if n["overdue"] == true {
			overdue++
			if !strings.Contains(row, "overdue") {
				t.Errorf("the overdue notice %s is not said overdue in the console:\n%s", id, row)
			}
		} else if strings.Contains(row, "overdue") {
			t.Errorf("%s reads as overdue:\n%s", id, row)
		}
		if as := n["answers"].([]any); len(as) > 0 {
			last := as[len(as)-1].(map[string]any)
			if !strings.Contains(row, last["status"].(string)+" by "+last["by"].(string)) || !strings.Contains(row, last["note"].(string)) {
				t.Errorf("the console's row of %s lacks its answer:\n%s", id, row)
			}
		}
	}
	want := []string{"Notices to recipients", "Partner X, an AI company", counted(open, "notice", "notices") + " open"}
	if overdue > 0 {
		want = append(want, fmt.Sprintf("%d overdue", overdue))
	}
	for _, w := range want {
		if !strings.Contains(sec, w) {
			t.Errorf("the console's notices lack %q:\n%s", w, sec)
		}
	}
	if ex := s.text("#exports"); !strings.Contains(ex, "Training jobs that read its output:") || !strings.Contains(ex, "partner-x/llm-v3.fine-tune") {
		t.Errorf("the console's exports do not name the job:\n%s", ex)
	}
	s.check("console's notices (1280 px)")
	evalIn[bool](s, `document.getElementById("notices").scrollIntoView(), true`)
	viewportShot(t, s.ctx, "admin-notices.png")
	s.width(390)
	s.check("console's notices (390 px)")
	evalIn[bool](s, `document.getElementById("notices").scrollIntoView(), true`)
	viewportShot(t, s.ctx, "admin-notices-phone.png")
	s.width(640)
	s.check("console's notices (200 % zoom)")
}

// counted says a count with its noun ("1 record", "3 records").
func counted(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }

// waitResult waits for a proof page's check to end and returns what it
// says.
func waitResult(s *pageSession) string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.text("#result")
		if r != "Checking…" && r != "" || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
}
