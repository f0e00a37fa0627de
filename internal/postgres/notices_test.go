package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/store/storetest"
	"github.com/consentgate/consentgate/internal/translog"
)

// TestTamperNotices: every edit of the tables of notices, their answers
// and lineage links, made in the database behind the store's back, fails
// log verification.
func TestTamperNotices(t *testing.T) {
	storetest.RunTamper(t, func(t *testing.T, keys store.Keys) storetest.Raw {
		ctx := context.Background()
		s, admin, schema := freshStore(t, keys)
		return storetest.Raw{Store: s, Exec: func(q string, args ...any) error {
			_, err := admin.Exec(ctx, `SET search_path TO `+schema)
			if err == nil {
				_, err = admin.Exec(ctx, q, args...)
			}
			return err
		}}
	}, false)
}

// TestStoreBeforeNotices: a schema made before notices were kept is
// outdated for a read-only session and migrated by a writing one; its log
// verifies as it was, and notices are stored and verified beside it.
func TestStoreBeforeNotices(t *testing.T) {
	ctx := context.Background()
	ks := freshKeys(t)
	admin, schema, url := freshSchema(t)
	s, err := postgres.Open(ctx, url, ks)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LogExport(ctx, store.Export{ID: "e1", Purpose: "p", Recipient: "r", Manifest: []byte(`{"export_id":"e1"}`)},
		func(i int64) ([]byte, error) { return fmt.Appendf(nil, `{"export_id":"e1","log_index":%d}`, i), nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The schema as the consentgate before left it.
	s = reopenOlder(t, admin, url, ks, `DROP TABLE `+schema+`.lineage_runs, `+schema+`.notice_answers, `+schema+`.notices`,
		`DELETE FROM `+schema+`.schema_migrations WHERE version = 'migrations/0008_notices.sql'`)
	const body = `{"id":"e1.n1","export_id":"e1","recipient":"r","issued_at":"1970-01-01T00:00:00.000001Z","records":[]`
	if _, err := s.AddNotice(ctx, store.Notice{ID: "e1.n1", ExportID: "e1", Recipient: "r", IssuedAt: 1, Body: []byte(body + "}")}, 0,
		func(i int64) ([]byte, error) { return fmt.Appendf(nil, `%s,"log_index":%d}`, body, i), nil }); err != nil {
		t.Fatal(err)
	}
	if rep, err := translog.Verify(ctx, s, translog.KeyMap{}, "", nil); err != nil || rep.Size != 3 || rep.Leaves["notice"] != 1 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
