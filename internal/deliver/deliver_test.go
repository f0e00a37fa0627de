package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

func TestWebhookRetriesAndSigns(t *testing.T) {
	const n = 1234
	st := openStore(t, n)
	key := []byte("0123456789abcdef0123456789abcdef")
	var mu sync.Mutex
	var got []deliver.Message
	requests, refused := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		if err := deliver.VerifySignature(key, r.Header.Get("Consentgate-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if requests <= 2 { // the receiver is down at first
			refused++
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		var b deliver.Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("body: %v", err)
		}
		if want := fmt.Sprintf("%d-%d", b.Events[0].Seq, b.Events[len(b.Events)-1].Seq); r.Header.Get("Consentgate-Delivery") != want {
			t.Errorf("Consentgate-Delivery %q, want %q", r.Header.Get("Consentgate-Delivery"), want)
		}
		got = append(got, b.Events...)
	}))
	defer srv.Close()
	hook := &deliver.Webhook{URL: srv.URL, Key: key}
	ctx := context.Background()
	opts := deliver.Options{Batch: 100, Once: true, MinBackoff: time.Millisecond}
	if err := deliver.Run(ctx, st, hook, opts); err != nil {
		t.Fatal(err)
	}
	if refused != 2 || requests != 2+13 {
		t.Fatalf("%d requests, %d refused", requests, refused)
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
	// A tampered body or an old signature is refused by the receiver's check.
	body := []byte(`{"events":[]}`)
	sig := deliver.Sign(key, time.Now(), body)
	if deliver.VerifySignature(key, sig, []byte(`{"events":[{}]}`), time.Now(), time.Minute) == nil {
		t.Fatal("a changed body verified")
	}
	if deliver.VerifySignature(key, sig, body, time.Now().Add(time.Hour), time.Minute) == nil {
		t.Fatal("an old signature verified")
	}
	if deliver.VerifySignature([]byte("other"), sig, body, time.Now(), time.Minute) == nil {
		t.Fatal("another key verified")
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
