package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// AddNotice implements store.Store: the export's latest notice checked
// against after, the leaf appended (derived from the body as given: its
// digest leaves out the log index and signature finish adds), the final
// body stored with it — all in one write transaction, which SQLite runs
// one at a time.
func (s *DB) AddNotice(ctx context.Context, n store.Notice, after int64, finish func(index int64) ([]byte, error)) (int64, error) {
	return classified(s.addNotice(ctx, n, after, finish))
}

func (s *DB) addNotice(ctx context.Context, n store.Notice, after int64, finish func(index int64) ([]byte, error)) (int64, error) {
	leaf, err := translog.NoticeLeaf(&n)
	if err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := exportExists(ctx, tx, n.ExportID); err != nil {
		return 0, err
	}
	var latest int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM notices WHERE export_id = ?`, n.ExportID).Scan(&latest); err != nil {
		return 0, err
	}
	if latest != after {
		return 0, fmt.Errorf("export %s: its latest notice is %d, not %d: %w", n.ExportID, latest, after, store.ErrExists)
	}
	var dup int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notices WHERE id = ?`, n.ID).Scan(&dup); err != nil {
		return 0, err
	}
	if dup > 0 {
		return 0, fmt.Errorf("notice %s: %w", n.ID, store.ErrExists)
	}
	index, err := appendLog(ctx, tx, [][]byte{leaf})
	if err != nil {
		return 0, err
	}
	if n.Body, err = finish(index); err != nil {
		return 0, err
	}
	if final, err := translog.StoredNoticeLeaf(&n, index); err != nil {
		return 0, fmt.Errorf("the finished notice: %w", err)
	} else if !bytes.Equal(final, leaf) {
		return 0, fmt.Errorf("notice %s: the finished body is not the notice logged (only its log index and signature may be added)", n.ID)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO notices(id, export_id, recipient, issued_at, deadline, body) VALUES (?,?,?,?,?,?)`,
		n.ID, n.ExportID, n.Recipient, int64(n.IssuedAt), int64(n.Deadline), n.Body)
	if err != nil {
		return 0, err
	}
	if n.Seq, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	return n.Seq, tx.Commit()
}

// exportExists is nil when the export is stored, else store.ErrNotFound.
func exportExists(ctx context.Context, tx *sql.Tx, id string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM exports WHERE id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("export %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Notices implements store.Store.
func (s *DB) Notices(ctx context.Context) ([]store.Notice, error) {
	return list(ctx, s.db, store.NoticeList)
}

// NoticesAfter implements store.Store. SQLite has one writer at a time, so
// notices are committed in Seq order.
func (s *DB) NoticesAfter(ctx context.Context, recipient string, after int64, limit int) ([]store.Notice, error) {
	return list(ctx, s.db, store.NoticesAfterList, recipient, after, limit)
}

// AddNoticeAnswer implements store.Store.
func (s *DB) AddNoticeAnswer(ctx context.Context, a store.NoticeAnswer) (int64, error) {
	return classified(s.addNoticeAnswer(ctx, a))
}

func (s *DB) addNoticeAnswer(ctx context.Context, a store.NoticeAnswer) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notices WHERE id = ?`, a.NoticeID).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("notice %s: %w", a.NoticeID, store.ErrNotFound)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO notice_answers(notice_id, status, note, by, at) VALUES (?,?,?,?,?)`,
		a.NoticeID, a.Status, a.Note, a.By, int64(a.At))
	if err != nil {
		return 0, err
	}
	if a.Seq, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	if _, err := appendLog(ctx, tx, [][]byte{translog.AnswerLeaf(&a)}); err != nil {
		return 0, err
	}
	return a.Seq, tx.Commit()
}

// NoticeAnswers implements store.Store.
func (s *DB) NoticeAnswers(ctx context.Context) ([]store.NoticeAnswer, error) {
	return list(ctx, s.db, store.NoticeAnswerList)
}

// AddLineageRun implements store.Store.
func (s *DB) AddLineageRun(ctx context.Context, r store.LineageRun) (bool, error) {
	return classified(s.addLineageRun(ctx, r))
}

func (s *DB) addLineageRun(ctx context.Context, r store.LineageRun) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if err := exportExists(ctx, tx, r.ExportID); err != nil {
		return false, err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO lineage_runs(export_id, namespace, job, run_id, at, producer) VALUES (?,?,?,?,?,?)
		ON CONFLICT(export_id, namespace, job, run_id) DO NOTHING RETURNING seq`,
		r.ExportID, r.Namespace, r.Job, r.RunID, int64(r.At), r.Producer).Scan(&r.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // linked before
	} else if err != nil {
		return false, err
	}
	if _, err := appendLog(ctx, tx, [][]byte{translog.LineageLeaf(&r)}); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// LineageRuns implements store.Store.
func (s *DB) LineageRuns(ctx context.Context) ([]store.LineageRun, error) {
	return list(ctx, s.db, store.LineageRunList)
}
