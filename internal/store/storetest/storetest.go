// Package storetest is the storage contract's test suite: every backend runs
// it against a real database (a SQLite file, the PostgreSQL server).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// Open returns a new, empty store for one test, whose log takes subject
// keys from keys.
type Open func(t *testing.T, keys store.Keys) store.Store

// keyStore opens a key store for one test.
func keyStore(t *testing.T) *translog.KeyStore {
	t.Helper()
	ks, err := translog.OpenKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func str(s string) *string { return &s }

func ts(t *testing.T, s string) timestamp.Time {
	t.Helper()
	v, err := timestamp.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Run runs the contract suite.
func Run(t *testing.T, openWith Open) {
	open := func(t *testing.T) store.Store { return openWith(t, keyStore(t)) }
	t.Run("Policies", func(t *testing.T) { testPolicies(t, open(t)) })
	t.Run("SubjectEvents", func(t *testing.T) { testSubjects(t, open(t)) })
	t.Run("ConsentEvents", func(t *testing.T) { testConsent(t, open(t)) })
	t.Run("View", func(t *testing.T) { testView(t, open(t)) })
	t.Run("BulkView", func(t *testing.T) { testBulkView(t, open(t)) })
	t.Run("ImportRollsBack", func(t *testing.T) { testImportRollsBack(t, open(t)) })
	t.Run("Exports", func(t *testing.T) { testExports(t, open(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("ConsistentReads", func(t *testing.T) { testConsistentReads(t, open(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("Log", func(t *testing.T) {
		ks := keyStore(t)
		testLog(t, openWith(t, ks), ks)
	})
	t.Run("NotedPolicy", func(t *testing.T) {
		ks := keyStore(t)
		testNoted(t, openWith(t, ks), ks)
	})
	t.Run("Notices", func(t *testing.T) {
		ks := keyStore(t)
		testNotices(t, openWith(t, ks), ks)
	})
	t.Run("NoticeRace", func(t *testing.T) {
		ks := keyStore(t)
		testNoticeRace(t, openWith(t, ks), ks)
	})
}

func testPolicies(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := store.Policy{Version: "v2", EffectiveFrom: ts(t, "2024-09-18T00:00:00Z"), Source: []byte("b"), Digest: "d2", PublishedAt: 2}
	if added, err := s.PublishPolicy(ctx, p); err != nil || !added {
		t.Fatalf("publish: %v %v", added, err)
	}
	if added, err := s.PublishPolicy(ctx, p); err != nil || added {
		t.Fatalf("republish same: %v %v", added, err)
	}
	q := p
	q.Digest, q.Source = "other", []byte("c")
	if _, err := s.PublishPolicy(ctx, q); !errors.Is(err, store.ErrExists) {
		t.Fatalf("republish different: %v", err)
	}
	s.PublishPolicy(ctx, store.Policy{Version: "v1", EffectiveFrom: ts(t, "2022-01-01T00:00:00Z"), Source: []byte("a"), Digest: "d1", PublishedAt: 3, Forced: true})
	ps, err := s.Policies(ctx)
	if err != nil || len(ps) != 2 || ps[0].Version != "v1" || !ps[0].Forced || string(ps[1].Source) != "b" {
		t.Fatalf("policies %+v %v", ps, err)
	}
}

func testSubjects(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := []consent.SubjectEvent{
		{Subject: "u1", At: ts(t, "2020-01-01T00:00:00Z"), RegionSet: true, Region: "DE", Attributes: map[string]*string{"tier": str("premium"), "name": str("Ana \"A\" <x>")}},
		{Subject: "u1", At: ts(t, "2024-01-01T00:00:00Z"), RegionSet: true, Region: ""},
		{Subject: "u1", At: ts(t, "2022-01-01T00:00:00Z"), Attributes: map[string]*string{"tier": nil}},
		{Subject: "u2", At: ts(t, "2021-01-01T00:00:00Z")},
	}
	if n, err := s.AddSubjectEvents(ctx, evs); err != nil || n != 4 {
		t.Fatalf("add: %d %v", n, err)
	}
	if n, err := s.AddSubjectEvents(ctx, evs); err != nil || n != 0 {
		t.Fatalf("idempotent add: %d %v", n, err)
	}
	h, err := s.SubjectHistory(ctx, "u1")
	if err != nil || len(h) != 3 {
		t.Fatalf("history %+v %v", h, err)
	}
	if h[0].Region != "DE" || *h[0].Attributes["name"] != "Ana \"A\" <x>" || h[1].Attributes["tier"] != nil || !h[2].RegionSet || h[2].Region != "" {
		t.Fatalf("history order or fields %+v", h)
	}
	if _, ok := h[1].Attributes["tier"]; !ok {
		t.Fatal("a removal must be kept as a null attribute")
	}
}

func testConsent(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := []consent.Event{
		{Subject: "u1", Purpose: "p", State: policy.Granted, At: ts(t, "2024-01-01T00:00:00Z"), Source: "settings"},
		{Subject: "u1", Purpose: "p", Recipient: "third_party", State: policy.Denied, At: ts(t, "2024-01-01T00:00:00Z"), Source: "gpc"},
		{Subject: "u1", Purpose: "p", State: policy.Denied, At: ts(t, "2023-01-01T00:00:00Z"), Source: "import"},
	}
	if n, err := s.AddConsentEvents(ctx, evs); err != nil || n != 3 {
		t.Fatalf("add: %d %v", n, err)
	}
	if n, err := s.AddConsentEvents(ctx, evs[:2]); err != nil || n != 0 {
		t.Fatalf("idempotent add: %d %v", n, err)
	}
	h, err := s.ConsentHistory(ctx, "u1")
	if err != nil || len(h) != 3 {
		t.Fatalf("history %v", err)
	}
	// (at, seq) order: the 2023 event first, then the two 2024 ones in the order recorded.
	if h[0].At != ts(t, "2023-01-01T00:00:00Z") || h[1].Source != "settings" || h[2].Recipient != "third_party" || h[2].State != policy.Denied {
		t.Fatalf("history %+v", h)
	}
}

func testView(t *testing.T, s store.Store) {
	ctx := context.Background()
	s.AddSubjectEvents(ctx, []consent.SubjectEvent{
		{Subject: "a", At: ts(t, "2020-01-01T00:00:00Z"), RegionSet: true, Region: "DE"},
		{Subject: "a", At: ts(t, "2022-01-01T00:00:00Z"), Attributes: map[string]*string{"tier": str("premium")}},
		{Subject: "a", At: ts(t, "2023-01-01T00:00:00Z"), RegionSet: true, Region: "US-CA", Attributes: map[string]*string{"tier": nil}},
		{Subject: "b", At: ts(t, "2026-01-01T00:00:00Z"), RegionSet: true, Region: "FR"},
	})
	s.AddConsentEvents(ctx, []consent.Event{
		{Subject: "a", Purpose: "p", State: policy.Granted, At: ts(t, "2021-01-01T00:00:00Z"), Source: "api"},
		{Subject: "a", Purpose: "p", State: policy.Denied, At: ts(t, "2025-06-01T00:00:00Z"), Source: "api"},
	})
	v, err := store.LoadView(ctx, s, ts(t, "2025-01-01T00:00:00Z"), []string{"tier"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 1 {
		t.Fatalf("view has %d subjects; b joins after the as-of time", v.Len())
	}
	a, ok := v.Lookup("a")
	if !ok || v.NumConsent(a) != 1 {
		t.Fatal("a and its one consent event at or before the as-of time")
	}
	check := func(at, region, tier string) {
		t.Helper()
		st := v.StateAt(a, ts(t, at))
		if got := v.Regions[v.StateRegion(st)]; got != region {
			t.Errorf("region at %s = %q, want %q", at, got, region)
		}
		if got := v.AttrValues[0][v.StateAttr(st, 0)]; got != tier {
			t.Errorf("tier at %s = %q, want %q", at, got, tier)
		}
	}
	check("2019-01-01T00:00:00Z", "DE", "premium") // before any event: the earliest values set
	check("2021-01-01T00:00:00Z", "DE", "premium") // tier: no event before sets it, the earliest does
	check("2022-06-01T00:00:00Z", "DE", "premium")
	check("2024-01-01T00:00:00Z", "US-CA", "") // removed
	only, err := store.LoadView(ctx, s, ts(t, "2027-01-01T00:00:00Z"), nil, []string{"b"})
	if err != nil || only.Len() != 1 {
		t.Fatalf("subject-limited view: %v", err)
	}
	if _, ok := only.Lookup("a"); ok {
		t.Fatal("a is not in a view limited to b")
	}
}

func testExports(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := store.Export{ID: "exp-1", CreatedAt: 5, Purpose: "p", Recipient: "r", AsOf: 4, Manifest: []byte(`{"a":1}`), Subjects: []byte{1, 2, 3},
		Records: func(fn func([]byte) error) error {
			for _, c := range [][]byte{[]byte("chunk one"), {}, []byte("chunk\x00three")} {
				if err := fn(c); err != nil {
					return err
				}
			}
			return nil
		}}
	finish := func(i int64) ([]byte, error) { return fmt.Appendf(nil, `{"a":1,"log_index":%d}`, i), nil }
	if err := s.LogExport(ctx, e, finish); err != nil {
		t.Fatal(err)
	}
	if err := s.LogExport(ctx, e, finish); err == nil {
		t.Fatal("an export id is unique")
	}
	// The manifest and the export's state: two leaves.
	if n, err := s.LogSize(ctx); err != nil || n != 2 {
		t.Fatalf("log size %d %v: the failed export left a leaf", n, err)
	}
	es, err := s.Exports(ctx)
	if err != nil || len(es) != 1 || string(es[0].Manifest) != `{"a":1,"log_index":0}` || es[0].AsOf != 4 || string(es[0].Subjects) != "\x01\x02\x03" || es[0].Status != store.ExportLogged {
		t.Fatalf("exports %+v %v", es, err)
	}
	// Its state leaf vouches for the subject set and the kept records.
	data, _ := translog.ExportDataDigest(es[0].Dir, es[0].ManifestPath, es[0].Subjects, func(fn func([]byte) error) error { return s.ExportRecords(ctx, "exp-1", fn) })
	if !bytes.Equal(es[0].DataDigest, data) || !bytes.Equal(leafAt(t, s, 1), translog.ExportLeaf("exp-1", store.ExportLogged, data, false)) {
		t.Fatalf("the export's state leaf: digest %x, want %x", es[0].DataDigest, data)
	}
	var chunks []string
	if err := s.ExportRecords(ctx, "exp-1", func(c []byte) error { chunks = append(chunks, string(c)); return nil }); err != nil ||
		fmt.Sprintf("%q", chunks) != `["chunk one" "" "chunk\x00three"]` {
		t.Fatalf("an export's records, in order: %q %v", chunks, err)
	}
	if err := s.ExportRecords(ctx, "nope", func([]byte) error { t.Fatal("records of an unknown export"); return nil }); err != nil {
		t.Fatal(err)
	}
	if le, err := s.LoggedExports(ctx); err != nil || len(le) != 1 || le[0].ID != "exp-1" {
		t.Fatalf("logged exports %+v %v", le, err)
	}
	if err := s.SetExportStatus(ctx, "exp-1", store.ExportComplete); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.LogSize(ctx); n != 3 || !bytes.Equal(leafAt(t, s, 2), translog.ExportLeaf("exp-1", store.ExportComplete, data, false)) {
		t.Fatalf("a status change is logged with the export's state: log size %d", n)
	}
	if le, err := s.LoggedExports(ctx); err != nil || len(le) != 0 {
		t.Fatalf("logged exports after completion %+v %v", le, err)
	}
	if err := s.SetExportStatus(ctx, "nope", store.ExportComplete); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status of an unknown export: %v", err)
	}
	s.AddSubjectEvents(ctx, []consent.SubjectEvent{{Subject: "late", At: 50}, {Subject: "x", At: 10}, {Subject: "late", At: 5}})
	nx, okx, err := s.SubjectNumber(ctx, "x")
	nl, okl, _ := s.SubjectNumber(ctx, "late")
	if err != nil || !okx || !okl || nl >= nx {
		t.Fatalf("subject numbers x=%d(%v) late=%d(%v): %v; a subject's number is its first stored event's", nx, okx, nl, okl, err)
	}
	if _, ok, err := s.SubjectNumber(ctx, "nobody"); ok || err != nil {
		t.Fatalf("unknown subject: %v %v", ok, err)
	}
	var seqs []int64
	for _, st := range []string{"notified", "retrained"} {
		seq, err := s.AddImpactMark(ctx, store.ImpactMark{ExportID: "exp-1", Subject: "x", Status: st, Note: "n", At: 9})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if _, err := s.AddImpactMark(ctx, store.ImpactMark{ExportID: "no-such-export", Subject: "x", Status: "open"}); err == nil {
		t.Fatal("a mark for an unknown export was stored")
	}
	marks, err := s.ImpactMarks(ctx)
	if err != nil || len(marks) != 2 || marks[1].Status != "retrained" || marks[0].Note != "n" || marks[0].At != 9 ||
		seqs[0] == 0 || marks[0].Seq != seqs[0] || marks[1].Seq != seqs[1] {
		t.Fatalf("marks %+v %v", marks, err)
	}
}

// leafAt reads one leaf.
func leafAt(t *testing.T, s store.Store, i int64) []byte {
	t.Helper()
	var out []byte
	if err := s.LogLeaves(context.Background(), i, i+1, func(_ int64, d []byte) error { out = bytes.Clone(d); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var evs []consent.Event
			for i := 0; i < 200; i++ {
				evs = append(evs, consent.Event{Subject: "u", Purpose: "p", State: policy.Granted, At: timestamp.Time(w*1000 + i), Source: "api"})
			}
			if _, err := s.AddConsentEvents(ctx, evs); err != nil {
				errs <- err
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	h, err := s.ConsentHistory(ctx, "u")
	if err != nil || len(h) != 1600 {
		t.Fatalf("%d events after concurrent writes: %v", len(h), err)
	}
}

// testBulkView loads a view of more events than fit unpacked, with some
// after the as-of time, and checks it against the events one by one.
func testBulkView(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 10_000
	var subs []consent.SubjectEvent
	var cons []consent.Event
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("s%05d", i)
		tier := "free"
		if i%3 == 0 {
			tier = "premium"
		}
		subs = append(subs, consent.SubjectEvent{Subject: id, At: timestamp.Time(1000 + i), RegionSet: true, Region: []string{"DE", "US-CA", "FR"}[i%3],
			Attributes: map[string]*string{"tier": str(tier), "handle": str("@" + id)}})
		if i%2 == 0 {
			cons = append(cons, consent.Event{Subject: id, Purpose: "p", Recipient: []string{"", "third_party"}[i%4/2], State: policy.Granted, At: timestamp.Time(2000 + i), Source: "api"})
		}
	}
	// Add in several batches so that packs and an unpacked tail both exist.
	// Every other batch repeats a few events already stored, so that both
	// ways of packing (from memory, and reading back) are used.
	for lo := 0; lo < n; lo += 3000 {
		hi := min(lo+3000, n)
		sb, cb := subs[lo:hi], cons[lo/2:hi/2]
		if lo%6000 == 3000 {
			sb = append(append([]consent.SubjectEvent{}, sb...), subs[:10]...)
			cb = append(append([]consent.Event{}, cb...), cons[:10]...)
		}
		if added, err := s.AddSubjectEvents(ctx, sb); err != nil || added != hi-lo {
			t.Fatalf("added %d of %d subject events: %v", added, hi-lo, err)
		}
		if added, err := s.AddConsentEvents(ctx, cb); err != nil || added != (hi-lo)/2 {
			t.Fatalf("added %d of %d consent events: %v", added, (hi-lo)/2, err)
		}
	}
	asOf := timestamp.Time(1000 + n - 100) // the last 100 subjects join later
	v, err := store.LoadView(ctx, s, asOf, []string{"tier"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != n-99 {
		t.Fatalf("view has %d subjects, want %d", v.Len(), n-99)
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("s%05d", i)
		k, ok := v.Lookup(id)
		if ok != (i <= n-100) {
			t.Fatalf("%s known=%v", id, ok)
		}
		if !ok {
			continue
		}
		st := v.StateAt(k, asOf)
		if got, want := v.Regions[v.StateRegion(st)], subs[i].Region; got != want {
			t.Fatalf("%s region %s, want %s", id, got, want)
		}
		if got, want := v.AttrValues[0][v.StateAttr(st, 0)], *subs[i].Attributes["tier"]; got != want {
			t.Fatalf("%s tier %s, want %s", id, got, want)
		}
		wantCons := 0
		if i%2 == 0 && timestamp.Time(2000+i) <= asOf {
			wantCons = 1
		}
		if v.NumConsent(k) != wantCons {
			t.Fatalf("%s has %d consent events, want %d", id, v.NumConsent(k), wantCons)
		}
		if wantCons == 1 {
			e := v.ConsentEvent(k, 0)
			if e.Recipient != cons[i/2].Recipient || e.State != policy.Granted || e.Source != "api" || v.ID(k) != id {
				t.Fatalf("%s consent %+v", id, e)
			}
		}
	}
}

// testImportRollsBack: a sequence that fails after several chunks stores
// nothing at all.
func testImportRollsBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("line 25001: bad")
	seq := func(yield func(consent.Event, error) bool) {
		for i := 0; i < 25_000; i++ {
			if !yield(consent.Event{Subject: "u", Purpose: "p", State: policy.Granted, At: timestamp.Time(i), Source: "import"}, nil) {
				return
			}
		}
		yield(consent.Event{}, boom)
	}
	if _, _, err := s.ImportConsentEvents(ctx, seq); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	h, err := s.ConsentHistory(ctx, "u")
	if err != nil || len(h) != 0 {
		t.Fatalf("%d events stored by a failed import (%v)", len(h), err)
	}
	read, added, err := s.ImportConsentEvents(ctx, func(yield func(consent.Event, error) bool) {
		for i := 0; i < 25_000; i++ {
			if !yield(consent.Event{Subject: "u", Purpose: "p", State: policy.Granted, At: timestamp.Time(i % 20_000), Source: "import"}, nil) {
				return
			}
		}
	})
	if err != nil || read != 25_000 || added != 20_000 {
		t.Fatalf("read %d added %d: %v", read, added, err)
	}
	// Consent of a subject with no subject event loads, and the subject
	// stays unknown.
	v, err := store.LoadView(ctx, s, timestamp.Time(1<<40), nil, nil)
	if err != nil || v.Len() != 0 {
		t.Fatalf("view of %d subjects: %v", v.Len(), err)
	}
}

// testConsistentReads loads views while a writer stores batches that each
// give every subject one more consent event: a view sees whole batches
// only (each subject the same number of events), never part of one, and
// never an event twice — also while the store reorganises what it holds
// (the SQLite store's packs).
func testConsistentReads(t *testing.T, s store.Store) {
	ctx := context.Background()
	const subjects, batches = 400, 25
	var subs []consent.SubjectEvent
	for i := range subjects {
		subs = append(subs, consent.SubjectEvent{Subject: fmt.Sprintf("c%03d", i), At: 1, RegionSet: true, Region: "DE"})
	}
	if _, err := s.AddSubjectEvents(ctx, subs); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for b := range batches {
			var evs []consent.Event
			for i := range subjects {
				evs = append(evs, consent.Event{Subject: fmt.Sprintf("c%03d", i), Purpose: "p", State: policy.State(1 + b%2),
					At: timestamp.Time(10 + b), Source: "api"})
			}
			if _, err := s.AddConsentEvents(ctx, evs); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	views, seen := 0, map[int]bool{}
	for finished := false; !finished; views++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		v, err := store.LoadView(ctx, s, 1_000_000, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Len() != subjects {
			t.Fatalf("view %d: %d subjects", views, v.Len())
		}
		n := v.NumConsent(0)
		for i := range v.Len() {
			if v.NumConsent(i) != n {
				t.Fatalf("view %d: subject %s has %d consent events, subject %s %d: part of a batch was seen", views, v.ID(i), v.NumConsent(i), v.ID(0), n)
			}
			for k := range v.NumConsent(i) {
				if e := v.ConsentEvent(i, k); e.At != timestamp.Time(10+k) {
					t.Fatalf("view %d: subject %s event %d at %d: events out of order or seen twice", views, v.ID(i), k, e.At)
				}
			}
		}
		seen[n] = true
	}
	if !seen[batches] {
		t.Fatalf("the last view did not see every batch: %v", seen)
	}
	t.Logf("%d views, %d distinct states seen", views, len(seen))
}

// testOutbox follows the consent events by sequence number while several
// writers store them: the follower sees every event exactly once, in
// increasing order, never passing one that commits later. Delivery cursors
// persist and never move back.
func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, batches, per = 4, 10, 50
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			for b := range batches {
				var evs []consent.Event
				for i := range per {
					evs = append(evs, consent.Event{Subject: fmt.Sprintf("w%d", w), Purpose: "p", State: policy.State(1 + i%2),
						At: timestamp.Time(b*per + i), Source: "api"})
				}
				if _, err := s.AddConsentEvents(ctx, evs); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	var cursor int64
	got := map[string][]timestamp.Time{}
	follow := func() {
		for {
			evs, err := s.ConsentAfter(ctx, cursor, 64)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				return
			}
			for _, e := range evs {
				if e.Seq <= cursor {
					t.Fatalf("seq %d after %d", e.Seq, cursor)
				}
				cursor = e.Seq
				got[e.Subject] = append(got[e.Subject], e.At)
			}
		}
	}
	for finished := 0; finished < writers; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished++
		default:
			follow()
		}
	}
	follow()
	for w := range writers {
		ats := got[fmt.Sprintf("w%d", w)]
		if len(ats) != batches*per {
			t.Fatalf("writer %d: followed %d of %d events: the cursor passed events committed later", w, len(ats), batches*per)
		}
		for i, at := range ats {
			if at != timestamp.Time(i) {
				t.Fatalf("writer %d: event %d has time %d: out of order", w, i, at)
			}
		}
	}
	if n, err := s.Delivered(ctx, "webhook:x"); err != nil || n != 0 {
		t.Fatalf("new destination: %d %v", n, err)
	}
	for _, seq := range []int64{5, 9, 7} {
		if err := s.SetDelivered(ctx, "webhook:x", seq); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.Delivered(ctx, "webhook:x"); n != 9 {
		t.Fatalf("delivered %d, want 9 (never back)", n)
	}
	if n, _ := s.Delivered(ctx, "nats:y"); n != 0 {
		t.Fatalf("another destination: %d", n)
	}
	ds, err := s.Deliveries(ctx)
	if err != nil || len(ds) != 1 || ds[0].Destination != "webhook:x" || ds[0].Delivered != 9 || ds[0].UpdatedAt == 0 {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	if after, _ := s.ConsentAfter(ctx, 9, 1_000_000); ds[0].Pending != int64(len(after)) {
		t.Fatalf("pending %d, want %d", ds[0].Pending, len(after))
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	x := store.Session{Hash: "s1", Token: "t1", CreatedAt: 5, ExpiresAt: 50}
	if err := s.AddSession(ctx, x); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSession(ctx, x); err == nil {
		t.Fatal("a session hash is unique")
	}
	for _, y := range []store.Session{{Hash: "s2", Token: "t1", CreatedAt: 6, ExpiresAt: 60}, {Hash: "s3", Token: "t2", CreatedAt: 7, ExpiresAt: 70}} {
		if err := s.AddSession(ctx, y); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.SessionByHash(ctx, "s1"); err != nil || got != x {
		t.Fatalf("session %+v %v", got, err)
	}
	if _, err := s.SessionByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	if err := s.EndSession(ctx, "s1", 9); err != nil {
		t.Fatal(err)
	}
	s.EndSession(ctx, "s1", 12) // the first end stands
	if got, _ := s.SessionByHash(ctx, "s1"); got.EndedAt != 9 {
		t.Fatalf("ended %+v", got)
	}
	if err := s.EndSession(ctx, "nope", 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("end unknown: %v", err)
	}
	// A token's revocation ends its open sessions, and only its own.
	if err := s.EndTokenSessions(ctx, "t1", 20); err != nil {
		t.Fatal(err)
	}
	for hash, want := range map[string]timestamp.Time{"s1": 9, "s2": 20, "s3": 0} {
		if got, err := s.SessionByHash(ctx, hash); err != nil || got.EndedAt != want {
			t.Errorf("%s after the token's revocation: %+v %v, want ended at %d", hash, got, err, want)
		}
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := store.Token{Hash: "h1", Role: "subject", Subject: "u1", CreatedAt: 5}
	if err := s.AddToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, tok); err == nil {
		t.Fatal("a token hash is unique")
	}
	got, err := s.TokenByHash(ctx, "h1")
	if err != nil || got != tok {
		t.Fatalf("token %+v %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := s.RevokeToken(ctx, "h1", 9); err != nil {
		t.Fatal(err)
	}
	s.RevokeToken(ctx, "h1", 12) // the first revocation stands
	if got, _ := s.TokenByHash(ctx, "h1"); got.RevokedAt != 9 {
		t.Fatalf("revoked %+v", got)
	}
	if err := s.RevokeToken(ctx, "nope", 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if ts, err := s.Tokens(ctx); err != nil || len(ts) != 1 {
		t.Fatalf("tokens %v %v", ts, err)
	}
}
