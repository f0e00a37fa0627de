package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// AddSession implements store.Store.
func (s *DB) AddSession(ctx context.Context, x store.Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions(hash, token, created_at, expires_at) VALUES (?,?,?,?)`,
		x.Hash, x.Token, int64(x.CreatedAt), int64(x.ExpiresAt))
	return err
}

// SessionByHash implements store.Store.
func (s *DB) SessionByHash(ctx context.Context, hash string) (store.Session, error) {
	x := store.Session{Hash: hash}
	err := s.db.QueryRowContext(ctx, `SELECT token, created_at, expires_at, coalesce(ended_at, 0) FROM sessions WHERE hash = ?`, hash).
		Scan(&x.Token, (*int64)(&x.CreatedAt), (*int64)(&x.ExpiresAt), (*int64)(&x.EndedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	return x, err
}

// EndSession implements store.Store.
func (s *DB) EndSession(ctx context.Context, hash string, at timestamp.Time) error {
	return s.stampOnce(ctx, "session", `UPDATE sessions SET ended_at = coalesce(ended_at, ?) WHERE hash = ?`, at, hash)
}

// stampOnce sets the time a token or a session ended, by its hash, unless
// it had ended already (the first time stands); what names the row kind
// for the not-found error.
func (s *DB) stampOnce(ctx context.Context, what, update string, at timestamp.Time, hash string) error {
	res, err := s.db.ExecContext(ctx, update, int64(at), hash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// EndTokenSessions implements store.Store.
func (s *DB) EndTokenSessions(ctx context.Context, token string, at timestamp.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET ended_at = ? WHERE token = ? AND ended_at IS NULL`, int64(at), token)
	return err
}
