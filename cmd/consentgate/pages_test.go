package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// axeVersion is the axe-core release the page tests run (from npm).
const axeVersion = "4.14.1"

// axeScript returns axe-core's browser script: $CONSENTGATE_AXE, else the
// copy in the user's cache, installed there from npm the first time.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CONSENTGATE_AXE")
	if path == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "consentgate-test", "axe-core-"+axeVersion)
		path = filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(path); err != nil {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", dir, "axe-core@"+axeVersion)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("installing axe-core %s from npm into %s: %v\n%s", axeVersion, dir, err, out)
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(b)
}

// pageSession is one browser tab on a running server, with the checks
// every page gets.
type pageSession struct {
	t   *testing.T
	ctx context.Context
	url string
	axe string
}

func (s *pageSession) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		where, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 600)`))
		s.t.Fatalf("%s: %v; the page: %s", what, err, where)
	}
}

func (s *pageSession) text(sel string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Text(sel))
	if err != nil {
		s.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

func evalIn[T any](s *pageSession, js string, opts ...chromedp.EvaluateOption) T {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		s.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// submit clicks sel, which loads another page, and waits until the new
// page is loaded.
func (s *pageSession) submit(what, sel string) { s.t.Helper(); s.load(what, chromedp.Click(sel)) }

// load runs an action that loads another page and waits until it is
// loaded.
func (s *pageSession) load(what string, a chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if status := s.loadStatus(what, a); status >= 400 {
		s.t.Fatalf("%s: status %d", what, status)
	}
}

// loadStatus is load, answering the page's HTTP status.
func (s *pageSession) loadStatus(what string, a chromedp.Action[chromedp.Void]) int64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// login signs in through a login link, with Sec-GPC: 1 when gpc.
func (s *pageSession) login(area, token string, gpc bool) {
	s.t.Helper()
	headers := network.Headers{}
	if gpc {
		headers["Sec-GPC"] = "1"
	}
	s.do("login to "+area,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers})
			return err
		}),
		chromedp.Navigate(s.url+"/"+area+"/login?token="+token),
		chromedp.Click("#signin"),
		chromedp.WaitReady(map[string]string{"privacy": "#settings", "admin": "#impact"}[area]),
	)
}

// check runs the checks every page gets at the present width: axe-core's
// WCAG 2.2 A and AA rules with no violation, and nothing wider than the
// screen.
func (s *pageSession) check(name string) {
	s.t.Helper()
	res := evalIn[string](s, s.axe+`;
		axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})
		  .then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`, chromedp.EvalAwaitPromise)
	var violations []struct {
		ID, Help string
		Nodes    []string
	}
	if err := json.Unmarshal([]byte(res), &violations); err != nil {
		s.t.Fatalf("%s: axe answered %q", name, res)
	}
	for _, v := range violations {
		s.t.Errorf("%s: axe %s (%s):\n  %s", name, v.ID, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	if evalIn[bool](s, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		w := evalIn[float64](s, `document.documentElement.scrollWidth`)
		wide := evalIn[[]string](s, `Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className + ": " + (e.textContent || "").slice(0, 60))`)
		s.t.Errorf("%s: the page is %.0f px wide on a %d px screen: %v", name, w, evalIn[int](s, `window.innerWidth`), wide)
	}
}

// width sets the screen's width in CSS pixels (390: a phone; 640: a
// 1280 px screen at 200 % zoom).
func (s *pageSession) width(w int64) {
	s.t.Helper()
	s.do("viewport", chromedp.EmulateViewport(w, 900))
}

// TestPages: the privacy centre, the proof page and the console in a real
// headless Chromium, at 1280 px, 390 px and 640 px (200 % zoom), for a
// member who never chose (default on), one who refused, one in a strict
// region and one whose browser sends GPC, and for an admin and an
// auditor: what each is shown, a switch used with the keyboard alone,
// axe-core with no violation, and the contrast pairs of WCAG 2.2's non-
// text rule computed from the page's own CSS.
func TestPages(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "demo", "--dir", "d") // its impact queue is longer than a page
	store := "--store=sqlite:d/demo.db"
	inExport := func(id string) bool {
		return strings.Contains(ok(t, dir, store, "report", "subject", "--subject", id), "exp-")
	}
	reason := func(es []map[string]any, purpose, recipient, category string) string {
		for _, e := range es {
			if e["purpose"] == purpose && e["recipient"] == recipient && e["category"] == category {
				return e["reason"].(string)
			}
		}
		return ""
	}
	const gen = "train_ai_system.generative"
	var defaultOn string
	defaultOn = demoMember(t, dir, store, func(es []map[string]any) bool {
		return reason(es, gen, "partner-x", "user.content.public") == "default.granted"
	})
	for i := 0; !inExport(defaultOn); i++ {
		n := 0
		defaultOn = demoMember(t, dir, store, func(es []map[string]any) bool {
			if reason(es, gen, "partner-x", "user.content.public") != "default.granted" {
				return false
			}
			n++
			return n > i+1
		})
	}
	gpcMember := demoMember(t, dir, store, func(es []map[string]any) bool {
		return reason(es, gen, "affiliates", "user.content.public") == "default.granted" && reason(es, gen, "partner-x", "user.content.public") == "default.granted"
	})
	if gpcMember == defaultOn {
		n := 0
		gpcMember = demoMember(t, dir, store, func(es []map[string]any) bool {
			if reason(es, gen, "affiliates", "user.content.public") != "default.granted" || reason(es, gen, "partner-x", "user.content.public") != "default.granted" {
				return false
			}
			n++
			return n > 1
		})
	}
	refusing := demoMember(t, dir, store, func(es []map[string]any) bool {
		return reason(es, gen, "partner-x", "user.content.public") == "consent.denied"
	})
	strict := demoMember(t, dir, store, func(es []map[string]any) bool {
		n := 0
		for _, e := range es {
			if e["purpose"] == gen {
				if e["reason"] != "rule:no-ai-training-in-strict-regions" {
					return false
				}
				n++
			}
		}
		return n > 0
	})
	token := func(args ...string) string {
		return strings.TrimSpace(ok(t, dir, append([]string{store, "token", "create"}, args...)...))
	}
	url := serve(t, dir, store)
	s := &pageSession{t: t, ctx: browser(t), url: url, axe: axeScript(t)}
	// The first action starts the browser, for as long as s.ctx lives.
	if err := chromedp.Do(s.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}) // for axe-core
		return err
	})); err != nil {
		t.Fatal(err)
	}

	const partner = "t-" + gen + "-third_party"
	settingOf := func(id string) string { return s.text(`li.setting:has(#` + cssEscape(id) + `)`) }

	t.Run("default-on member", func(t *testing.T) {
		s.t = t
		s.width(1280)
		s.do("login page", chromedp.Navigate(url+"/privacy/login"), chromedp.WaitVisible("#signin"))
		s.check("sign-in page")
		s.login("privacy", token("--role", "subject", "--subject", defaultOn), false)
		setting := settingOf(partner)
		if !evalIn[bool](s, `document.getElementById(`+jsString(partner)+`).checked`) || !strings.Contains(setting, "On by default: you never chose") || !strings.Contains(setting, "Your public posts: used by default") {
			t.Fatalf("the partner setting:\n%s", setting)
		}
		if label := s.text(`label[for="` + partner + `"]`); !strings.HasPrefix(label, "Training AI models that write text or make images") || !strings.Contains(label, ", by other companies (partners): Partner X, an AI company") {
			t.Errorf("the switch's name: %q", label)
		}
		groups := s.text("#settings")
		for _, want := range []string{"Used by this platform itself", "Used by companies in the same group as this platform\n", "Used by other companies (partners): Partner X, an AI company"} {
			if !strings.Contains(groups, want) {
				t.Errorf("the settings lack the heading %q:\n%s", want, groups)
			}
		}
		if n := evalIn[int](s, `document.querySelectorAll("h3.who").length`); n != 3 {
			t.Errorf("%d groups of settings, want one per recipient class (3)", n)
		}
		if strings.Contains(groups, "train_ai_system") || strings.Contains(groups, "third_party") {
			t.Errorf("the settings show machine names:\n%s", groups)
		}
		sharing := s.text("#sharing")
		if !strings.Contains(sharing, "Your public posts") || !strings.Contains(sharing, "Training AI models that write text or make images, by other companies (partners): Partner X, an AI company (on by default)") {
			t.Errorf("what is shared now:\n%s", sharing)
		}
		went := s.text("#went")
		if !regexp.MustCompile(`went to Partner X, an AI company, for training AI models that write text or make images\.`).MatchString(went) ||
			!regexp.MustCompile(`Built on \d+ \w+ \d{4}, from your data and choices as of 21 Jan 2025`).MatchString(went) {
			t.Errorf("where the data went:\n%s", went)
		}
		if check := s.text("#check"); !strings.Contains(check, "/log/key") || !strings.Contains(check, "pseudonym") {
			t.Errorf("check it yourself:\n%s", check)
		}
		s.check("privacy centre (1280 px)")
		contrast(t, s)
		screenshot(t, s.ctx, "privacy-centre.png")

		// The keyboard alone: one tab stop per control, each with a
		// visible focus ring; the switch flips with the space bar and has
		// the focus again when the page comes back, saying what was saved.
		s.do("reload", chromedp.Navigate(url+"/privacy"), chromedp.WaitVisible("#settings"))
		evalIn[bool](s, `document.activeElement.blur(), true`)
		var stops []string
		for range 80 {
			s.do("tab", chromedp.KeyEvent("\t"))
			stop := evalIn[string](s, `(() => { const e = document.activeElement, st = getComputedStyle(e);
				return (e.id || e.className || e.tagName) + (e.offsetParent === null && e.tagName !== "BODY" ? " (hidden)" : "") + (st.outlineStyle === "none" || parseFloat(st.outlineWidth) < 2 ? " (no focus ring)" : "") })()`)
			stops = append(stops, stop)
			if stop == partner {
				break
			}
		}
		n := 0
		for _, stop := range stops {
			if strings.Contains(stop, "hidden") || strings.Contains(stop, "no focus ring") || strings.Contains(stop, "apply") {
				t.Errorf("tab stop %q", stop)
			}
			if stop == partner {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("the partner switch is %d tab stops: %v", n, stops)
		}
		s.load("space on the switch", chromedp.KeyEvent(" "))
		if focused := evalIn[string](s, `document.activeElement.id`); focused != partner {
			t.Errorf("after the toggle the focus is on %q, not the switch", focused)
		}
		saved := s.text("#saved")
		if !regexp.MustCompile(`^Saved at \d\d:\d\d UTC: you refused training AI models that write text or make images by other companies \(partners\): Partner X, an AI company\. The setting now reads: “Off: you refused\.”`).MatchString(saved) {
			t.Errorf("the saved message: %q", saved)
		}
		// The message and the switch are in view.
		if !evalIn[bool](s, `(() => { const m = document.getElementById("saved").getBoundingClientRect(), sw = document.getElementById(`+jsString(partner)+`).getBoundingClientRect();
				return m.top >= 0 && sw.bottom <= window.innerHeight; })()`) {
			t.Errorf("after the toggle the saved message or the switch is out of view")
		}
		viewportShot(t, s.ctx, "privacy-centre-saved.png")
		savedURL := evalIn[string](s, `location.href`)
		// A link cannot make the page say something was saved: the
		// message names only a stored choice, the member's latest.
		s.do("a made-up saved link", chromedp.Navigate(url+"/privacy?saved=1700000000000000"), chromedp.WaitVisible("#settings"))
		if n := evalIn[int](s, `document.querySelectorAll("#saved").length`); n != 0 {
			t.Errorf("a made-up link shows a saved message: %q", s.text("#saved"))
		}
		if evalIn[bool](s, `document.getElementById(`+jsString(partner)+`).checked`) || !strings.Contains(settingOf(partner), "Off: you refused") {
			t.Errorf("after turning it off:\n%s", settingOf(partner))
		}
		if h := s.text("#history"); !strings.Contains(h, "Refused training AI models that write text or make images by other companies (partners)") || !strings.Contains(h, "by you, in this privacy centre") || !strings.Contains(h, "Under the policy of 2024-09-18 (what it said).") {
			t.Errorf("the history:\n%s", h)
		}
		if out := ok(t, dir, store, "consent", "show", "--subject", defaultOn); !regexp.MustCompile(`partner-x \(third_party\)\s+user\.content\.public\s+deny\s+consent\.denied`).MatchString(out) {
			t.Errorf("consent show does not have the change:\n%s", out)
		}

		// The proof page: the browser redoes both proofs.
		// (The privacy centre has a #check too, its section "Check it
		// yourself": wait for the proof page's button, not for that.)
		s.load("proof", chromedp.Click(`#went a[href^="/privacy/proof"]`))
		s.do("check", chromedp.WaitVisible("button#check"), chromedp.Click("button#check"))
		result := func() string {
			deadline := time.Now().Add(10 * time.Second)
			for {
				r := s.text("#result")
				if r != "Checking…" && r != "" || time.Now().After(deadline) {
					return r
				}
				s.do("wait", chromedp.WaitVisible("#result"))
			}
		}
		if r := result(); !strings.HasPrefix(r, "Everything checks.") || !strings.Contains(r, "its signature verifies with the published key") {
			t.Fatalf("the proof page's check: %q", r)
		}
		screenshot(t, s.ctx, "privacy-proof.png")
		// A manifest edited on the page no longer checks.
		evalIn[bool](s, `(() => { const m = document.getElementById("manifest"); m.textContent = m.textContent.replace(/"included": ?\d+/, '"included": 1'); return true; })()`)
		s.do("check again", chromedp.Click("#check"))
		if r := result(); r != "The proof does not check: the manifest is not the one the log's entry records." {
			t.Errorf("an edited manifest: %q", r)
		}
		s.do("reload", chromedp.Reload(), chromedp.WaitVisible("#check"))
		s.check("proof page (1280 px)")

		s.width(390)
		s.do("back", chromedp.Navigate(url+"/privacy"), chromedp.WaitVisible("#settings"))
		s.check("privacy centre (390 px)")
		screenshot(t, s.ctx, "privacy-centre-phone.png")
		s.do("the saved message on a phone", chromedp.Navigate(savedURL), chromedp.WaitVisible("#saved"))
		if !evalIn[bool](s, `(() => { const m = document.getElementById("saved").getBoundingClientRect(); return m.top >= 0 && m.top < window.innerHeight / 2; })()`) {
			t.Errorf("on a phone the saved message is not in view")
		}
		viewportShot(t, s.ctx, "privacy-centre-saved-phone.png")
		s.width(640)
		s.check("privacy centre (200 % zoom)")
		s.do("proof at 390", chromedp.Navigate(url+"/privacy/proof?export="+evalIn[string](s, `document.querySelector("#went code").textContent`)), chromedp.WaitVisible("#check"))
		s.width(390)
		s.check("proof page (390 px)")
	})

	t.Run("refusing member", func(t *testing.T) {
		s.t = t
		s.width(1280)
		s.login("privacy", token("--role", "subject", "--subject", refusing), false)
		if setting := settingOf(partner); !strings.Contains(setting, "Off: you refused.") || evalIn[bool](s, `document.getElementById(`+jsString(partner)+`).checked`) {
			t.Errorf("the refusing member's partner setting:\n%s", setting)
		}
		if h := s.text("#history"); !strings.Contains(h, "Refused") {
			t.Errorf("the history:\n%s", h)
		}
		s.check("privacy centre, refusing member")
	})

	t.Run("strict-region member", func(t *testing.T) {
		s.t = t
		s.login("privacy", token("--role", "subject", "--subject", strict), false)
		switches := evalIn[int](s, `document.querySelectorAll("li.state-not_possible input.switch").length`)
		impossible := evalIn[int](s, `document.querySelectorAll("li.state-not_possible").length`)
		settings := s.text("#settings")
		if switches != 0 || impossible < 3 || !strings.Contains(settings, "Not possible in your region: the platform's policy forbids it, whatever you choose") {
			t.Fatalf("%d switches among %d settings not possible:\n%s", switches, impossible, settings)
		}
		s.check("privacy centre, strict region")
		screenshot(t, s.ctx, "privacy-centre-strict.png")
	})

	t.Run("GPC member", func(t *testing.T) {
		s.t = t
		tok := token("--role", "subject", "--subject", gpcMember)
		s.login("privacy", tok, true)
		s.do("sign out", chromedp.Click(`form[action="/privacy/logout"] button`), chromedp.WaitVisible("#signin"))
		s.login("privacy", tok, true) // a second signal: still one notice
		if n := evalIn[int](s, `document.querySelectorAll(".notice.gpc").length`); n != 1 {
			t.Fatalf("%d GPC notices", n)
		}
		notice := s.text("#gpc")
		for _, want := range []string{"A Global Privacy Control signal from your browser is on record", "training AI systems by companies in the same group as this platform", "by other companies (partners)", "later signals from your browser do not undo it"} {
			if !strings.Contains(notice, want) {
				t.Errorf("the GPC notice lacks %q:\n%s", want, notice)
			}
		}
		if setting := settingOf(partner); !strings.Contains(setting, "Off: you refused.") || !strings.Contains(setting, "Global Privacy Control signal") {
			t.Errorf("the partner setting after GPC:\n%s", setting)
		}
		s.check("privacy centre, GPC")
		screenshot(t, s.ctx, "privacy-centre-gpc.png")
		s.do("sign out", chromedp.Click(`form[action="/privacy/logout"] button`), chromedp.WaitVisible("#signin"))
		s.login("privacy", tok, false)
	})

	t.Run("admin", func(t *testing.T) {
		s.t = t
		s.width(1280)
		s.login("admin", token("--role", "admin"), false)
		consoleChecks(t, s)
		s.check("admin console (1280 px)")
		screenshot(t, s.ctx, "admin-console.png")
		// The impact queue: 50 a page, filtered, a note kept.
		total := evalIn[int](s, `document.querySelectorAll("ul.impact > li").length`)
		if total != 50 || !strings.Contains(s.text("#impact"), "Items 1 to 50 of") {
			t.Errorf("the impact queue's first page has %d items:\n%.500s", total, s.text("#impact"))
		}
		s.submit("next page", `#impact .pager a`)
		if got := s.text("#impact p[role=status]"); !regexp.MustCompile(`^Items 51 to \d+ of \d+\.$`).MatchString(got) {
			t.Errorf("page 2: %q", got)
		}
		s.do("filter", chromedp.Navigate(url+"/admin?status=open&reason=consent.denied#impact"), chromedp.WaitReady("#impact"))
		first := evalIn[string](s, `document.querySelector("ul.impact input[name=subject]").value`)
		s.do("note", chromedp.SetValue(`ul.impact li:first-child input[name=note]`, "asked partner-x to delete"),
			chromedp.SetValue(`ul.impact li:first-child select[name=status]`, "notified"))
		s.submit("save the note", `ul.impact li:first-child button`)
		if u := evalIn[string](s, `location.search`); u != "?status=open&reason=consent.denied" && !strings.Contains(u, "status=open") {
			t.Errorf("after saving, the console is at %q, not the filtered page", u)
		}
		if evalIn[int](s, `document.querySelectorAll("#marked").length`) != 1 {
			t.Fatalf("no saved message at %s:\n%.1500s", evalIn[string](s, `location.href`), s.text("main"))
		}
		if m := s.text("#marked"); !strings.HasPrefix(m, "Saved: "+first) || !strings.Contains(m, "is now notified, with the note “asked partner-x to delete”") {
			t.Errorf("after saving a status: %q", m)
		}
		s.do("the notified", chromedp.Navigate(url+"/admin?status=notified#impact"), chromedp.WaitReady("#impact"))
		if li := s.text("ul.impact"); !strings.Contains(li, first) || evalIn[string](s, `document.querySelector("ul.impact input[name=note]").value`) != "asked partner-x to delete" {
			t.Errorf("the noted item:\n%s", li)
		}
		// A mistake gets a page that says what and leads back.
		evalIn[bool](s, `document.querySelector("ul.impact li:first-child select[name=status]").value = "wontfix", document.querySelector("ul.impact li:first-child input[name=note]").value = "", true`)
		if st := s.loadStatus("save wontfix", chromedp.Click(`ul.impact li:first-child button`)); st != 400 {
			t.Errorf("wontfix without a note: status %d", st)
		}
		if e := s.text("main"); !strings.Contains(e, "status wontfix needs a note") || !strings.Contains(e, "Back to the console") {
			t.Errorf("the error page:\n%s", e)
		}
		s.check("error page")
		viewportShot(t, s.ctx, "admin-error.png")
		// Any two versions, the whole diff.
		s.do("diff", chromedp.Navigate(url+"/admin/diff?from=2022-01-01&to=2024-09-18"), chromedp.WaitVisible("main h1"))
		if d := s.text("main"); !strings.Contains(d, "From 2022-01-01 to 2024-09-18") || !strings.Contains(d, "Newly allowed: to every recipient · train_ai_system and below · every category except user.content.private and below") {
			t.Errorf("the diff page:\n%s", d)
		}
		s.check("diff page (1280 px)")
		screenshot(t, s.ctx, "admin-diff.png")
		s.width(390)
		s.do("console", chromedp.Navigate(url+"/admin"), chromedp.WaitReady("#impact"))
		consoleChecks(t, s)
		s.check("admin console (390 px)")
		screenshot(t, s.ctx, "admin-console-phone.png")
		s.width(640)
		s.check("admin console (200 % zoom)")
		s.do("sign out", chromedp.Click(`form[action="/admin/logout"] button`), chromedp.WaitVisible("#signin"))
	})

	t.Run("after an opt-out", func(t *testing.T) { aftermathChecks(t, dir, store, url, s.axe, token) })

	t.Run("auditor", func(t *testing.T) {
		s.t = t
		s.width(1280)
		s.login("admin", token("--role", "auditor"), false)
		consoleChecks(t, s)
		if n := evalIn[int](s, `document.querySelectorAll("form.mark").length`); n != 0 {
			t.Errorf("the auditor is offered %d forms to mark items", n)
		}
		if !strings.Contains(s.text("#impact"), "Status: ") {
			t.Errorf("the auditor does not see the statuses:\n%.400s", s.text("#impact"))
		}
		s.check("auditor console")
	})
}

// consoleChecks: the charts have full labels inside their frame, text of
// at least 12 px, a continuous month axis, and consent over time by
// purpose and recipient class.
func consoleChecks(t *testing.T, s *pageSession) {
	t.Helper()
	bad := evalIn[[]string](s, `(() => { const out = [];
		for (const svg of document.querySelectorAll("svg.bars")) {
			const box = svg.getBoundingClientRect();
			if (svg.hasAttribute("viewBox")) out.push("a chart is scaled (viewBox)");
			for (const t of svg.querySelectorAll("text")) {
				const r = t.getBoundingClientRect(), size = parseFloat(getComputedStyle(t).fontSize);
				if (r.left < box.left - 1 || r.right > box.right + 1) out.push("clipped: " + t.textContent);
				if (size < 12) out.push(size + " px: " + t.textContent);
			}
			const labels = Array.from(svg.querySelectorAll("text.label")).map(t => [t.textContent, t.getBoundingClientRect()]);
			for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
				const [a, ra] = labels[i], [b, rb] = labels[j];
				if (ra.left < rb.right && rb.left < ra.right && ra.top < rb.bottom && rb.top < ra.bottom) out.push("overlapping: " + a + " and " + b);
			}
		}
		return out; })()`)
	for _, b := range bad {
		t.Error(b)
	}
	body := s.text("main")
	for _, want := range []string{"Consent choices recorded per month", "Training AI models that write text or make images by other companies (partners): members at each month's end",
		"Training AI models that write text or make images by companies in the same group as this platform: members at each month's end", "on by default (never chose)", "records read", "leaves", "Impact queue", "Notice violation"} {
		if !strings.Contains(body, want) {
			t.Errorf("the console lacks %q", want)
		}
	}
	// The first chart's months, from its table of numbers (its columns
	// label only every few).
	months := evalIn[[]string](s, `Array.from(document.querySelector("figure.chart").querySelectorAll("tbody th")).map(t => t.textContent)`)
	if cols := evalIn[int](s, `document.querySelector("figure.chart svg.columns").querySelectorAll("g").length`); cols != len(months) {
		t.Errorf("the first chart has %d columns for %d months", cols, len(months))
	}
	for i := 1; i < len(months); i++ {
		a, err1 := time.Parse("Jan 2006", months[i-1])
		b, err2 := time.Parse("Jan 2006", months[i])
		if err1 != nil || err2 != nil || !a.AddDate(0, 1, 0).Equal(b) {
			t.Fatalf("the month axis is not continuous: %v", months)
		}
	}
	if len(months) < 12 {
		t.Errorf("the month axis: %v", months)
	}
}

// contrast computes, from the page's own CSS, WCAG's contrast ratio of
// the pairs the non-text rule (1.4.11) asks 3:1 of: the switch's off and
// on tracks and the setting's border against the page, the focus ring
// against the page, and the console's chart fills against each other
// (checked on the console's pattern definitions, which the privacy
// centre's page also holds when it shows charts).
func contrast(t *testing.T, s *pageSession) {
	t.Helper()
	pairs := evalIn[[][]any](s, `(() => {
		const rgb = c => { const m = c.match(/[\d.]+/g).map(Number); return m.slice(0, 3); };
		const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
		const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
		const bg = getComputedStyle(document.body).backgroundColor;
		const off = document.querySelector(".switch:not(:checked)"), on = document.querySelector(".switch:checked");
		const card = document.querySelector("ul.settings > li");
		const out = [];
		if (off) out.push(["switch off track / page", ratio(getComputedStyle(off).backgroundColor, bg)]);
		if (on) out.push(["switch on track / page", ratio(getComputedStyle(on).backgroundColor, bg)]);
		out.push(["setting border / page", ratio(getComputedStyle(card).borderTopColor, bg)]);
		const sw = off || on; sw.focus();
		out.push(["focus ring / page", ratio(getComputedStyle(sw).outlineColor, bg)]);
		const knob = getComputedStyle(sw, "::after").backgroundColor;
		out.push(["switch knob / track", ratio(knob, getComputedStyle(sw).backgroundColor)]);
		sw.blur();
		return out; })()`)
	// The chart fills, from the stylesheet and the patterns it names.
	fills := chartFills(t, s)
	for _, pr := range [][2]string{{"agreed", "refused"}, {"agreed", "default-off"}, {"agreed", "default-on"}, {"agreed", "page"}, {"outline", "page"},
		{"default-on", "default-on marks"}, {"refused", "refused marks"}, {"default-off", "default-off marks"}, {"not-possible", "not-possible marks"}} {
		pairs = append(pairs, []any{"chart " + pr[0] + " / " + pr[1], ratioHex(fills[pr[0]], fills[pr[1]])})
	}
	for _, p := range pairs {
		if p[1].(float64) < 3 {
			t.Errorf("contrast %s: %.2f:1, WCAG 2.2 asks 3:1", p[0], p[1])
		}
	}
	t.Logf("contrast: %v", pairs)
}

// chartFills are the colours of the chart's series as the stylesheet and
// base.html's patterns give them: a solid fill, or the background of a
// pattern and ("… marks") the colour of its marks; "outline" is the
// segments' outline.
func chartFills(t *testing.T, s *pageSession) map[string]string {
	css, err := os.ReadFile("../../internal/web/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile("../../internal/web/templates/base.html")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{"page": "#ffffff", "outline": "#1b1f24"}
	if !regexp.MustCompile(`svg \.seg \{ stroke: var\(--fg\);`).Match(css) || !strings.Contains(string(css), "--fg: #1b1f24;") {
		t.Fatal("style.css no longer outlines chart segments in --fg #1b1f24")
	}
	for _, name := range []string{"agreed", "default-on", "refused", "default-off", "not-possible"} {
		m := regexp.MustCompile(`svg \.c-` + name + ` \{ fill: ([^;]+); \}`).FindSubmatch(css)
		if m == nil {
			t.Fatalf("style.css has no fill for .c-%s", name)
		}
		fill := string(m[1])
		if id, ok := strings.CutPrefix(fill, "url(#"); ok {
			id = strings.TrimSuffix(id, ")")
			p := regexp.MustCompile(`<pattern id="` + id + `"[^>]*><rect [^>]*fill="(#[0-9a-f]{6})"/><[^>]*(?:fill|stroke)="(#[0-9a-f]{6})"`).FindSubmatch(base)
			if p == nil {
				t.Fatalf("base.html has no pattern %s", id)
			}
			fill = string(p[1])
			out[name+" marks"] = string(p[2])
		}
		out[name] = fill
	}
	return out
}

func ratioHex(a, b string) float64 {
	lum := func(h string) float64 {
		var r, g, bl int
		fmt.Sscanf(h, "#%02x%02x%02x", &r, &g, &bl)
		ch := func(v int) float64 {
			x := float64(v) / 255
			if x <= 0.03928 {
				return x / 12.92
			}
			return math.Pow((x+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(r) + 0.7152*ch(g) + 0.0722*ch(bl)
	}
	x, y := lum(a), lum(b)
	if x < y {
		x, y = y, x
	}
	return (x + 0.05) / (y + 0.05)
}
