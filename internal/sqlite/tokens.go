package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// AddToken implements store.Store.
func (s *DB) AddToken(ctx context.Context, t store.Token) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens(hash, role, subject, created_at) VALUES (?,?,?,?)`, t.Hash, t.Role, t.Subject, int64(t.CreatedAt))
	return err
}

// TokenByHash implements store.Store.
func (s *DB) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t := store.Token{Hash: hash}
	err := s.db.QueryRowContext(ctx, `SELECT role, subject, created_at, coalesce(revoked_at, 0) FROM tokens WHERE hash = ?`, hash).
		Scan(&t.Role, &t.Subject, (*int64)(&t.CreatedAt), (*int64)(&t.RevokedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	return t, err
}

// RevokeToken implements store.Store.
func (s *DB) RevokeToken(ctx context.Context, hash string, at timestamp.Time) error {
	return s.stampOnce(ctx, "token", `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE hash = ?`, at, hash)
}

// Tokens implements store.Store.
func (s *DB) Tokens(ctx context.Context) ([]store.Token, error) {
	return list(ctx, s.db, store.TokenList)
}
