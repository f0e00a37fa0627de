package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
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
}

var _ translog.Writer = (*logQ)(nil)

func (l *logQ) LogSize(ctx context.Context) (int64, error) { return translog.BundledSize(ctx, l) }

func (l *logQ) LogLeaves(ctx context.Context, from, to int64, fn func(int64, []byte) error) error {
	return translog.BundledLeaves(ctx, l, from, to, fn)
}

func (l *logQ) Bundles(ctx context.Context, from, to int64, fn func(int64, int, []byte) error) error {
	rows, err := l.q.QueryContext(ctx, `SELECT bundle, n, data FROM log WHERE bundle >= ? AND bundle < ? ORDER BY bundle`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	var data sql.RawBytes
	for rows.Next() {
		var i int64
		var n int
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
	var i int64
	var n int
	err := l.q.QueryRowContext(ctx, `SELECT bundle, n FROM log ORDER BY bundle DESC LIMIT 1`).Scan(&i, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, 0, nil
	}
	return i, n, err
}

func (l *logQ) PutBundle(ctx context.Context, i int64, n int, data []byte) error {
	_, err := l.q.ExecContext(ctx, `INSERT INTO log(bundle, n, data) VALUES (?,?,?) ON CONFLICT(bundle) DO UPDATE SET n = excluded.n, data = excluded.data`, i, n, data)
	return err
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
	return translog.BundleLeaves(ctx, l, first, data)
}

func (l *logQ) InsertNode(ctx context.Context, tl int, i int64, hash []byte) error {
	_, err := l.q.ExecContext(ctx, `INSERT INTO log_nodes(level, idx, hash) VALUES (?,?,?)`, tl, i, hash)
	return err
}

// appendLog appends leaves inside tx, after the leaves of the kept
// checkpoints not yet recorded; it returns the index of the first of
// leaves.
func appendLog(ctx context.Context, tx *sql.Tx, leaves [][]byte) (int64, error) {
	if len(leaves) == 0 {
		return 0, nil
	}
	if err := recordCheckpoints(ctx, tx); err != nil {
		return 0, err
	}
	return translog.Append(ctx, &logQ{q: tx}, leaves)
}

// recordCheckpoints appends the leaves of the kept checkpoints the log
// does not record yet (those issued since the last append): every
// appending transaction does, before its own leaves, so the log holds the
// sequence of its checkpoints (SPEC §6: a deleted one is missed).
func recordCheckpoints(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT size, note FROM checkpoints WHERE logged IS NULL ORDER BY size`)
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
	first, err := translog.Append(ctx, &logQ{q: tx}, leaves)
	if err != nil {
		return err
	}
	for k, size := range sizes {
		if _, err := tx.ExecContext(ctx, `UPDATE checkpoints SET logged = ? WHERE size = ?`, first+int64(k), size); err != nil {
			return err
		}
	}
	return nil
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

// keysFor returns the keys of the subjects, creating missing ones.
func keysFor(ctx context.Context, keys store.Keys, subjects []string) (map[string][]byte, error) {
	if keys == nil {
		return nil, errors.New("the store was opened without subject keys (--keys)")
	}
	return keys.SubjectKeys(ctx, subjects, true)
}

// derived is the leaves of a chunk's rows, with their hashing done ahead.
type derived struct {
	leaves [][]byte
	pre    *translog.Prepared
}

// derive runs f, and the hashing of what it returns for appending at the
// log's present size, on another goroutine; the function returned waits
// for it.
func derive(ctx context.Context, tx *sql.Tx, f func() ([][]byte, error)) func() (derived, error) {
	type result struct {
		d   derived
		err error
	}
	size, serr := (&logQ{q: tx}).LogSize(ctx)
	ch := make(chan result, 1)
	go func() {
		l, err := f()
		var pre *translog.Prepared
		if err == nil && serr == nil {
			pre = translog.Prepare(size, l)
		}
		ch <- result{derived{l, pre}, err}
	}()
	return func() (derived, error) {
		r := <-ch
		return r.d, r.err
	}
}

// logRows appends the leaves of the rows a chunk inserted: those derived
// from the events (rows before+1…) when every event was new, else those of
// the rows read back.
func logRows(ctx context.Context, tx *sql.Tx, allNew bool, d derived, derr error, readBack func() ([][]byte, error)) error {
	if !allNew {
		d.pre = nil
		d.leaves, derr = readBack()
	}
	if derr != nil {
		return derr
	}
	if len(d.leaves) == 0 {
		return nil
	}
	// (Checkpoints recorded first move the leaves on: the hashing prepared
	// for the old size is then redone.)
	if err := recordCheckpoints(ctx, tx); err != nil {
		return err
	}
	_, err := translog.AppendPrepared(ctx, &logQ{q: tx}, d.leaves, d.pre)
	return err
}

// freshConsent is the rows evs become if all are new.
func freshConsent(evs []consent.Event, before int64) []store.ConsentRow {
	rows := make([]store.ConsentRow, len(evs))
	for i := range evs {
		e := &evs[i]
		rows[i] = store.ConsentRow{Seq: before + 1 + int64(i), Subject: []byte(e.Subject), Purpose: []byte(e.Purpose),
			Recipient: []byte(e.Recipient), State: e.State, At: e.At, Source: []byte(e.Source), Policy: []byte(e.Policy), Notice: []byte(e.Notice)}
	}
	return rows
}

func readBackConsent(ctx context.Context, tx *sql.Tx, keys store.Keys, before int64) ([][]byte, error) {
	var rows []store.ConsentRow
	err := scanConsentRows(ctx, tx, `WHERE seq > ? ORDER BY seq`, []any{before}, func(r *store.ConsentRow) error {
		rows = append(rows, store.ConsentRow{Seq: r.Seq, Subject: slices.Clone(r.Subject), Purpose: slices.Clone(r.Purpose),
			Recipient: slices.Clone(r.Recipient), State: r.State, At: r.At, Source: slices.Clone(r.Source),
			Policy: slices.Clone(r.Policy), Notice: slices.Clone(r.Notice)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return consentLeaves(ctx, keys, rows)
}

// consentLeaves derives the leaves of consent rows, creating the keys of
// subjects that have none.
func consentLeaves(ctx context.Context, keys store.Keys, rows []store.ConsentRow) ([][]byte, error) {
	ks, err := keysFor(ctx, keys, store.Distinct(rows, func(r *store.ConsentRow) string { return string(r.Subject) }))
	if err != nil {
		return nil, err
	}
	leaves := make([][]byte, len(rows))
	buf := make([]byte, 0, len(rows)*96)
	for i := range rows {
		start := len(buf)
		buf = translog.ConsentLeaf(buf, ks[string(rows[i].Subject)], &rows[i])
		leaves[i] = buf[start:len(buf):len(buf)]
	}
	return leaves, nil
}

// subjectItem is a subject row with its attribute names.
type subjectItem struct {
	row   store.SubjectRow
	names []string
}

// freshSubjects is the rows evs become if all are new.
func freshSubjects(evs []consent.SubjectEvent, attrs []string, before int64) []subjectItem {
	items := make([]subjectItem, len(evs))
	for i := range evs {
		e := &evs[i]
		items[i] = subjectItem{store.SubjectRow{Seq: before + 1 + int64(i), Subject: []byte(e.Subject), At: e.At, RegionSet: e.RegionSet,
			Region: []byte(e.Region), Attrs: []byte(attrs[i])}, attributeNames(e.Attributes)}
	}
	return items
}

func readBackSubjects(ctx context.Context, tx *sql.Tx, keys store.Keys, before int64) ([][]byte, error) {
	var items []subjectItem
	err := scanSubjectRows(ctx, tx, `WHERE seq > ? ORDER BY seq`, []any{before}, func(r *store.SubjectRow) error {
		e, err := r.Event()
		if err != nil {
			return err
		}
		items = append(items, subjectItem{store.SubjectRow{Seq: r.Seq, Subject: slices.Clone(r.Subject), At: r.At, RegionSet: r.RegionSet,
			Region: slices.Clone(r.Region), Attrs: slices.Clone(r.Attrs)}, attributeNames(e.Attributes)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return subjectLeaves(ctx, keys, items)
}

// subjectLeaves derives the leaves of subject rows, creating the keys of
// subjects that have none.
func subjectLeaves(ctx context.Context, keys store.Keys, items []subjectItem) ([][]byte, error) {
	ks, err := keysFor(ctx, keys, store.Distinct(items, func(it *subjectItem) string { return string(it.row.Subject) }))
	if err != nil {
		return nil, err
	}
	leaves := make([][]byte, len(items))
	for i := range items {
		leaves[i] = translog.SubjectLeaf(nil, ks[string(items[i].row.Subject)], &items[i].row, items[i].names)
	}
	return leaves, nil
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
	_, err = tx.ExecContext(ctx, `INSERT INTO exports(id, created_at, purpose, recipient, as_of, status, manifest, subjects, dir, manifest_path, owner, lease_until) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		e.ID, int64(e.CreatedAt), e.Purpose, e.Recipient, int64(e.AsOf), store.ExportLogged, e.Manifest, e.Subjects, e.Dir, e.ManifestPath, e.Owner, int64(e.LeaseUntil))
	if err != nil {
		return err
	}
	// The kept records, stored and digested in one pass; then the
	// export's state, logged.
	ins, err := tx.PrepareContext(ctx, `INSERT INTO export_records(export_id, chunk, body) VALUES (?,?,?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	i := 0
	digest, err := translog.ExportDataDigest(e.Dir, e.ManifestPath, e.Subjects, func(fn func([]byte) error) error {
		if e.Records == nil {
			return nil
		}
		return e.Records(func(body []byte) error {
			if _, err := ins.ExecContext(ctx, e.ID, i, body); err != nil {
				return err
			}
			i++
			return fn(body)
		})
	})
	if err != nil {
		return err
	}
	if err := logExportState(ctx, tx, e.ID, store.ExportLogged, digest, false); err != nil {
		return err
	}
	return tx.Commit()
}

// logExportState records an export's data digest and appends its state.
func logExportState(ctx context.Context, tx *sql.Tx, id, status string, digest []byte, backfilled bool) error {
	if _, err := tx.ExecContext(ctx, `UPDATE exports SET data_digest = ? WHERE id = ?`, digest, id); err != nil {
		return err
	}
	_, err := appendLog(ctx, tx, [][]byte{translog.ExportLeaf(id, status, digest, backfilled)})
	return err
}

// ExportRecords implements store.Store.
func (s *DB) ExportRecords(ctx context.Context, id string, fn func(chunk []byte) error) error {
	return exportRecords(ctx, s.db, id, fn)
}

func exportRecords(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, id string, fn func(chunk []byte) error) error {
	rows, err := q.QueryContext(ctx, `SELECT body FROM export_records WHERE export_id = ? ORDER BY chunk`, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	var body sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&body); err != nil {
			return err
		}
		if err := fn(body); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetExportStatus implements store.Store.
func (s *DB) SetExportStatus(ctx context.Context, id, status string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var digest, subjects []byte
	var dir, manifestPath string
	err = tx.QueryRowContext(ctx, `SELECT data_digest, subjects, dir, manifest_path FROM exports WHERE id = ?`, id).Scan(&digest, &subjects, &dir, &manifestPath)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("export %s: %w", id, store.ErrNotFound)
	} else if err != nil {
		return err
	}
	backfilled := digest == nil
	if backfilled {
		if digest, err = translog.ExportDataDigest(dir, manifestPath, subjects, func(fn func([]byte) error) error { return exportRecords(ctx, tx, id, fn) }); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE exports SET status = ? WHERE id = ?`, status, id); err != nil {
		return err
	}
	if err := logExportState(ctx, tx, id, status, digest, backfilled); err != nil {
		return err
	}
	return tx.Commit()
}

// AddErasure implements store.Store.
func (s *DB) AddErasure(ctx context.Context, subject string, at timestamp.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	salt := make([]byte, 32)
	rand.Read(salt)
	// The subject's rows as they stand, which its erasure vouches for.
	rows := translog.NewErasedRows()
	if err := scanConsentRows(ctx, tx, `WHERE subject = ? ORDER BY seq`, []any{subject}, func(r *store.ConsentRow) error { rows.Consent(r); return nil }); err != nil {
		return err
	}
	if err := scanSubjectRows(ctx, tx, `WHERE subject = ? ORDER BY seq`, []any{subject}, func(r *store.SubjectRow) error { rows.Subject(r); return nil }); err != nil {
		return err
	}
	marks, err := tx.QueryContext(ctx, `SELECT seq, export_id, subject, status, note, at FROM impact_marks WHERE subject = ? ORDER BY seq`, subject)
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
	res, err := tx.ExecContext(ctx, `INSERT INTO erasures(subject, salt, at, rows_digest) VALUES (?,?,?,?) ON CONFLICT(subject) DO NOTHING`, subject, salt, int64(at), digest)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // erased before
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := appendLog(ctx, tx, [][]byte{translog.ErasureLeaf(seq, []byte(subject), int64(at), salt, digest)}); err != nil {
		return err
	}
	return tx.Commit()
}

// Erasures implements store.Store.
func (s *DB) Erasures(ctx context.Context) ([]store.Erasure, error) {
	return list(ctx, s.db, store.ErasureList)
}

// AddImpactMark implements store.Store: the mark and its leaf in one
// transaction.
func (s *DB) AddImpactMark(ctx context.Context, m store.ImpactMark) (int64, error) {
	ks, err := keysFor(ctx, s.keys, []string{m.Subject})
	if err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO impact_marks(export_id, subject, status, note, at) VALUES (?,?,?,?,?)`,
		m.ExportID, m.Subject, m.Status, m.Note, int64(m.At))
	if err != nil {
		return 0, err
	}
	if m.Seq, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	if _, err := appendLog(ctx, tx, [][]byte{translog.ImpactLeaf(ks[m.Subject], m.Seq, &m)}); err != nil {
		return 0, err
	}
	return m.Seq, tx.Commit()
}

// SubjectsByNumber implements store.Store.
func (s *DB) SubjectsByNumber(ctx context.Context, numbers []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(numbers))
	const batch = 10_000
	for start := 0; start < len(numbers); start += batch {
		list, _ := json.Marshal(numbers[start:min(start+batch, len(numbers))])
		rows, err := s.db.QueryContext(ctx, `SELECT seq, subject FROM subject_events WHERE seq IN (SELECT value FROM json_each(?))`, string(list))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var n int64
			var id string
			if err := rows.Scan(&n, &id); err != nil {
				rows.Close()
				return nil, err
			}
			out[n] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LoggedExports implements store.Store.
func (s *DB) LoggedExports(ctx context.Context) ([]store.Export, error) {
	return list(ctx, s.db, store.LoggedExportList)
}
