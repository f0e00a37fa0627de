package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// pgq is a pool or a transaction.
type pgq interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// logQ reads (and, in a transaction holding logLock, writes) the log.
type logQ struct {
	q     pgq
	tx    pgx.Tx
	batch *pgx.Batch // writes queued until the next read or the end
}

// send sends the queued writes.
func (l *logQ) send(ctx context.Context) error {
	if l.batch == nil || l.batch.Len() == 0 {
		return nil
	}
	err := l.tx.SendBatch(ctx, l.batch).Close()
	l.batch = &pgx.Batch{}
	return err
}

var _ translog.Writer = (*logQ)(nil)

func (l *logQ) LogSize(ctx context.Context) (int64, error) { return translog.BundledSize(ctx, l) }

func (l *logQ) LogLeaves(ctx context.Context, from, to int64, fn func(int64, []byte) error) error {
	return translog.BundledLeaves(ctx, l, from, to, fn)
}

func (l *logQ) Bundles(ctx context.Context, from, to int64, fn func(int64, int, []byte) error) error {
	if err := l.send(ctx); err != nil {
		return err
	}
	rows, err := l.q.Query(ctx, `SELECT bundle, n, data FROM log WHERE bundle >= $1 AND bundle < $2 ORDER BY bundle`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		var n int
		var data []byte
		if err := rows.Scan(&i, &n, &data); err != nil {
			return err
		}
		if err := fn(i, n, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (l *logQ) LastBundle(ctx context.Context) (int64, int, error) {
	if err := l.send(ctx); err != nil {
		return 0, 0, err
	}
	var i int64
	var n int
	err := l.q.QueryRow(ctx, `SELECT bundle, n FROM log ORDER BY bundle DESC LIMIT 1`).Scan(&i, &n)
	if errors.Is(err, pgx.ErrNoRows) {
		return -1, 0, nil
	}
	return i, n, err
}

func (l *logQ) PutBundle(ctx context.Context, i int64, n int, data []byte) error {
	if l.batch != nil {
		l.batch.Queue(`INSERT INTO log(bundle, n, data) VALUES ($1,$2,$3) ON CONFLICT (bundle) DO UPDATE SET n = excluded.n, data = excluded.data`, i, n, data)
		return nil
	}
	_, err := l.q.Exec(ctx, `INSERT INTO log(bundle, n, data) VALUES ($1,$2,$3) ON CONFLICT (bundle) DO UPDATE SET n = excluded.n, data = excluded.data`, i, n, data)
	return err
}

func (l *logQ) LogNodes(ctx context.Context, tl int, from, to int64) ([][]byte, error) {
	if err := l.send(ctx); err != nil {
		return nil, err
	}
	rows, err := l.q.Query(ctx, `SELECT hash FROM log_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, tl, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (l *logQ) InsertLeaves(ctx context.Context, first int64, data [][]byte) error {
	return translog.BundleLeaves(ctx, l, first, data)
}

func (l *logQ) InsertNode(ctx context.Context, tl int, i int64, hash []byte) error {
	if l.batch != nil {
		l.batch.Queue(`INSERT INTO log_nodes(level, idx, hash) VALUES ($1,$2,$3)`, tl, i, hash)
		return nil
	}
	_, err := l.tx.Exec(ctx, `INSERT INTO log_nodes(level, idx, hash) VALUES ($1,$2,$3)`, tl, i, hash)
	return err
}

// appendLog appends leaves inside tx, which holds logLock.
func appendLog(ctx context.Context, tx pgx.Tx, leaves [][]byte) (int64, error) {
	return appendLogPrepared(ctx, tx, leaves, nil)
}

// appendLogPrepared appends with the hashing done ahead; the bundle and
// node writes go to the server as one batch.
func appendLogPrepared(ctx context.Context, tx pgx.Tx, leaves [][]byte, pre *translog.Prepared) (int64, error) {
	if len(leaves) == 0 {
		return 0, nil
	}
	// (Checkpoints recorded first move the leaves on: the hashing prepared
	// for the old size is then redone.)
	if err := recordCheckpoints(ctx, tx); err != nil {
		return 0, err
	}
	l := &logQ{q: tx, tx: tx, batch: &pgx.Batch{}}
	first, err := translog.AppendPrepared(ctx, l, leaves, pre)
	if err != nil {
		return 0, err
	}
	return first, l.send(ctx)
}

// recordCheckpoints appends the leaves of the kept checkpoints the log
// does not record yet (those issued since the last append), before an
// appending transaction's own leaves: the log holds the sequence of its
// checkpoints (SPEC §6: a deleted one is missed).
func recordCheckpoints(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT size, note FROM checkpoints WHERE logged IS NULL ORDER BY size`)
	if err != nil {
		return err
	}
	var sizes []int64
	var leaves [][]byte
	for rows.Next() {
		var size int64
		var note []byte
		if err := rows.Scan(&size, &note); err != nil {
			rows.Close()
			return err
		}
		sizes = append(sizes, size)
		leaves = append(leaves, translog.CheckpointLeaf(size, note))
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(leaves) == 0 {
		return err
	}
	l := &logQ{q: tx, tx: tx, batch: &pgx.Batch{}}
	first, err := translog.Append(ctx, l, leaves)
	if err != nil {
		return err
	}
	if err := l.send(ctx); err != nil {
		return err
	}
	for k, size := range sizes {
		if _, err := tx.Exec(ctx, `UPDATE checkpoints SET logged = $1 WHERE size = $2`, first+int64(k), size); err != nil {
			return err
		}
	}
	return nil
}

// LogSize implements store.Store.
func (s *DB) LogSize(ctx context.Context) (int64, error) { return (&logQ{q: s.pool}).LogSize(ctx) }

// LogLeaves implements store.Store.
func (s *DB) LogLeaves(ctx context.Context, from, to int64, fn func(int64, []byte) error) error {
	return (&logQ{q: s.pool}).LogLeaves(ctx, from, to, fn)
}

// LogNodes implements store.Store.
func (s *DB) LogNodes(ctx context.Context, tl int, from, to int64) ([][]byte, error) {
	return (&logQ{q: s.pool}).LogNodes(ctx, tl, from, to)
}

// AddCheckpoint implements store.Store.
func (s *DB) AddCheckpoint(ctx context.Context, c store.Checkpoint) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO checkpoints(size, note, at) VALUES ($1,$2,$3) ON CONFLICT (size) DO NOTHING`, c.Size, c.Note, int64(c.At))
	return err
}

// Checkpoints implements store.Store.
func (s *DB) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	return list(ctx, s.pool, store.CheckpointList)
}

// SubjectRows implements store.Store.
func (s *DB) SubjectRows(ctx context.Context, lo, hi int64, fn func(*store.SubjectRow) error) error {
	return s.scanSubjects(ctx, `WHERE seq >= $1 AND seq <= $2 ORDER BY seq`, []any{lo, hi}, fn)
}

// ConsentRows implements store.Store.
func (s *DB) ConsentRows(ctx context.Context, lo, hi int64, fn func(*store.ConsentRow) error) error {
	return s.scanConsent(ctx, `WHERE seq >= $1 AND seq <= $2 ORDER BY seq`, []any{lo, hi}, fn)
}

func (s *DB) subjectKeys(ctx context.Context, subjects []string) (map[string][]byte, error) {
	if s.keys == nil {
		return nil, errors.New("the store was opened without subject keys (--keys)")
	}
	return s.keys.SubjectKeys(ctx, subjects, true)
}

// parallel runs f(0…n-1) on every core.
func parallel(n int, f func(i int)) {
	w := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k * n / w; i < (k+1)*n/w; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// logKind is an event table as writes see it: the columns written (the
// subject first, the idempotency key last), and how the leaves of its new
// rows derive — from the values written, given each row's sequence number,
// or from rows read back.
type logKind struct {
	table      string
	written    []string
	cols       string // the columns fromRows scans
	fromValues func(chunk [][]any, seq func(i int) int64, keys map[string][]byte) [][]byte
	fromRows   func(rows pgx.Rows, keys map[string][]byte) ([][]byte, error)
}

var consentLog = logKind{
	table:   "consent_events",
	written: []string{"subject", "purpose", "recipient", "state", "at", "source", "recorded_at", "policy", "notice", "key"},
	cols:    consentCols,
	fromValues: func(chunk [][]any, seq func(i int) int64, keys map[string][]byte) [][]byte {
		leaves := make([][]byte, len(chunk))
		parallel(len(chunk), func(i int) {
			v := chunk[i]
			r := store.ConsentRow{Seq: seq(i), Subject: []byte(v[0].(string)), Purpose: []byte(v[1].(string)), Recipient: []byte(v[2].(string)),
				State: policy.State(v[3].(int16)), At: timestamp.Time(v[4].(int64)), Source: []byte(v[5].(string)),
				Policy: []byte(v[7].(string)), Notice: []byte(v[8].(string))}
			leaves[i] = translog.ConsentLeaf(nil, keys[v[0].(string)], &r)
		})
		return leaves
	},
	fromRows: func(rows pgx.Rows, keys map[string][]byte) ([][]byte, error) {
		var leaves [][]byte
		err := eachConsent(rows, func(r *store.ConsentRow) error {
			leaves = append(leaves, translog.ConsentLeaf(nil, keys[string(r.Subject)], r))
			return nil
		})
		return leaves, err
	},
}

var subjectLog = logKind{
	table:   "subject_events",
	written: []string{"subject", "at", "region_set", "region", "attrs", "recorded_at", "key"},
	cols:    subjectCols,
	fromValues: func(chunk [][]any, seq func(i int) int64, keys map[string][]byte) [][]byte {
		leaves := make([][]byte, len(chunk))
		parallel(len(chunk), func(i int) {
			v := chunk[i]
			r := store.SubjectRow{Seq: seq(i), Subject: []byte(v[0].(string)), At: timestamp.Time(v[1].(int64)), RegionSet: v[2].(bool),
				Region: []byte(v[3].(string)), Attrs: []byte(v[4].(string))}
			leaves[i] = subjectLeaf(keys, &r)
		})
		return leaves
	},
	fromRows: func(rows pgx.Rows, keys map[string][]byte) ([][]byte, error) {
		var leaves [][]byte
		err := eachSubject(rows, func(r *store.SubjectRow) error {
			leaves = append(leaves, subjectLeaf(keys, r))
			return nil
		})
		return leaves, err
	},
}

func subjectLeaf(keys map[string][]byte, r *store.SubjectRow) []byte {
	attrs, _ := consent.DecodeAttributes(r.Attrs)
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	return translog.SubjectLeaf(nil, keys[string(r.Subject)], r, names)
}

// LogExport implements store.Store.
func (s *DB) LogExport(ctx context.Context, e store.Export, finish func(index int64) ([]byte, error)) error {
	leaf, err := translog.ManifestLeaf(e.ID, e.Manifest)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		index, err := appendLog(ctx, tx, [][]byte{leaf})
		if err != nil {
			return err
		}
		manifest, err := finish(index)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO exports(id, created_at, purpose, recipient, as_of, status, manifest, subjects, dir, manifest_path, owner, lease_until) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			e.ID, int64(e.CreatedAt), e.Purpose, e.Recipient, int64(e.AsOf), store.ExportLogged, manifest, e.Subjects, e.Dir, e.ManifestPath, e.Owner, int64(e.LeaseUntil))
		if err != nil {
			return err
		}
		// Copied in batches of chunks: memory stays bounded however many
		// records the export kept.
		var rows [][]any
		flush := func() error {
			if len(rows) == 0 {
				return nil
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"export_records"}, []string{"export_id", "chunk", "body"}, pgx.CopyFromRows(rows))
			rows = rows[:0]
			return err
		}
		i := 0
		digest, err := translog.ExportDataDigest(e.Dir, e.ManifestPath, e.Subjects, func(fn func([]byte) error) error {
			if e.Records == nil {
				return nil
			}
			return e.Records(func(body []byte) error {
				rows = append(rows, []any{e.ID, i, bytes.Clone(body)})
				i++
				if len(rows) == 256 {
					if err := flush(); err != nil {
						return err
					}
				}
				return fn(body)
			})
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		return logExportState(ctx, tx, e.ID, store.ExportLogged, digest, false)
	})
}

// logExportState records an export's data digest and appends its state.
func logExportState(ctx context.Context, tx pgx.Tx, id, status string, digest []byte, backfilled bool) error {
	if _, err := tx.Exec(ctx, `UPDATE exports SET data_digest = $1 WHERE id = $2`, digest, id); err != nil {
		return err
	}
	_, err := appendLog(ctx, tx, [][]byte{translog.ExportLeaf(id, status, digest, backfilled)})
	return err
}

// ExportRecords implements store.Store.
func (s *DB) ExportRecords(ctx context.Context, id string, fn func(chunk []byte) error) error {
	rows, err := s.pool.Query(ctx, `SELECT body FROM export_records WHERE export_id = $1 ORDER BY chunk`, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.RawValues()[0]); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetExportStatus implements store.Store.
func (s *DB) SetExportStatus(ctx context.Context, id, status string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		var digest, subjects []byte
		var dir, manifestPath string
		err := tx.QueryRow(ctx, `SELECT data_digest, subjects, dir, manifest_path FROM exports WHERE id = $1`, id).Scan(&digest, &subjects, &dir, &manifestPath)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("export %s: %w", id, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		backfilled := digest == nil
		if backfilled {
			var chunks [][]byte
			rows, err := tx.Query(ctx, `SELECT body FROM export_records WHERE export_id = $1 ORDER BY chunk`, id)
			if err != nil {
				return err
			}
			for rows.Next() {
				chunks = append(chunks, bytes.Clone(rows.RawValues()[0]))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			digest, _ = translog.ExportDataDigest(dir, manifestPath, subjects, func(fn func([]byte) error) error {
				for _, c := range chunks {
					fn(c)
				}
				return nil
			})
		}
		if _, err := tx.Exec(ctx, `UPDATE exports SET status = $1 WHERE id = $2`, status, id); err != nil {
			return err
		}
		return logExportState(ctx, tx, id, status, digest, backfilled)
	})
}

// AddErasure implements store.Store.
func (s *DB) AddErasure(ctx context.Context, subject string, at timestamp.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		salt := make([]byte, 32)
		rand.Read(salt)
		// The subject's rows as they stand (no writer appends while this
		// holds the log's lock), which its erasure vouches for.
		rows := translog.NewErasedRows()
		if err := s.scanConsent(ctx, `WHERE subject = $1 ORDER BY seq`, []any{subject}, func(r *store.ConsentRow) error { rows.Consent(r); return nil }); err != nil {
			return err
		}
		if err := s.scanSubjects(ctx, `WHERE subject = $1 ORDER BY seq`, []any{subject}, func(r *store.SubjectRow) error { rows.Subject(r); return nil }); err != nil {
			return err
		}
		marks, err := tx.Query(ctx, `SELECT seq, export_id, subject, status, note, at FROM impact_marks WHERE subject = $1 ORDER BY seq`, subject)
		if err != nil {
			return err
		}
		for marks.Next() {
			var m store.ImpactMark
			if err := marks.Scan(&m.Seq, &m.ExportID, &m.Subject, &m.Status, &m.Note, (*int64)(&m.At)); err != nil {
				marks.Close()
				return err
			}
			rows.Impact(m.Seq, &m)
		}
		marks.Close()
		digest := rows.Sum()
		var seq int64
		err = tx.QueryRow(ctx, `INSERT INTO erasures(subject, salt, at, rows_digest) VALUES ($1,$2,$3,$4) ON CONFLICT (subject) DO NOTHING RETURNING seq`, subject, salt, int64(at), digest).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // erased before
		} else if err != nil {
			return err
		}
		_, err = appendLog(ctx, tx, [][]byte{translog.ErasureLeaf(seq, []byte(subject), int64(at), salt, digest)})
		return err
	})
}

// Erasures implements store.Store.
func (s *DB) Erasures(ctx context.Context) ([]store.Erasure, error) {
	return list(ctx, s.pool, store.ErasureList)
}

// DerivedSubjectRows implements store.Store: PostgreSQL reads its views
// from the rows, and keeps no derived copy of them.
func (s *DB) DerivedSubjectRows(context.Context, func(*store.SubjectRow) error) error { return nil }

// CheckStorage implements store.Store: PostgreSQL's columns hold their
// declared types only.
func (s *DB) CheckStorage(context.Context) error { return nil }

// DerivedConsentRows implements store.Store, likewise.
func (s *DB) DerivedConsentRows(context.Context, func(*store.ConsentRow) error) error { return nil }

// AddImpactMark implements store.Store: the mark and its leaf in one
// transaction.
func (s *DB) AddImpactMark(ctx context.Context, m store.ImpactMark) (int64, error) {
	ks, err := s.subjectKeys(ctx, []string{m.Subject})
	if err != nil {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLog(ctx, tx); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO impact_marks(export_id, subject, status, note, at) VALUES ($1,$2,$3,$4,$5) RETURNING seq`,
			m.ExportID, m.Subject, m.Status, m.Note, int64(m.At)).Scan(&m.Seq); err != nil {
			return err
		}
		_, err := appendLog(ctx, tx, [][]byte{translog.ImpactLeaf(ks[m.Subject], m.Seq, &m)})
		return err
	})
	if err != nil {
		return 0, err
	}
	return m.Seq, nil
}

// SubjectsByNumber implements store.Store.
func (s *DB) SubjectsByNumber(ctx context.Context, numbers []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(numbers))
	rows, err := s.pool.Query(ctx, `SELECT seq, subject FROM subject_events WHERE seq = ANY($1)`, numbers)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var id string
		if err := rows.Scan(&n, &id); err != nil {
			return nil, err
		}
		out[n] = id
	}
	return out, rows.Err()
}

// consentValues and subjectValues are an event's values as written.
func consentValues(e *consent.Event, now int64) []any {
	return []any{e.Subject, e.Purpose, e.Recipient, int16(e.State), int64(e.At), e.Source, now, e.Policy, e.Notice, e.Key()}
}

func subjectValues(e *consent.SubjectEvent, now int64) []any {
	attrs, key := e.StoredForm()
	return []any{e.Subject, int64(e.At), e.RegionSet, e.Region, attrs, now, key}
}

// LoggedExports implements store.Store.
func (s *DB) LoggedExports(ctx context.Context) ([]store.Export, error) {
	return list(ctx, s.pool, store.LoggedExportList)
}
