package postgres

// TEMPORARY (being replaced in this change by the real tables): lets the
// packages above build while notices' storage is written.

import (
	"context"
	"errors"

	"github.com/consentgate/consentgate/internal/store"
)

var errPending = errors.New("notices are not stored yet")

func (s *DB) AddNotice(ctx context.Context, n store.Notice, after int64, finish func(int64) ([]byte, error)) (int64, error) {
	return 0, errPending
}
func (s *DB) Notices(ctx context.Context) ([]store.Notice, error) { return nil, nil }
func (s *DB) NoticesAfter(ctx context.Context, recipient string, after int64, limit int) ([]store.Notice, error) {
	return nil, nil
}
func (s *DB) AddNoticeAnswer(ctx context.Context, a store.NoticeAnswer) (int64, error) { return 0, errPending }
func (s *DB) NoticeAnswers(ctx context.Context) ([]store.NoticeAnswer, error)     { return nil, nil }
func (s *DB) AddLineageRun(ctx context.Context, r store.LineageRun) (bool, error)   { return false, errPending }
func (s *DB) LineageRuns(ctx context.Context) ([]store.LineageRun, error)          { return nil, nil }
