package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// AddNotice implements store.Store: under the log's lock, with the export's
// row locked, the export's latest notice is checked against after, the
// leaf appended (derived from the body as given: its digest leaves out the
// log index and signature finish adds) and the final body stored.
func (s *DB) AddNotice(ctx context.Context, n store.Notice, after int64, finish func(index int64) ([]byte, error)) (int64, error) {
	leaf, err := translog.NoticeLeaf(&n)
	if err != nil {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM exports WHERE id = $1 FOR UPDATE`, n.ExportID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("export %s: %w", n.ExportID, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		var latest int64
		var dup bool
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0), EXISTS (SELECT 1 FROM notices WHERE id = $2) FROM notices WHERE export_id = $1`,
			n.ExportID, n.ID).Scan(&latest, &dup); err != nil {
			return err
		}
		if latest != after {
			return fmt.Errorf("export %s: its latest notice is %d, not %d: %w", n.ExportID, latest, after, store.ErrExists)
		}
		if dup {
			return fmt.Errorf("notice %s: %w", n.ID, store.ErrExists)
		}
		index, err := appendLog(ctx, tx, [][]byte{leaf})
		if err != nil {
			return err
		}
		if n.Body, err = finish(index); err != nil {
			return err
		}
		if final, err := translog.StoredNoticeLeaf(&n, index); err != nil {
			return fmt.Errorf("the finished notice: %w", err)
		} else if !bytes.Equal(final, leaf) {
			return fmt.Errorf("notice %s: the finished body is not the notice logged (only its log index and signature may be added)", n.ID)
		}
		return tx.QueryRow(ctx, `INSERT INTO notices(id, export_id, recipient, issued_at, deadline, body) VALUES ($1,$2,$3,$4,$5,$6) RETURNING seq`,
			n.ID, n.ExportID, n.Recipient, int64(n.IssuedAt), int64(n.Deadline), n.Body).Scan(&n.Seq)
	})
	if err != nil {
		return classified(int64(0), err)
	}
	return n.Seq, nil
}

// Notices implements store.Store.
func (s *DB) Notices(ctx context.Context) ([]store.Notice, error) {
	return list(ctx, s.pool, store.NoticeList)
}

// NoticesAfter implements store.Store. Notices are stored under the log's
// lock, so they are committed in Seq order.
func (s *DB) NoticesAfter(ctx context.Context, recipient string, after int64, limit int) ([]store.Notice, error) {
	return list(ctx, s.pool, store.NoticesAfterList, recipient, after, limit)
}

// AddNoticeAnswer implements store.Store.
func (s *DB) AddNoticeAnswer(ctx context.Context, a store.NoticeAnswer) (int64, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notices WHERE id = $1)`, a.NoticeID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("notice %s: %w", a.NoticeID, store.ErrNotFound)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO notice_answers(notice_id, status, note, by, at) VALUES ($1,$2,$3,$4,$5) RETURNING seq`,
			a.NoticeID, a.Status, a.Note, a.By, int64(a.At)).Scan(&a.Seq); err != nil {
			return err
		}
		_, err := appendLog(ctx, tx, [][]byte{translog.AnswerLeaf(&a)})
		return err
	})
	if err != nil {
		return classified(int64(0), err)
	}
	return a.Seq, nil
}

// NoticeAnswers implements store.Store.
func (s *DB) NoticeAnswers(ctx context.Context) ([]store.NoticeAnswer, error) {
	return list(ctx, s.pool, store.NoticeAnswerList)
}

// AddLineageRun implements store.Store.
func (s *DB) AddLineageRun(ctx context.Context, r store.LineageRun) (bool, error) {
	added := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM exports WHERE id = $1)`, r.ExportID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("export %s: %w", r.ExportID, store.ErrNotFound)
		}
		err := tx.QueryRow(ctx, `INSERT INTO lineage_runs(export_id, namespace, job, run_id, at, producer) VALUES ($1,$2,$3,$4,$5,$6)
			ON CONFLICT (export_id, namespace, job, run_id) DO NOTHING RETURNING seq`,
			r.ExportID, r.Namespace, r.Job, r.RunID, int64(r.At), r.Producer).Scan(&r.Seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // linked before
		} else if err != nil {
			return err
		}
		added = true
		_, err = appendLog(ctx, tx, [][]byte{translog.LineageLeaf(&r)})
		return err
	})
	if err != nil {
		return classified(false, err)
	}
	return added, nil
}

// LineageRuns implements store.Store.
func (s *DB) LineageRuns(ctx context.Context) ([]store.LineageRun, error) {
	return list(ctx, s.pool, store.LineageRunList)
}
