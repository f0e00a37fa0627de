package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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
	shoot(t, ctx, name, chromedp.FullScreenshot(100))
}

// viewportShot saves what the screen shows now (not the whole page), as
// screenshot does.
func viewportShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shoot(t, ctx, name, chromedp.CaptureScreenshot())
}

func shoot(t *testing.T, ctx context.Context, name string, take chromedp.Action[[]byte]) {
	t.Helper()
	png, err := chromedp.Run(ctx, take)
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

func cssEscape(id string) string { return strings.NewReplacer(".", `\.`, ":", `\:`).Replace(id) }

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestTwoServersOnePostgres: two `consentgate serve` processes on one
// PostgreSQL database take writes at once; each reads the other's within
// the sync interval, and the log they append together verifies.
func TestTwoServersOnePostgres(t *testing.T) {
	dir, pg, kk := setupPGSchema(t)
	token := strings.TrimSpace(ok(t, dir, pg, kk, "token", "create", "--role", "operator"))
	urls := []string{serve(t, dir, pg, kk), serve(t, dir, pg, kk)}
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
			code, b := call(t, urls[i%2], token, "POST", fmt.Sprintf("/v1/subjects/%s/consents", subject),
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
		_, b := call(t, urls[0], token, "GET", "/v1/subjects/eve/consents", "")
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
// setupPGSchema sets up a store (setupPG) in a PostgreSQL schema of the
// test's own (newPGSchema), dropped after the test; it returns the
// directory and the --store and --keys flags that run consentgate on it.
func setupPGSchema(t *testing.T) (dir, store, keys string) {
	t.Helper()
	dsn := newPGSchema(t).dsn
	dir = setupPG(t, dsn)
	return dir, "--store=" + dsn, "--keys=" + filepath.Join(dir, "pg.keys")
}

func setupPG(t *testing.T, dsn string) string {
	dir := e2eDir(t)
	pg, kk := "--store="+dsn, "--keys="+filepath.Join(dir, "pg.keys")
	ok(t, dir, pg, kk, "policy", "publish", "policy-1.yaml")
	ok(t, dir, pg, kk, "policy", "publish", "policy-2.yaml")
	ok(t, dir, pg, kk, "subjects", "import", "subjects.jsonl")
	return dir
}
