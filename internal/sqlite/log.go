package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// logQ reads (and, in a transaction, writes) the transparency log's tables.
// SQLite has one writer at a time, so appends are serialised by the write
// transaction they run in.
type logQ struct {
	q interface {
		querier
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	in *inserter // for leaves, in a transaction
}

var _ translog.Writer = (*logQ)(nil)

func (l *logQ) LogSize(ctx context.Context) (int64, error) {
	var n int64
	err := l.q.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM log`).Scan(&n)
	return n, err
}

func (l *logQ) LogLeaves(ctx context.Context, from, to int64, fn func(int64, []byte) error) error {
	rows, err := l.q.QueryContext(ctx, `SELECT idx, data FROM log WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	var data sql.RawBytes
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i, &data); err != nil {
			return err
		}
		if err := fn(i, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (l *logQ) LogNodes(ctx context.Context, tl int, from, to int64) ([][]byte, error) {
	rows, err := l.q.QueryContext(ctx, `SELECT hash FROM log_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx`, tl, from, to)
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
	n, err := l.in.insert(ctx, len(data), func(i int, dst []any) []any {
		return append(dst, first+int64(i), data[i])
	})
	if err == nil && n != len(data) {
		err = fmt.Errorf("log: %d of %d leaves stored", n, len(data))
	}
	return err
}

func (l *logQ) InsertNode(ctx context.Context, tl int, i int64, hash []byte) error {
	_, err := l.q.ExecContext(ctx, `INSERT INTO log_nodes(level, idx, hash) VALUES (?,?,?)`, tl, i, hash)
	return err
}

// appendLog appends leaves inside tx.
func appendLog(ctx context.Context, tx *sql.Tx, leaves [][]byte) (int64, error) {
	in := newInserter(tx, `INSERT INTO log(idx, data) VALUES `, 2)
	defer in.close()
	return translog.Append(ctx, &logQ{q: tx, in: in}, leaves)
}

// LogSize implements store.Store.
func (s *DB) LogSize(ctx context.Context) (int64, error) { return (&logQ{q: s.db}).LogSize(ctx) }

// LogLeaves implements store.Store.
func (s *DB) LogLeaves(ctx context.Context, from, to int64, fn func(int64, []byte) error) error {
	return (&logQ{q: s.db}).LogLeaves(ctx, from, to, fn)
}

// LogNodes implements store.Store.
func (s *DB) LogNodes(ctx context.Context, tl int, from, to int64) ([][]byte, error) {
	return (&logQ{q: s.db}).LogNodes(ctx, tl, from, to)
}

// AddCheckpoint implements store.Store.
func (s *DB) AddCheckpoint(ctx context.Context, c store.Checkpoint) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO checkpoints(size, note, at) VALUES (?,?,?) ON CONFLICT(size) DO NOTHING`, c.Size, c.Note, int64(c.At))
	return err
}

// Checkpoints implements store.Store.
func (s *DB) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	return list(ctx, s.db, store.CheckpointList)
}

// SubjectRows implements store.Store.
func (s *DB) SubjectRows(ctx context.Context, lo, hi int64, fn func(*store.SubjectRow) error) error {
	return scanSubjectRows(ctx, s.db, `WHERE seq >= ? AND seq <= ? ORDER BY seq`, []any{lo, hi}, fn)
}

// ConsentRows implements store.Store.
func (s *DB) ConsentRows(ctx context.Context, lo, hi int64, fn func(*store.ConsentRow) error) error {
	return scanConsentRows(ctx, s.db, `WHERE seq >= ? AND seq <= ? ORDER BY seq`, []any{lo, hi}, fn)
}

// subjectsOf returns the distinct subjects of events, in first-seen order.
func subjectsOf[E any](evs []E, subject func(*E) string) []string {
	seen := make(map[string]struct{}, len(evs))
	var out []string
	for i := range evs {
		s := subject(&evs[i])
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// keysFor returns the keys of the subjects, creating missing ones.
func keysFor(ctx context.Context, keys store.Keys, subjects []string) (map[string][]byte, error) {
	if keys == nil {
		return nil, errors.New("the store was opened without subject keys (--keys)")
	}
	return keys.SubjectKeys(ctx, subjects, true)
}

// logConsent appends the leaves of the consent rows a chunk inserted: the
// events themselves when all were new (sequence numbers before+1…), else
// the rows read back.
func logConsent(ctx context.Context, tx *sql.Tx, keys store.Keys, evs []consent.Event, before int64, added int) error {
	if added == 0 {
		return nil
	}
	var rows []store.ConsentRow
	if added == len(evs) {
		rows = make([]store.ConsentRow, len(evs))
		for i := range evs {
			e := &evs[i]
			rows[i] = store.ConsentRow{Seq: before + 1 + int64(i), Subject: []byte(e.Subject), Purpose: []byte(e.Purpose),
				Recipient: []byte(e.Recipient), State: e.State, At: e.At, Source: []byte(e.Source)}
		}
	} else {
		err := scanConsentRows(ctx, tx, `WHERE seq > ? ORDER BY seq`, []any{before}, func(r *store.ConsentRow) error {
			rows = append(rows, store.ConsentRow{Seq: r.Seq, Subject: slices.Clone(r.Subject), Purpose: slices.Clone(r.Purpose),
				Recipient: slices.Clone(r.Recipient), State: r.State, At: r.At, Source: slices.Clone(r.Source)})
			return nil
		})
		if err != nil {
			return err
		}
	}
	ks, err := keysFor(ctx, keys, subjectsOf(rows, func(r *store.ConsentRow) string { return string(r.Subject) }))
	if err != nil {
		return err
	}
	leaves := make([][]byte, len(rows))
	buf := make([]byte, 0, len(rows)*96)
	for i := range rows {
		start := len(buf)
		buf = translog.ConsentLeaf(buf, ks[string(rows[i].Subject)], &rows[i])
		leaves[i] = buf[start:len(buf):len(buf)]
	}
	_, err = appendLog(ctx, tx, leaves)
	return err
}

// logSubjects appends the leaves of the subject rows a chunk inserted, as
// logConsent does; attrs are the events' stored attributes.
func logSubjects(ctx context.Context, tx *sql.Tx, keys store.Keys, evs []consent.SubjectEvent, attrs []string, before int64, added int) error {
	if added == 0 {
		return nil
	}
	type item struct {
		row   store.SubjectRow
		names []string
	}
	var items []item
	if added == len(evs) {
		items = make([]item, len(evs))
		for i := range evs {
			e := &evs[i]
			items[i] = item{store.SubjectRow{Seq: before + 1 + int64(i), Subject: []byte(e.Subject), At: e.At, RegionSet: e.RegionSet,
				Region: []byte(e.Region), Attrs: []byte(attrs[i])}, attributeNames(e.Attributes)}
		}
	} else {
		err := scanSubjectRows(ctx, tx, `WHERE seq > ? ORDER BY seq`, []any{before}, func(r *store.SubjectRow) error {
			e, err := r.Event()
			if err != nil {
				return err
			}
			items = append(items, item{store.SubjectRow{Seq: r.Seq, Subject: slices.Clone(r.Subject), At: r.At, RegionSet: r.RegionSet,
				Region: slices.Clone(r.Region), Attrs: slices.Clone(r.Attrs)}, attributeNames(e.Attributes)})
			return nil
		})
		if err != nil {
			return err
		}
	}
	ks, err := keysFor(ctx, keys, subjectsOf(items, func(it *item) string { return string(it.row.Subject) }))
	if err != nil {
		return err
	}
	leaves := make([][]byte, len(items))
	for i := range items {
		leaves[i] = translog.SubjectLeaf(nil, ks[string(items[i].row.Subject)], &items[i].row, items[i].names)
	}
	_, err = appendLog(ctx, tx, leaves)
	return err
}

func attributeNames(m map[string]*string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	return names
}

// LogExport implements store.Store.
func (s *DB) LogExport(ctx context.Context, e store.Export, finish func(index int64) ([]byte, error)) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	leaf, err := translog.ManifestLeaf(e.ID, e.Manifest)
	if err != nil {
		return err
	}
	index, err := appendLog(ctx, tx, [][]byte{leaf})
	if err != nil {
		return err
	}
	if e.Manifest, err = finish(index); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO exports(id, created_at, purpose, recipient, as_of, status, manifest, subjects) VALUES (?,?,?,?,?,?,?,?)`,
		e.ID, int64(e.CreatedAt), e.Purpose, e.Recipient, int64(e.AsOf), store.ExportLogged, e.Manifest, e.Subjects)
	if err != nil {
		return err
	}
	return tx.Commit()
}

// SetExportStatus implements store.Store.
func (s *DB) SetExportStatus(ctx context.Context, id, status string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE exports SET status = ? WHERE id = ?`, status, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("export %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// AddImpactMark implements store.Store: the mark and its leaf in one
// transaction.
func (s *DB) AddImpactMark(ctx context.Context, m store.ImpactMark) error {
	ks, err := keysFor(ctx, s.keys, []string{m.Subject})
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO impact_marks(export_id, subject, status, note, at) VALUES (?,?,?,?,?)`,
		m.ExportID, m.Subject, m.Status, m.Note, int64(m.At))
	if err != nil {
		return err
	}
	if m.Seq, err = res.LastInsertId(); err != nil {
		return err
	}
	if _, err := appendLog(ctx, tx, [][]byte{translog.ImpactLeaf(ks[m.Subject], m.Seq, &m)}); err != nil {
		return err
	}
	return tx.Commit()
}
