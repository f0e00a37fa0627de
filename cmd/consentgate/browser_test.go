package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
)

// chromium is Debian's, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// serve starts `consentgate serve` on a free port over dir's store and
// returns its URL; the server is stopped (SIGTERM, graceful) at the end.
func serve(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--quiet"}, args...)...)
	cmd.Dir = dir
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve did not shut down cleanly: %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("serve did not stop within 15 s of SIGTERM")
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	url := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	if url == "" {
		t.Fatalf("serve printed %q", line)
	}
	return url
}

// browser returns a chromedp context on a fresh headless Chromium.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s: %v (.ci/run installs Debian's chromium)", chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 1400))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// screenshot saves a full-page PNG: under docs/ when
// CONSENTGATE_SCREENSHOTS is set (how the committed ones were made), else
// in the test's directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if os.Getenv("CONSENTGATE_SCREENSHOTS") != "" {
		dir = "../../docs"
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(png) < 10_000 {
		t.Fatalf("%s: a %d-byte screenshot is a blank page", name, len(png))
	}
}

// demoMember finds a member of the demo's store whose effective state (as
// consent show --json gives it) passes want.
func demoMember(t *testing.T, dir, store string, want func(effective []map[string]any) bool) string {
	t.Helper()
	for i := 1; i <= 200; i++ {
		id := fmt.Sprintf("m%05d", i)
		var v struct {
			Consents struct{ Effective []map[string]any }
		}
		if err := json.Unmarshal([]byte(ok(t, dir, store, "consent", "show", "--subject", id, "--json")), &v); err != nil {
			t.Fatal(err)
		}
		if want(v.Consents.Effective) {
			return id
		}
	}
	t.Fatal("no demo member is as the test needs")
	return ""
}

// TestBrowser: in a real headless Chromium, a member who never chose sees
// partners' use of their posts as on by default and turns it off (their
// history and the CLI see it); a member in a strict region sees it is not
// possible there and is offered no switch that cannot act; an admin opens
// the console and its charts render.
func TestBrowser(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "demo", "--dir", "d", "--members", "800")
	store := "--store=sqlite:d/demo.db"
	defaultOn := demoMember(t, dir, store, func(es []map[string]any) bool {
		for _, e := range es {
			if e["purpose"] == "train_ai_system.generative" && e["recipient"] == "partner-x" && e["category"] == "user.content.public" {
				return e["reason"] == "default.granted"
			}
		}
		return false
	})
	strict := demoMember(t, dir, store, func(es []map[string]any) bool {
		n := 0
		for _, e := range es {
			if e["purpose"] == "train_ai_system.generative" {
				if e["reason"] != "rule:no-ai-training-in-strict-regions" {
					return false
				}
				n++
			}
		}
		return n > 0
	})
	memberToken := strings.TrimSpace(ok(t, dir, store, "token", "create", "--role", "subject", "--subject", defaultOn))
	strictToken := strings.TrimSpace(ok(t, dir, store, "token", "create", "--role", "subject", "--subject", strict))
	adminToken := strings.TrimSpace(ok(t, dir, store, "token", "create", "--role", "admin"))
	url := serve(t, dir, store)
	ctx := browser(t)

	// The member who never chose: partners' use reads on by default.
	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/privacy/login?token="+memberToken),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#settings"),
	)
	if err != nil {
		t.Fatalf("privacy centre: %v", err)
	}
	switchID := "t-train_ai_system.generative-third_party"
	setting, _ := chromedp.Run(ctx, chromedp.Text(`li.setting:has(#`+cssEscape(switchID)+`)`))
	on, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById(`+jsString(switchID)+`).checked`))
	if !on || !strings.Contains(setting, "On by default — you never chose") || !strings.Contains(setting, "used by default") {
		t.Fatalf("the default-on member's partner setting (on=%v):\n%s", on, setting)
	}
	label, _ := chromedp.Run(ctx, chromedp.Text(`label[for="`+switchID+`"]`))
	if !strings.Contains(label, "training AI models") || !strings.Contains(label, "Partner X") {
		t.Fatalf("the switch's label: %q", label)
	}
	screenshot(t, ctx, "privacy-centre.png")
	err = chromedp.Do(ctx,
		chromedp.Click("#"+cssEscape(switchID)), // the switch submits itself
		chromedp.WaitVisible("#saved"),
	)
	if err != nil {
		t.Fatalf("turning %s off: %v", switchID, err)
	}
	history, _ := chromedp.Run(ctx, chromedp.Text("#history"))
	setting, _ = chromedp.Run(ctx, chromedp.Text(`li.setting:has(#`+cssEscape(switchID)+`)`))
	stillOn, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById(`+jsString(switchID)+`).checked`))
	if stillOn || !strings.Contains(setting, "Off: you refused") || !strings.Contains(history, "train_ai_system.generative") || !strings.Contains(history, "denied") || !strings.Contains(history, "settings") {
		t.Fatalf("after turning it off: switch on=%v, setting:\n%s\nhistory:\n%s", stillOn, setting, history)
	}
	// On a phone: nothing wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible("#settings")); err != nil {
		t.Fatal(err)
	}
	overflow, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if overflow {
		t.Error("the privacy centre is wider than a 390 px phone screen")
	}
	screenshot(t, ctx, "privacy-centre-phone.png")
	chromedp.Do(ctx, chromedp.EmulateViewport(1100, 1400))
	if out := ok(t, dir, store, "consent", "show", "--subject", defaultOn); !regexp.MustCompile(`denied\s+purpose train_ai_system\.generative, recipient third_party, source settings`).MatchString(out) ||
		!regexp.MustCompile(`partner-x \(third_party\)\s+user\.content\.public\s+deny\s+consent\.denied`).MatchString(out) {
		t.Fatalf("consent show does not have the change:\n%s", out)
	}

	// The member in a strict region: not possible, and no switch for it.
	err = chromedp.Do(ctx,
		chromedp.Click(`form[action="/privacy/logout"] button`),
		chromedp.WaitVisible("#signin"),
		chromedp.Navigate(url+"/privacy/login?token="+strictToken),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#settings"),
	)
	if err != nil {
		t.Fatalf("the strict-region member's privacy centre: %v", err)
	}
	switches, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("li.state-not_possible input.switch").length`))
	impossible, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("li.state-not_possible").length`))
	settings, _ := chromedp.Run(ctx, chromedp.Text("#settings"))
	if switches != 0 || impossible < 3 || !strings.Contains(settings, "Not possible in your region") {
		t.Fatalf("the strict-region member: %d switches among %d settings not possible, settings:\n%s", switches, impossible, settings)
	}
	screenshot(t, ctx, "privacy-centre-strict.png")

	// The admin console: charts render with real sizes.
	err = chromedp.Do(ctx,
		chromedp.Navigate(url+"/admin/login?token="+adminToken),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#impact"),
	)
	if err != nil {
		t.Fatalf("admin console: %v", err)
	}
	charts, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.bars rect").length`))
	width, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector("svg.bars").getBoundingClientRect().width`))
	if charts < 10 || width < 200 {
		t.Fatalf("admin charts: %d bars, %.0f px wide", charts, width)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text("main"))
	for _, want := range []string{"2024-09-18", "Notice violation", "widened combination", "Consent events recorded per month", "records read", "leaves", "Impact queue"} {
		if !strings.Contains(body, want) {
			t.Errorf("the console lacks %q", want)
		}
	}
	screenshot(t, ctx, "admin-console.png")
}

func cssEscape(id string) string { return strings.NewReplacer(".", `\.`, ":", `\:`).Replace(id) }

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestTwoServersOnePostgres: two `consentgate serve` processes on one
// PostgreSQL database take writes at once; each reads the other's within
// the sync interval, and the log they append together verifies.
func TestTwoServersOnePostgres(t *testing.T) {
	base := os.Getenv("CONSENTGATE_TEST_POSTGRES")
	if base == "" {
		base = "postgres://127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (.ci/run starts it)", base, err)
	}
	schema := fmt.Sprintf("cg_serve_%d", time.Now().UnixNano())
	admin.Exec(ctx, "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	dir := setupPG(t, base+"&search_path="+schema)
	pg, kk := "--store="+base+"&search_path="+schema, "--keys="+filepath.Join(dir, "pg.keys")
	token := strings.TrimSpace(ok(t, dir, pg, kk, "token", "create", "--role", "operator"))
	urls := []string{serve(t, dir, pg, kk), serve(t, dir, pg, kk)}
	call := func(method, url, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// 200 writes, alternating servers, 8 at a time.
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject := []string{"ana", "ben", "cy", "dee", "eve"}[i%5]
			state := []string{"granted", "denied"}[i%2]
			at := time.Unix(1_730_000_000+int64(i), 0).UTC().Format(time.RFC3339)
			code, b := call("POST", fmt.Sprintf("%s/v1/subjects/%s/consents", urls[i%2], subject),
				fmt.Sprintf(`{"purpose":"train_ai_system","recipient":"third_party","state":%q,"at":%q}`, state, at))
			if code != 201 {
				errs <- fmt.Sprintf("write %d: %d %s", i, code, b)
			}
		}()
		if i%8 == 7 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// The last write for eve (i = 199, denied) went to server 1; server 0
	// sees it.
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, b := call("GET", urls[0]+"/v1/subjects/eve/consents", "")
		if strings.Contains(b, `"recipient":"partner-x","recipient_class":"third_party","state":"denied"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server 0 never saw server 1's write:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := ok(t, dir, pg, kk, "log", "verify"); !strings.Contains(out, "log verified") || !strings.Contains(out, "consent leaves") {
		t.Fatalf("the log two servers appended to: %s", out)
	}
}

// setupPG publishes the e2e policies and imports its subjects into a
// PostgreSQL store.
func setupPG(t *testing.T, dsn string) string {
	dir := e2eDir(t)
	pg, kk := "--store="+dsn, "--keys="+filepath.Join(dir, "pg.keys")
	ok(t, dir, pg, kk, "policy", "publish", "policy-1.yaml")
	ok(t, dir, pg, kk, "policy", "publish", "policy-2.yaml")
	ok(t, dir, pg, kk, "subjects", "import", "subjects.jsonl")
	return dir
}
