package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/consentgate/consentgate/internal/deliver"
)

// receiver is a webhook endpoint that checks every request with Standard
// Webhooks' own Go library, configured with the secret `deliver secret`
// printed, and keeps what arrives.
type receiver struct {
	t      *testing.T
	secret atomic.Value // string: whsec_…; set before the deliverer starts
	delay  atomic.Int64 // nanoseconds each request takes; set while requests are served

	mu  sync.Mutex
	got []deliver.Message
	ids map[string]string // webhook-id → the Consentgate-Delivery it came with
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil || int64(len(body)) != req.ContentLength {
		return // the deliverer was killed mid-request: nothing arrived
	}
	lib, err := standardwebhooks.NewWebhook(r.secret.Load().(string))
	if err == nil {
		err = lib.Verify(body, req.Header)
	}
	if err != nil {
		r.t.Errorf("signature: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var b deliver.Body
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("body: %v", err)
	}
	time.Sleep(time.Duration(r.delay.Load()))
	r.mu.Lock()
	defer r.mu.Unlock()
	// A webhook-id names one batch: seen again, it carries the same events.
	id, batch := req.Header.Get("webhook-id"), req.Header.Get("Consentgate-Delivery")
	if prev, ok := r.ids[id]; ok && prev != batch {
		r.t.Errorf("webhook-id %s came with batch %s and %s", id, prev, batch)
	}
	if r.ids == nil {
		r.ids = map[string]string{}
	}
	r.ids[id] = batch
	r.got = append(r.got, b.Events...)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// TestDeliverSurvivesKill kills the deliverer mid-stream; restarted, it
// delivers every consent event, in order per subject, with no gaps. A new
// opt-out reaches the webhook while the deliverer follows the store.
func TestDeliverSurvivesKill(t *testing.T) {
	dir := setupE2E(t)
	var lines bytes.Buffer
	const n = 6000
	for i := range n {
		fmt.Fprintf(&lines, `{"subject":"bulk%03d","purpose":"train_ai_system","state":"%s","at":"2024-%02d-%02dT%02d:%02d:00Z","source":"settings"}`+"\n",
			i%97, []string{"granted", "denied"}[i%2], 1+i/1000, 1+(i/40)%25, (i/2)%24, i%60)
	}
	os.WriteFile(filepath.Join(dir, "bulk.jsonl"), lines.Bytes(), 0o644)
	ok(t, dir, "consent", "import", "bulk.jsonl")
	total := n + 3 // and the three of setupE2E
	// Before any delivery, the lists are empty lists, not null.
	if out := ok(t, dir, "deliver", "status", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("deliver status: %q", out)
	}
	if out := ok(t, dir, "impact", "--json"); strings.Join(strings.Fields(out), "") != `{"items":[]}` {
		t.Fatalf("impact: %q", out)
	}

	rcv := &receiver{t: t}
	rcv.delay.Store(int64(5 * time.Millisecond))
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	// The receiver is configured before the first delivery: deliver secret
	// creates the store's webhook key.
	rcv.secret.Store(strings.TrimSpace(ok(t, dir, "deliver", "secret", "--webhook", srv.URL)))

	cmd := exec.Command(binary, "deliver", "--webhook", srv.URL, "--batch", "50")
	cmd.Dir = dir
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for rcv.count() < 1000 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if c := rcv.count(); c < 1000 || c >= total {
		t.Fatalf("killed after %d of %d events: not mid-stream\n%s", c, total, errOut.String())
	}
	t.Logf("killed after %d of %d events", rcv.count(), total)

	// Restarted, it resumes at its cursor and drains the outbox.
	rcv.delay.Store(0)
	if out, errs, code := cg(t, dir, "deliver", "--webhook", srv.URL, "--once"); code != 0 {
		t.Fatalf("deliver --once: %d %s %s", code, out, errs)
	}
	rcv.mu.Lock()
	seen := map[int64]bool{}
	last := map[string]int64{}
	for _, m := range rcv.got {
		if m.Seq < last[m.Subject] {
			t.Fatalf("subject %s: seq %d after %d", m.Subject, m.Seq, last[m.Subject])
		}
		last[m.Subject] = m.Seq
		seen[m.Seq] = true
	}
	dups := len(rcv.got) - len(seen)
	rcv.mu.Unlock()
	for seq := int64(1); seq <= int64(total); seq++ {
		if !seen[seq] {
			t.Fatalf("seq %d never arrived", seq)
		}
	}
	t.Logf("%d events delivered, %d of them twice (the batch in flight at the kill)", len(seen), dups)
	if out := ok(t, dir, "deliver", "status"); !strings.Contains(out, fmt.Sprintf("webhook:%s: delivered up to seq %d, 0 pending", srv.URL, total)) {
		t.Fatalf("deliver status: %s", out)
	}

	// Following the store: an opt-out arrives while deliver runs.
	follow := exec.Command(binary, "deliver", "--webhook", srv.URL)
	follow.Dir = dir
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-02-01T00:00:00Z")
	for {
		rcv.mu.Lock()
		arrived := false
		if len(rcv.got) > 0 {
			m := rcv.got[len(rcv.got)-1]
			arrived = m.Subject == "ana" && m.State == "denied" && strings.HasPrefix(m.At.String(), "2025-02-01")
		}
		rcv.mu.Unlock()
		if arrived {
			t.Logf("the opt-out reached the webhook %v after consent set returned", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("the opt-out never arrived")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, errOut, code := cg(t, dir, "deliver", "--webhook", "example.com/hook"); code != 2 || !strings.Contains(errOut, "expected an http:// or https:// URL") {
		t.Fatalf("a bad URL: %d %s", code, errOut)
	}
	follow.Process.Signal(syscall.SIGTERM)
	if err := follow.Wait(); err != nil {
		t.Fatalf("deliver on SIGTERM: %v", err)
	}
}

// TestDeliverSecret: `deliver secret` prints each endpoint's Standard
// Webhooks secret, one of its own for every webhook and every recipient,
// the same each time; it is the one the deliverer signs with.
func TestDeliverSecret(t *testing.T) {
	dir := setupE2E(t)
	keyPath := filepath.Join(dir, "consentgate.db.keys", "webhook.key")
	if _, err := os.Stat(keyPath); err == nil {
		t.Fatal("the webhook key exists before any webhook")
	}
	a := strings.TrimSpace(ok(t, dir, "deliver", "secret", "--webhook", "https://ml.example.com/consent"))
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatalf("deliver secret did not create the key: %v", err)
	}
	if !regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{43}=$`).MatchString(a) {
		t.Fatalf("deliver secret: %q", a)
	}
	if again := strings.TrimSpace(ok(t, dir, "deliver", "secret", "--webhook", "https://ml.example.com/consent")); again != a {
		t.Fatalf("a second deliver secret printed %q, then %q", a, again)
	}
	if want := deliver.ChangesWebhook(key, "https://ml.example.com/consent").Secret(); a != want {
		t.Fatalf("deliver secret %q, the deliverer signs with %q", a, want)
	}
	n := strings.TrimSpace(ok(t, dir, "deliver", "secret", "--notices", "partner-x=https://ml.example.com/consent"))
	if want := deliver.NoticesWebhook(key, "partner-x", "https://ml.example.com/consent").Secret(); n != want || n == a {
		t.Fatalf("deliver secret --notices %q, want %q (and not the consent webhook's)", n, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"deliver", "secret"}, "give one --webhook URL or one --notices RECIPIENT=URL"},
		{[]string{"deliver", "secret", "--webhook", "https://a.example", "--notices", "partner-x=https://a.example"}, "give one --webhook URL or one --notices RECIPIENT=URL"},
		{[]string{"deliver", "secret", "--webhook", "a.example/hook"}, "expected an http:// or https:// URL"},
		{[]string{"deliver", "secret", "--notices", "https://a.example"}, "expected RECIPIENT=URL"},
	} {
		if _, errOut, code := cg(t, dir, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %d %s", c.args, code, errOut)
		}
	}
}
