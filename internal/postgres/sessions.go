package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// AddSession implements store.Store.
func (s *DB) AddSession(ctx context.Context, x store.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions(hash, token, created_at, expires_at) VALUES ($1,$2,$3,$4)`,
		x.Hash, x.Token, int64(x.CreatedAt), int64(x.ExpiresAt))
	return err
}

// SessionByHash implements store.Store.
func (s *DB) SessionByHash(ctx context.Context, hash string) (store.Session, error) {
	x := store.Session{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT token, created_at, expires_at, coalesce(ended_at, 0) FROM sessions WHERE hash = $1`, hash).
		Scan(&x.Token, (*int64)(&x.CreatedAt), (*int64)(&x.ExpiresAt), (*int64)(&x.EndedAt))
	if errors.Is(err, pgx.ErrNoRows) {
		return x, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	return x, err
}

// EndSession implements store.Store.
func (s *DB) EndSession(ctx context.Context, hash string, at timestamp.Time) error {
	return s.stampOnce(ctx, "session", `UPDATE sessions SET ended_at = coalesce(ended_at, $1) WHERE hash = $2`, at, hash)
}

// stampOnce sets the time a token or a session ended, by its hash, unless
// it had ended already (the first time stands); what names the row kind
// for the not-found error.
func (s *DB) stampOnce(ctx context.Context, what, update string, at timestamp.Time, hash string) error {
	tag, err := s.pool.Exec(ctx, update, int64(at), hash)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// EndTokenSessions implements store.Store.
func (s *DB) EndTokenSessions(ctx context.Context, token string, at timestamp.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE sessions SET ended_at = $1 WHERE token = $2 AND ended_at IS NULL`, int64(at), token)
	return err
}
