package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/store/storetest"
)

// TestTamperNotices: every edit of the tables of notices, their answers
// and lineage links, made on the file behind the store's back, fails log
// verification.
func TestTamperNotices(t *testing.T) {
	storetest.RunTamper(t, func(t *testing.T, keys store.Keys) storetest.Raw {
		path := filepath.Join(t.TempDir(), "store.db")
		s, err := sqlite.OpenWithKeys(context.Background(), path, keys)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		db, err := sql.Open("sqlite", path) // no foreign keys: an insider's plain connection
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return storetest.Raw{Store: s, Exec: func(q string, args ...any) error {
			_, err := db.Exec(q, args...)
			return err
		}}
	}, true)
}

// TestStoreBeforeNotices: a store made before notices were kept (no
// tables of notices, answers or lineage links) is outdated for a read-only
// session and migrated by a writing one; its log verifies as it was, and
// notices are stored and verified beside it.
func TestStoreBeforeNotices(t *testing.T) {
	ctx := context.Background()
	s, ks, path := sqlite.FreshForTest(t)
	if _, err := s.AddConsentEvents(ctx, []consent.Event{{Subject: "u1", Purpose: "p", State: policy.Denied, At: 5, Source: "api"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.LogExport(ctx, store.Export{ID: "e1", Purpose: "p", Recipient: "r", Manifest: []byte(`{"export_id":"e1"}`)},
		func(i int64) ([]byte, error) { return fmt.Appendf(nil, `{"export_id":"e1","log_index":%d}`, i), nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The store as the consentgate before left it.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE lineage_runs`, `DROP TABLE notice_answers`, `DROP TABLE notices`,
		`DELETE FROM schema_migrations WHERE version = 'migrations/0011_notices.sql'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if _, err := sqlite.OpenWith(ctx, path, ks, store.OpenOptions{ReadOnly: true}); !errors.Is(err, store.ErrOutdated) {
		t.Fatalf("read-only open of the older store: %v", err)
	}
	s, err = sqlite.OpenWithKeys(ctx, path, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep := sqlite.VerifyForTest(t, s, ks); rep.Size != 3 || rep.Leaves["notice"] != 0 {
		t.Fatalf("report %+v", rep)
	}
	const body = `{"id":"e1.n1","export_id":"e1","recipient":"r","issued_at":"1970-01-01T00:00:00.000001Z","records":[]`
	if _, err := s.AddNotice(ctx, store.Notice{ID: "e1.n1", ExportID: "e1", Recipient: "r", IssuedAt: 1, Body: []byte(body + "}")}, 0,
		func(i int64) ([]byte, error) { return fmt.Appendf(nil, `%s,"log_index":%d}`, body, i), nil }); err != nil {
		t.Fatal(err)
	}
	if rep := sqlite.VerifyForTest(t, s, ks); rep.Size != 4 || rep.Leaves["notice"] != 1 {
		t.Fatalf("report %+v", rep)
	}
}
