package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/store/storetest"
)

// TestTamperNotices: every edit of the tables of notices, their answers
// and lineage links, made in the database behind the store's back, fails
// log verification.
func TestTamperNotices(t *testing.T) {
	storetest.RunTamper(t, func(t *testing.T, keys store.Keys) storetest.Raw {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, dsn())
		if err != nil {
			t.Fatalf("PostgreSQL at %s: %v (.ci/run starts it)", dsn(), err)
		}
		var b [6]byte
		rand.Read(b[:])
		schema := "cg_test_" + hex.EncodeToString(b[:])
		if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
			admin.Close(context.Background())
		})
		s, err := postgres.Open(ctx, dsn()+"&search_path="+schema, keys)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return storetest.Raw{Store: s, Exec: func(q string, args ...any) error {
			_, err := admin.Exec(ctx, `SET search_path TO `+schema)
			if err == nil {
				_, err = admin.Exec(ctx, q, args...)
			}
			return err
		}}
	}, false)
}
