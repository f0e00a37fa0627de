package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, keys store.Keys) store.Store {
		s, err := sqlite.OpenWithKeys(context.Background(), filepath.Join(t.TempDir(), "store.db"), keys)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.PublishPolicy(ctx, store.Policy{Version: "v", Source: []byte("x"), Digest: "d"})
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps, err := s.Policies(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("after reopen: %v %v", ps, err)
	}
}
