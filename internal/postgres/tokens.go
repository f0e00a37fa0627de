package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// AddToken implements store.Store.
func (s *DB) AddToken(ctx context.Context, t store.Token) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens(hash, role, subject, created_at) VALUES ($1,$2,$3,$4)`, t.Hash, t.Role, t.Subject, int64(t.CreatedAt))
	return err
}

// TokenByHash implements store.Store.
func (s *DB) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t := store.Token{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT role, subject, created_at, coalesce(revoked_at, 0) FROM tokens WHERE hash = $1`, hash).
		Scan(&t.Role, &t.Subject, (*int64)(&t.CreatedAt), (*int64)(&t.RevokedAt))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	return t, err
}

// RevokeToken implements store.Store.
func (s *DB) RevokeToken(ctx context.Context, hash string, at timestamp.Time) error {
	return s.stampOnce(ctx, "token", `UPDATE tokens SET revoked_at = coalesce(revoked_at, $1) WHERE hash = $2`, at, hash)
}

// Tokens implements store.Store.
func (s *DB) Tokens(ctx context.Context) ([]store.Token, error) {
	return list(ctx, s.pool, store.TokenList)
}
