package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// openStore opens the store the --store flag names, with the subject keys
// of its log from the keys directory. Closing it issues a signed checkpoint
// when the command appended to the log (SPEC §6).
func (a *app) openStore(ctx context.Context) (*cmdStore, error) {
	dir, err := a.keys()
	if err != nil {
		return nil, err
	}
	keys, err := translog.OpenKeys(dir)
	if err != nil {
		return nil, fmt.Errorf("--keys %s: %w", dir, err)
	}
	st, err := a.openBackend(ctx, keys)
	if err != nil {
		keys.Close()
		return nil, err
	}
	c := &cmdStore{Store: st, keys: keys, a: a, ctx: ctx}
	if c.start, err = st.LogSize(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := a.reconcileExports(ctx, st); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openBackend opens the store the --store flag names.
func (a *app) openBackend(ctx context.Context, keys store.Keys) (store.Store, error) {
	dsn := a.storeDSN
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		st, err := postgres.Open(ctx, dsn, keys)
		if err != nil {
			return nil, fmt.Errorf("--store %s: %w", redactDSN(dsn), err)
		}
		return st, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		dsn = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		dsn = strings.TrimPrefix(dsn, "sqlite:")
	case strings.Contains(dsn, "://"):
		return nil, usagef("--store %q: expected sqlite:PATH or postgres://…", dsn)
	}
	if dsn == "" {
		return nil, usagef("--store: empty path")
	}
	return sqlite.OpenWithKeys(ctx, dsn, keys)
}

// storeExists reports whether the store already exists (a SQLite file), so
// that an optional use of it does not create one.
func (a *app) storeExists() bool {
	dsn := strings.TrimPrefix(strings.TrimPrefix(a.storeDSN, "sqlite://"), "sqlite:")
	if strings.Contains(dsn, "://") {
		return true
	}
	_, err := os.Stat(dsn)
	return err == nil
}

// keys returns the keys directory: --keys, or beside a SQLite store
// (PATH.keys).
func (a *app) keys() (string, error) {
	if a.keysDir != "" {
		return a.keysDir, nil
	}
	dsn := strings.TrimPrefix(strings.TrimPrefix(a.storeDSN, "sqlite://"), "sqlite:")
	if strings.Contains(dsn, "://") {
		return "", usagef("--keys DIR is required with this store")
	}
	return dsn + ".keys", nil
}

// secret returns a named 32-byte secret from the keys directory, creating
// it (and the directory, readable by its owner only) at first use.
func (a *app) secret(name string) ([]byte, error) {
	dir, err := a.keys()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: expected 32 bytes, found %d", path, len(b))
		}
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	// Written whole under a temporary name, then linked into place, so
	// that two processes creating it at once agree on one secret.
	f, err := atomicfile.Temp(path)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := atomicfile.SyncClose(f); err != nil {
		return nil, err
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return a.secret(name)
	} else if err != nil {
		return nil, err
	}
	return b, nil
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// loadVersions compiles every published policy version.
func loadVersions(ctx context.Context, st store.Store) (*decision.Versions, []store.Policy, error) {
	return store.LoadVersions(ctx, st)
}
