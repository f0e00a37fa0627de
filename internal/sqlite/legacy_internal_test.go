package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// TestBackfilledExportState: an export logged before exports' states were
// (its manifest leaf alone, no data digest) gets its state logged once, as
// the first writing session finds it, marked backfilled; a second backfill
// — someone clearing the digest to have an edit vouched for — fails
// verification.
func TestBackfilledExportState(t *testing.T) {
	ctx := context.Background()
	ks, err := translog.OpenKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	s, err := OpenWithKeys(ctx, filepath.Join(t.TempDir(), "s.db"), ks)
	if err != nil {
		t.Fatal(err)
	}
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
