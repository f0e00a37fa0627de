package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
)

// openStore opens the store the --store flag names.
func (a *app) openStore(ctx context.Context) (store.Store, error) {
	dsn := a.storeDSN
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, fmt.Errorf("--store %s: this build has no PostgreSQL store yet; use sqlite:PATH", redactDSN(dsn))
	case strings.HasPrefix(dsn, "sqlite://"):
		dsn = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		dsn = strings.TrimPrefix(dsn, "sqlite:")
	case strings.Contains(dsn, "://"):
		return nil, usagef("--store %q: expected sqlite:PATH", dsn)
	}
	if dsn == "" {
		return nil, usagef("--store: empty path")
	}
	return sqlite.Open(ctx, dsn)
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
