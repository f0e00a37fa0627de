package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/store/storetest"
)

// dsn is the PostgreSQL the tests use: CONSENTGATE_TEST_POSTGRES, or the
// server on this machine (127.0.0.1:5432, trust auth, database test).
func dsn() string {
	if d := os.Getenv("CONSENTGATE_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://127.0.0.1:5432/test?sslmode=disable"
}

// fresh opens a store in a schema of its own, dropped after the test.
func fresh(t testing.TB) store.Store {
	t.Helper()
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
	s, err := postgres.Open(ctx, dsn()+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return fresh(t) })
}
