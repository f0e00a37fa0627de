package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// FreshForTest opens a store in a file of its own with a key store of its
// own, both in the test's temporary directories. The keys are closed after
// the test; the store is the caller's to close (and to reopen at the path
// returned).
func FreshForTest(t testing.TB) (*DB, *translog.KeyStore, string) {
	t.Helper()
	ks, err := translog.OpenKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenWithKeys(context.Background(), path, ks)
	if err != nil {
		t.Fatal(err)
	}
	return s, ks, path
}

// VerifyForTest verifies the log of s with every key of ks, failing t if
// it does not verify.
func VerifyForTest(t testing.TB, s store.Store, ks *translog.KeyStore) *translog.Report {
	t.Helper()
	ctx := context.Background()
	all, err := ks.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := translog.Verify(ctx, s, translog.KeyMap(all), "", nil)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}
