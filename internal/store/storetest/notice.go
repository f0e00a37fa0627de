package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// testNoted: the policy version and notice a consent event notes are
// stored as given — by a single write, a group commit large or small, an
// import — and read back alike by every read (the history, the outbox,
// the rows the log is verified from, the scans views load, any derived
// copy), beside events that noted none; the log verifies, and an erased
// subject's noted rows are vouched for by its erasure.
func testNoted(t *testing.T, s store.Store, keys *translog.KeyStore) {
	ctx := context.Background()
	noted := func(i int) (string, string) {
		switch i % 3 {
		case 0:
			return "", ""
		case 1:
			return "2024-09-18", "https://example.com/privacy/2024-09-18"
		}
		return "2025-01-01", "" // a version without a notice
	}
	ev := func(i int, source string) consent.Event {
		p, n := noted(i)
		return consent.Event{Subject: fmt.Sprintf("n%03d", i%300), Purpose: "train_ai_system", Recipient: []string{"", "third_party"}[i%2],
			State: policy.State(1 + i%2), At: timestamp.Time(1_700_000_000_000_000 + int64(i)), Source: source, Policy: p, Notice: n}
	}
	var one, small, large []consent.Event
	one = append(one, ev(1, "settings"))
	for i := 2; i < 40; i++ {
		small = append(small, ev(i, "api"))
	}
	for i := 40; i < 700; i++ { // more than a small group
		large = append(large, ev(i, "gpc"))
	}
	for _, b := range [][]consent.Event{one, small, large} {
		if n, err := s.AddConsentEvents(ctx, b); err != nil || n != len(b) {
			t.Fatalf("add %d: %d %v", len(b), n, err)
		}
	}
	const total = 6000 // enough to be packed where a store packs
	_, added, err := s.ImportConsentEvents(ctx, func(yield func(consent.Event, error) bool) {
		for i := 700; i < total; i++ {
			if !yield(ev(i, "import"), nil) {
				return
			}
		}
	})
	if err != nil || added != total-700 {
		t.Fatalf("import: %d %v", added, err)
	}
	// Noting a version does not make the same choice another event.
	again := ev(1, "settings")
	again.Policy, again.Notice = "other", ""
	if n, err := s.AddConsentEvents(ctx, []consent.Event{again}); err != nil || n != 0 {
		t.Fatalf("the same choice noting another version: %d added, %v", n, err)
	}

	want := map[int64]consent.Event{} // by sequence number, from the outbox
	for after := int64(0); ; {
		evs, err := s.ConsentAfter(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			want[e.Seq] = e
			after = e.Seq
		}
	}
	if len(want) != total-1 {
		t.Fatalf("the outbox has %d events, want %d", len(want), total-1)
	}
	byAt := map[timestamp.Time]consent.Event{}
	for _, e := range want {
		byAt[e.At] = e
	}
	for i := 1; i < total; i++ {
		e, ok := byAt[ev(i, "").At]
		p, n := noted(i)
		if !ok || e.Policy != p || e.Notice != n {
			t.Fatalf("event %d: %+v, want policy %q notice %q", i, e, p, n)
		}
	}
	same := func(what string, r *store.ConsentRow) {
		t.Helper()
		w, ok := want[r.Seq]
		if !ok || string(r.Policy) != w.Policy || string(r.Notice) != w.Notice || string(r.Subject) != w.Subject || string(r.Source) != w.Source {
			t.Fatalf("%s: row %d has policy %q notice %q, the outbox %+v", what, r.Seq, r.Policy, r.Notice, w)
		}
	}
	n := 0
	if err := s.ConsentRows(ctx, 0, 1<<62, func(r *store.ConsentRow) error { same("the rows", r); n++; return nil }); err != nil || n != total-1 {
		t.Fatalf("rows: %d %v", n, err)
	}
	n = 0
	if err := s.ScanConsent(ctx, timestamp.Max, nil, func(r *store.ConsentRow) error { same("a scan of everyone", r); n++; return nil }); err != nil || n != total-1 {
		t.Fatalf("scan: %d %v", n, err)
	}
	if err := s.ScanConsent(ctx, timestamp.Max, []string{"n001", "n002"}, func(r *store.ConsentRow) error { same("a scan of two", r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DerivedConsentRows(ctx, func(r *store.ConsentRow) error { same("the derived copy", r); return nil }); err != nil {
		t.Fatal(err)
	}
	h, err := s.ConsentHistory(ctx, "n001")
	if err != nil || len(h) == 0 {
		t.Fatalf("history: %v", err)
	}
	for _, e := range h {
		if w := want[e.Seq]; e != w {
			t.Fatalf("history %+v, the outbox %+v", e, w)
		}
	}
	all, err := keys.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := translog.Verify(ctx, s, translog.KeyMap(all), "", nil); err != nil || rep.Leaves["consent"] != total-1 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// An erasure vouches for its subject's rows, noted versions included.
	if err := s.AddErasure(ctx, "n004", 9); err != nil {
		t.Fatal(err)
	}
	keys.Erase(ctx, "n004")
	all, _ = keys.All(ctx)
	if rep, err := translog.Verify(ctx, s, translog.KeyMap(all), "", nil); err != nil || rep.Erased == 0 {
		t.Fatalf("verify after an erasure: %+v %v", rep, err)
	}
}
