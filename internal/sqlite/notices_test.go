package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

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
