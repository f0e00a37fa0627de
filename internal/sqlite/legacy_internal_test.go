package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// TestBackfilledExportState: an export logged before exports' states were
// (its manifest leaf alone, no data digest) gets its state logged once, as
// the first writing session finds it, marked backfilled; a second backfill
// — someone clearing the digest to have an edit vouched for — fails
// verification.
func TestBackfilledExportState(t *testing.T) {
	ctx := context.Background()
	s, _, _ := FreshForTest(t)
	defer s.Close()
	// The export as an older consentgate left it.
	manifest := []byte(`{"export_id":"old","log_index":0}`)
	leaf, _ := translog.ManifestLeaf("old", manifest)
	tx, _ := s.db.BeginTx(ctx, nil)
	if _, err := translog.Append(ctx, &logQ{q: tx}, [][]byte{leaf}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO exports(id, created_at, purpose, recipient, as_of, status, manifest, subjects) VALUES ('old',0,'p','r',0,'complete',?,X'0102')`, manifest); err != nil {
		t.Fatal(err)
	}
	tx.Exec(`INSERT INTO export_records(export_id, chunk, body) VALUES ('old', 0, X'0304')`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	verify := func() error {
		_, err := translog.Verify(ctx, s, translog.KeyMap{}, "", nil)
		return err
	}
	if err := verify(); err == nil || !strings.Contains(err.Error(), "is not in the log") {
		t.Fatalf("an export without its state: %v", err)
	}
	// The first writing session: the exports to reconcile include it.
	le, err := s.LoggedExports(ctx)
	if err != nil || len(le) != 1 || le[0].DataDigest != nil {
		t.Fatalf("exports to reconcile: %+v %v", le, err)
	}
	if err := s.SetExportStatus(ctx, "old", le[0].Status); err != nil {
		t.Fatal(err)
	}
	if err := verify(); err != nil {
		t.Fatalf("after the backfill: %v", err)
	}
	if le, _ := s.LoggedExports(ctx); len(le) != 0 {
		t.Fatalf("still to reconcile: %+v", le)
	}
	// The digest cleared for a second backfill: refused even with the data
	// unchanged (a backfill vouches for whatever the store held then).
	s.db.Exec(`UPDATE exports SET data_digest = NULL`)
	if err := s.SetExportStatus(ctx, "old", store.ExportComplete); err != nil {
		t.Fatal(err)
	}
	if err := verify(); err == nil || !strings.Contains(err.Error(), "backfilled state of an export whose state was logged before") {
		t.Fatalf("a second backfill: %v", err)
	}
	// The kept records edited and the digest cleared, for a third.
	s.db.Exec(`UPDATE export_records SET body = X'0305'`)
	s.db.Exec(`UPDATE exports SET data_digest = NULL`)
	if err := s.SetExportStatus(ctx, "old", store.ExportComplete); err != nil {
		t.Fatal(err)
	}
	if err := verify(); err == nil || !strings.Contains(err.Error(), "does not match what the store keeps") {
		t.Fatalf("an edit vouched for by a second backfill: %v", err)
	}
}

// TestStoreBeforeNotedPolicy: a store made before consent events noted a
// policy version (no policy and notice columns, packs without them) is
// read-only outdated, and migrated by a writing session: its rows and
// packs read as noting nothing, its log verifies as it was, and events
// noting a version are stored beside them.
func TestStoreBeforeNotedPolicy(t *testing.T) {
	ctx := context.Background()
	s, ks, path := FreshForTest(t)
	var evs []consent.Event
	for i := range 5000 { // packed
		evs = append(evs, consent.Event{Subject: fmt.Sprint("u", i%70), Purpose: "p", State: policy.State(1 + i%2), At: timestamp.Time(i), Source: "settings"})
	}
	if _, err := s.AddConsentEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// The store as the consentgate before left it.
	for _, q := range []string{`ALTER TABLE consent_events DROP COLUMN policy`, `ALTER TABLE consent_events DROP COLUMN notice`,
		`DELETE FROM schema_migrations WHERE version = 'migrations/0010_consent_policy.sql'`} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	if _, err := OpenWith(ctx, path, ks, store.OpenOptions{ReadOnly: true}); !errors.Is(err, store.ErrOutdated) {
		t.Fatalf("read-only open of the older store: %v", err)
	}
	s, err := OpenWithKeys(ctx, path, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep := VerifyForTest(t, s, ks); rep.Leaves["consent"] != 5000 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := s.AddConsentEvents(ctx, []consent.Event{{Subject: "u1", Purpose: "p", State: policy.Denied, At: 9000, Source: "api",
		Policy: "v1", Notice: "https://example.com/v1"}}); err != nil {
		t.Fatal(err)
	}
	if rep := VerifyForTest(t, s, ks); rep.Leaves["consent"] != 5001 {
		t.Fatalf("report %+v", rep)
	}
	h, err := s.ConsentHistory(ctx, "u1")
	if err != nil || len(h) < 2 || h[0].Policy != "" || h[len(h)-1].Policy != "v1" || h[len(h)-1].Notice != "https://example.com/v1" {
		t.Fatalf("history %+v %v", h, err)
	}
	packed := 0
	if err := s.DerivedConsentRows(ctx, func(r *store.ConsentRow) error {
		packed++
		if len(r.Policy) != 0 || len(r.Notice) != 0 {
			t.Fatalf("packed row %d notes %q", r.Seq, r.Policy)
		}
		return nil
	}); err != nil || packed == 0 {
		t.Fatalf("packs: %d %v", packed, err)
	}
	// A version edited in the row is caught; so is one stored as bytes.
	for _, c := range []struct{ sql, says string }{
		{`UPDATE consent_events SET policy = 'v0' WHERE policy = 'v1'`, "does not match"},
		{`UPDATE consent_events SET policy = CAST('v1' AS BLOB) WHERE policy = 'v0'`, "never writes"},
	} {
		if _, err := s.db.Exec(c.sql); err != nil {
			t.Fatal(err)
		}
		all, _ := ks.All(ctx)
		if _, err := translog.Verify(ctx, s, translog.KeyMap(all), "", nil); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Fatalf("%s: verify %v", c.sql, err)
		}
	}
}
