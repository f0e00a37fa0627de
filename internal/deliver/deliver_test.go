package deliver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/deliver"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func openStore(t testing.TB, n int) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var evs []consent.Event
	for i := range n {
		evs = append(evs, consent.Event{Subject: fmt.Sprintf("m%02d", i%37), Purpose: "train_ai_system", State: policy.State(1 + i%2),
			At: timestamp.Time(int64(i) * 1000), Source: "settings"})
	}
	if _, err := st.AddConsentEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return st
}

// checkOrder requires every subject's events to arrive in time order with
// none missing (they were stored in that order), duplicates allowed.
func checkOrder(t testing.TB, got []deliver.Message, n int) {
	t.Helper()
	last := map[string]timestamp.Time{}
	seen := map[int64]bool{}
	for _, m := range got {
		if prev, ok := last[m.Subject]; ok && m.At < prev {
			t.Fatalf("subject %s: event at %d after one at %d", m.Subject, m.At, prev)
		}
		last[m.Subject] = m.At
		seen[m.Seq] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events arrived, want %d", len(seen), n)
	}
}

// TestWebhookRetriesAndSigns delivers to a receiver that checks every
// request with Standard Webhooks' own Go library, and with Verify.
func TestWebhookRetriesAndSigns(t *testing.T) {
	const n = 1234
	st := openStore(t, n)
	storeKey := []byte("0123456789abcdef0123456789abcdef")
	hook := deliver.ChangesWebhook(storeKey, "") // its URL is set below
	var mu sync.Mutex
	var got []deliver.Message
	var ids []string
	requests, refused := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		lib, err := standardwebhooks.NewWebhook(hook.Secret())
		if err != nil {
			t.Fatal(err)
		}
		if err := lib.Verify(body, r.Header); err != nil {
			t.Errorf("standardwebhooks: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if err := deliver.Verify(hook.Secret(), r.Header, body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("deliver.Verify: %v", err)
		}
		ids = append(ids, r.Header.Get("webhook-id"))
		if requests <= 2 { // the receiver is down at first
			refused++
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		var b deliver.Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("body: %v", err)
		}
		first, last := b.Events[0].Seq, b.Events[len(b.Events)-1].Seq
		if want := fmt.Sprintf("%d-%d", first, last); r.Header.Get("Consentgate-Delivery") != want {
			t.Errorf("Consentgate-Delivery %q, want %q", r.Header.Get("Consentgate-Delivery"), want)
		}
		if id := r.Header.Get("webhook-id"); id != hook.MessageID(first, last) || !strings.HasSuffix(id, fmt.Sprintf("_%d-%d", first, last)) || strings.Contains(id, ".") {
			t.Errorf("webhook-id %q for seq %d-%d", id, first, last)
		}
		got = append(got, b.Events...)
	}))
	defer srv.Close()
	mu.Lock()
	hook = deliver.ChangesWebhook(storeKey, srv.URL)
	mu.Unlock()
	ctx := context.Background()
	opts := deliver.Options{Batch: 100, Once: true, MinBackoff: time.Millisecond}
	if err := deliver.Run(ctx, st, hook, opts); err != nil {
		t.Fatal(err)
	}
	if refused != 2 || requests != 2+13 {
		t.Fatalf("%d requests, %d refused", requests, refused)
	}
	// A retried batch keeps its webhook-id (receivers deduplicate by it);
	// every batch has its own.
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[2] != hook.MessageID(1, 100) {
		t.Fatalf("the first batch's attempts carried ids %q", ids[:3])
	}
	distinct := map[string]bool{}
	for _, id := range ids[2:] {
		distinct[id] = true
	}
	if len(distinct) != 13 {
		t.Fatalf("13 batches carried %d ids", len(distinct))
	}
	checkOrder(t, got, n)
	for i, m := range got {
		if m.Seq != int64(i+1) || m.Purpose != "train_ai_system" || (m.State != "granted" && m.State != "denied") {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	if c, _ := st.Delivered(ctx, hook.Destination()); c != n {
		t.Fatalf("cursor %d", c)
	}
	// Nothing is sent twice once acknowledged; new events follow.
	st.AddConsentEvents(ctx, []consent.Event{{Subject: "late", Purpose: "p", State: policy.Denied, At: 5, Source: "gpc",
		Policy: "v1", Notice: "https://example.com/v1"}})
	if err := deliver.Run(ctx, st, hook, opts); err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 || got[n].Subject != "late" || got[n].Source != "gpc" || got[n].Policy != "v1" || got[n].Notice != "https://example.com/v1" || got[n-1].Policy != "" {
		t.Fatalf("%d messages, last %+v", len(got), got[len(got)-1])
	}
}

// TestEndpointSecrets: every endpoint has a secret of its own, derived
// from the store's key and the destination, in the whsec_ form the
// library reads.
func TestEndpointSecrets(t *testing.T) {
	storeKey := []byte("0123456789abcdef0123456789abcdef")
	a := deliver.ChangesWebhook(storeKey, "https://a.example/hook")
	secrets := map[string]string{
		"changes a":           a.Secret(),
		"changes b":           deliver.ChangesWebhook(storeKey, "https://b.example/hook").Secret(),
		"partner-x's notices": deliver.NoticesWebhook(storeKey, "partner-x", "https://a.example/hook").Secret(),
		"partner-y's notices": deliver.NoticesWebhook(storeKey, "partner-y", "https://a.example/hook").Secret(),
		"another store's":     deliver.ChangesWebhook([]byte("fedcba9876543210fedcba9876543210"), "https://a.example/hook").Secret(),
	}
	seen := map[string]string{}
	for name, s := range secrets {
		if other, ok := seen[s]; ok {
			t.Errorf("%s and %s share a secret", name, other)
		}
		seen[s] = name
		key, err := deliver.ParseSecret(s)
		if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) != 32 {
			t.Errorf("%s: secret %q: %d bytes, %v", name, s, len(key), err)
		}
	}
	if again := deliver.ChangesWebhook(storeKey, "https://a.example/hook"); again.Secret() != a.Secret() || again.MessageID(1, 2) != a.MessageID(1, 2) {
		t.Fatal("the same endpoint derived another secret or id")
	}
	if a.MessageID(1, 2) == deliver.ChangesWebhook(storeKey, "https://b.example/hook").MessageID(1, 2) {
		t.Fatal("two endpoints share a webhook-id")
	}
	for _, bad := range []string{"whsec_not base64", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := deliver.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted it", bad)
		}
	}
}

// TestVerifyInterop holds Verify to the library both ways: it accepts what
// the library signs and refuses what the library refuses.
func TestVerifyInterop(t *testing.T) {
	secret := deliver.ChangesWebhook([]byte("0123456789abcdef0123456789abcdef"), "https://a.example/hook").Secret()
	other := deliver.ChangesWebhook([]byte("0123456789abcdef0123456789abcdef"), "https://b.example/hook").Secret()
	lib, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	libOther, _ := standardwebhooks.NewWebhook(other)
	body := []byte(`{"events":[{"seq":1}]}`)
	now := time.Now()
	headers := func(id string, at time.Time, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		h.Set("webhook-signature", sig)
		return h
	}
	libSig := func(w *standardwebhooks.Webhook, id string, at time.Time) string {
		s, err := w.Sign(id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	key, _ := deliver.ParseSecret(secret)
	if got, want := deliver.Sign(key, "msg_1", now, body), libSig(lib, "msg_1", now); got != want {
		t.Fatalf("Sign %q, the library %q", got, want)
	}
	otherSig := libSig(libOther, "msg_1", now)
	for _, c := range []struct {
		name   string
		h      http.Header
		body   []byte
		accept bool
	}{
		{"signed by the library", headers("msg_1", now, libSig(lib, "msg_1", now)), body, true},
		{"a rotation: an old key's signature and v1a first", headers("msg_1", now, otherSig+" v1a,AAAA "+libSig(lib, "msg_1", now)), body, true},
		{"a changed body", headers("msg_1", now, libSig(lib, "msg_1", now)), []byte(`{"events":[]}`), false},
		{"another id", headers("msg_2", now, libSig(lib, "msg_1", now)), body, false},
		{"another endpoint's key", headers("msg_1", now, otherSig), body, false},
		{"ten minutes old", headers("msg_1", now.Add(-10*time.Minute), libSig(lib, "msg_1", now.Add(-10*time.Minute))), body, false},
		{"ten minutes ahead", headers("msg_1", now.Add(10*time.Minute), libSig(lib, "msg_1", now.Add(10*time.Minute))), body, false},
		{"no signature", headers("msg_1", now, ""), body, false},
		{"no id", headers("", now, libSig(lib, "", now)), body, false},
		{"a signature of another version", headers("msg_1", now, strings.Replace(libSig(lib, "msg_1", now), "v1,", "v2,", 1)), body, false},
	} {
		libErr := lib.Verify(c.body, c.h)
		ourErr := deliver.Verify(secret, c.h, c.body, now, 5*time.Minute)
		if (libErr == nil) != c.accept || (ourErr == nil) != c.accept {
			t.Errorf("%s: the library says %v, Verify %v; want accepted %v", c.name, libErr, ourErr, c.accept)
		}
	}
	// The tolerance is Verify's to set.
	old := now.Add(-10 * time.Minute)
	if err := deliver.Verify(secret, headers("msg_1", old, libSig(lib, "msg_1", old)), body, now, 15*time.Minute); err != nil {
		t.Fatalf("within a 15-minute tolerance: %v", err)
	}
}

func TestNATSJetStream(t *testing.T) {
	url := os.Getenv("CONSENTGATE_TEST_NATS")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	const n = 400
	st := openStore(t, n)
	ctx := context.Background()
	name := fmt.Sprintf("CGTEST%d", time.Now().UnixNano())
	sink := &deliver.NATS{URL: url, Subject: "cgtest." + name, Stream: name}
	if err := sink.Connect(ctx); err != nil {
		t.Fatalf("%v (.ci/run starts nats-server with JetStream)", err)
	}
	defer sink.Close()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	defer js.DeleteStream(context.Background(), name)

	if err := deliver.Run(ctx, st, sink, deliver.Options{Batch: 64, Once: true}); err != nil {
		t.Fatal(err)
	}
	// A redelivered batch (a deliverer killed before it saved its cursor)
	// is dropped by the stream as duplicates.
	evs, _ := st.ConsentAfter(ctx, 0, 10)
	var again []deliver.Message
	for _, e := range evs {
		again = append(again, deliver.Message{Seq: e.Seq, Subject: e.Subject, Purpose: e.Purpose, State: e.State.String(), At: e.At, Source: e.Source})
	}
	if err := sink.Send(ctx, again); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	if info.State.Msgs != n {
		t.Fatalf("the stream holds %d messages, want %d", info.State.Msgs, n)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []deliver.Message
	for m := range batch.Messages() {
		var msg deliver.Message
		if err := json.Unmarshal(m.Data(), &msg); err != nil {
			t.Fatal(err)
		}
		if m.Headers().Get(jetstream.MsgIDHeader) != fmt.Sprintf("consent-%d", msg.Seq) {
			t.Fatalf("Nats-Msg-Id %q for seq %d", m.Headers().Get(jetstream.MsgIDHeader), msg.Seq)
		}
		got = append(got, msg)
	}
	checkOrder(t, got, n)
	if c, _ := st.Delivered(ctx, sink.Destination()); c != n {
		t.Fatalf("cursor %d", c)
	}
}

// TestOnceGivesUp: with Once, a destination that stays down ends the run
// with an error naming it (a cron job does not hang), and the cursor has
// not moved.
func TestOnceGivesUp(t *testing.T) {
	st := openStore(t, 10)
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	hook := deliver.ChangesWebhook([]byte("0123456789abcdef0123456789abcdef"), srv.URL)
	err := deliver.Run(context.Background(), st, hook, deliver.Options{Once: true, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not delivered after 11 attempts") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("a destination that stays down: %v", err)
	}
	if requests != 11 {
		t.Fatalf("%d requests", requests)
	}
	if c, _ := st.Delivered(context.Background(), hook.Destination()); c != 0 {
		t.Fatalf("the cursor moved to %d", c)
	}
}
