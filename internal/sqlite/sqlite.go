// Package sqlite implements the storage contract on one embedded SQLite file
// (the pure-Go modernc.org/sqlite driver) in WAL mode, with its migrations
// embedded in the binary.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	sqlite3 "modernc.org/sqlite" // the driver

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/faults"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/sqlitefile"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a consentgate store in one SQLite file.
type DB struct {
	db      *sql.DB
	Path    string
	keys    store.Keys
	ownKeys *translog.KeyStore // opened by Open, closed by Close

	subjectGroup store.Group[consent.SubjectEvent]
	consentGroup store.Group[consent.Event]
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the store at path, with the subject keys
// of its log in the default keys directory beside it (PATH.keys).
func Open(ctx context.Context, path string) (*DB, error) {
	ks, err := translog.OpenKeys(path + ".keys")
	if err != nil {
		return nil, err
	}
	s, err := OpenWithKeys(ctx, path, ks)
	if err != nil {
		ks.Close()
		return nil, err
	}
	s.ownKeys = ks
	return s, nil
}

// OpenWithKeys opens (creating if needed) the store at path and brings its
// schema up to date; keys gives subjects the keys their log entries' salts
// derive from.
func OpenWithKeys(ctx context.Context, path string, keys store.Keys) (*DB, error) {
	return OpenWith(ctx, path, keys, store.OpenOptions{Create: true})
}

// OpenWith opens the store at path as o says: a store that does not exist
// is created only with o.Create (otherwise store.ErrNoStore); a read-only
// store refuses every write and is never migrated (store.ErrOutdated when
// its schema is older than this program's).
func OpenWith(ctx context.Context, path string, keys store.Keys, o store.OpenOptions) (*DB, error) {
	if !o.Create {
		if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Size() == 0 {
			return nil, fmt.Errorf("%s: %w", path, store.ErrNoStore)
		}
	}
	if !o.Create {
		if err := sqlitefile.Readable(path, "the store"); err != nil {
			return nil, err
		}
	} else if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("the store %s: the folder %s does not exist", path, filepath.Dir(path))
	}
	q := url.Values{}
	if o.ReadOnly {
		// Nothing is written, not even the journal mode: a file that is
		// not a store stays as it is, and one this process may not write
		// is read in place.
		sqlitefile.ReadOnly(path, q)
	} else {
		busy := o.BusyTimeout
		if busy <= 0 {
			busy = 10 * time.Second
		}
		for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()), "foreign_keys(1)"} {
			q.Add("_pragma", p)
		}
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Keep connections open: opening one runs the pragmas, which costs
	// more than most queries (a server's concurrent reads churned through
	// database/sql's default of two idle connections).
	db.SetMaxIdleConns(64)
	s := &DB{db: db, Path: path, keys: keys}
	s.subjectGroup.Commit = func(ctx context.Context, b [][]consent.SubjectEvent) ([]int, error) {
		now := int64(timestamp.Now())
		return classified(importBatches(ctx, s.db, "subject_events", subjectInsert, 7, b, func(e *consent.SubjectEvent, dst []any) []any {
			attrs, key := e.StoredForm()
			return append(dst, e.Subject, int64(e.At), e.RegionSet, e.Region, attrs, now, key)
		}, func(tx *sql.Tx, before int64) ([][]byte, error) { return readBackSubjects(ctx, tx, s.keys, before) }, subjectPacks))
	}
	s.consentGroup.Commit = func(ctx context.Context, b [][]consent.Event) ([]int, error) {
		now := int64(timestamp.Now())
		head, cols, noted := consentInsert, 8, false
		for _, evs := range b {
			noted = noted || notesVersion(evs)
		}
		if noted {
			head, cols = consentInsertNoted, 10
		}
		return classified(importBatches(ctx, s.db, "consent_events", head, cols, b, func(e *consent.Event, dst []any) []any {
			dst = append(dst, e.Subject, e.Purpose, e.Recipient, int(e.State), int64(e.At), e.Source, now, e.Key())
			if noted {
				dst = append(dst, e.Policy, e.Notice)
			}
			return dst
		}, func(tx *sql.Tx, before int64) ([][]byte, error) { return readBackConsent(ctx, tx, s.keys, before) }, consentPacks))
	}
	if err := s.migrate(ctx, o); err != nil {
		db.Close()
		if errors.Is(err, store.ErrNoStore) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// migrate applies the migrations the store lacks. Reading which are
// applied takes no lock, so opening an up-to-date store never waits for a
// writer.
func (s *DB) migrate(ctx context.Context, o store.OpenOptions) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	applied := map[string]bool{}
	var tables int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&tables); err != nil {
		return err
	}
	if tables == 0 && !o.Create {
		return store.ErrNoStore
	}
	if tables > 0 {
		rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	var pending []string
	for _, name := range names {
		if !applied[name] {
			pending = append(pending, name)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	if o.ReadOnly {
		return fmt.Errorf("%w (%d schema migrations to apply)", store.ErrOutdated, len(pending))
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	for _, name := range pending {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, name).Scan(&n); err != nil {
			tx.Rollback()
			return err
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		body, _ := migrations.ReadFile(name)
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version) VALUES (?)`, name); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database.
func (s *DB) Close() error {
	s.subjectGroup.Close()
	s.consentGroup.Close()
	if s.ownKeys != nil {
		s.ownKeys.Close()
	}
	return s.db.Close()
}

// PublishPolicy implements store.Store.
func (s *DB) PublishPolicy(ctx context.Context, p store.Policy) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var digest string
	err = tx.QueryRowContext(ctx, `SELECT digest FROM policies WHERE version = ?`, p.Version).Scan(&digest)
	switch {
	case err == nil && digest == p.Digest:
		return false, nil
	case err == nil:
		return false, fmt.Errorf("policy version %q: %w with different content (published versions are immutable; give the new one its own version label)", p.Version, store.ErrExists)
	case !errors.Is(err, sql.ErrNoRows):
		return false, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO policies(version, effective_from, source, digest, published_at, forced) VALUES (?,?,?,?,?,?)`,
		p.Version, int64(p.EffectiveFrom), p.Source, p.Digest, int64(p.PublishedAt), p.Forced)
	if err != nil {
		return false, err
	}
	if _, err := appendLog(ctx, tx, [][]byte{translog.PolicyLeaf(&p)}); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Policies implements store.Store.
func (s *DB) Policies(ctx context.Context) ([]store.Policy, error) {
	return list(ctx, s.db, store.PolicyList)
}

const batchRows = 400

// inserter runs multi-row INSERT OR IGNORE statements in a transaction,
// batchRows rows at a time, keeping its prepared statements.
type inserter struct {
	tx    *sql.Tx
	head  string
	cols  int
	stmts map[int]*sql.Stmt
	buf   []any
}

func newInserter(tx *sql.Tx, head string, cols int) *inserter {
	return &inserter{tx: tx, head: head, cols: cols, stmts: map[int]*sql.Stmt{}, buf: make([]any, 0, batchRows*cols)}
}

func (in *inserter) close() {
	for _, st := range in.stmts {
		st.Close()
	}
}

// insert inserts n rows whose arguments args appends, returning how many
// were new.
func (in *inserter) insert(ctx context.Context, n int, args func(i int, dst []any) []any) (int, error) {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", in.cols), ",") + ")"
	added := 0
	for start := 0; start < n; start += batchRows {
		end := min(start+batchRows, n)
		k := end - start
		st, ok := in.stmts[k]
		if !ok {
			var err error
			st, err = in.tx.PrepareContext(ctx, in.head+strings.TrimSuffix(strings.Repeat(row+",", k), ","))
			if err != nil {
				return 0, err
			}
			in.stmts[k] = st
		}
		in.buf = in.buf[:0]
		for i := start; i < end; i++ {
			in.buf = args(i, in.buf)
		}
		res, err := st.ExecContext(ctx, in.buf...)
		if err != nil {
			return 0, err
		}
		c, _ := res.RowsAffected()
		added += int(c)
	}
	return added, nil
}

// importChunk is how many events an import stores (and packs) at a time
// inside its one transaction.
const importChunk = 10_000

// importEvents stores what seq yields in one transaction, chunk by chunk:
// store inserts a chunk and packs it, given the sequence number before it.
func importEvents[E any](ctx context.Context, db *sql.DB, table, insertHead string, cols int, seq iter.Seq2[E, error],
	store func(tx *sql.Tx, in *inserter, chunk []E, before int64) (int, error)) (read, added int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	in := newInserter(tx, insertHead, cols)
	defer in.close()
	chunk := make([]E, 0, importChunk)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		before, err := maxSeq(ctx, tx, table)
		if err != nil {
			return err
		}
		n, err := store(tx, in, chunk, before)
		added += n
		chunk = chunk[:0]
		faults.Point("after-import-chunk")
		return err
	}
	for e, err := range seq {
		if err != nil {
			return 0, 0, err
		}
		read++
		if chunk = append(chunk, e); len(chunk) == importChunk {
			if err := flush(); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	return read, added, tx.Commit()
}

const (
	subjectInsert = `INSERT OR IGNORE INTO subject_events(subject, at, region_set, region, attrs, recorded_at, key) VALUES `
	consentInsert = `INSERT OR IGNORE INTO consent_events(subject, purpose, recipient, state, at, source, recorded_at, key) VALUES `
	// consentInsertNoted also writes the policy version and notice the
	// events noted (consentInsert leaves them '').
	consentInsertNoted = `INSERT OR IGNORE INTO consent_events(subject, purpose, recipient, state, at, source, recorded_at, key, policy, notice) VALUES `
)

// ImportSubjectEvents implements store.Store.
func (s *DB) ImportSubjectEvents(ctx context.Context, evs iter.Seq2[consent.SubjectEvent, error]) (int, int, error) {
	return importEvents(ctx, s.db, "subject_events", subjectInsert, 7, evs, s.subjectChunk(ctx))
}

// subjectChunk stores a chunk of subject events in tx: the rows, their log
// leaves (derived on another core meanwhile) and packs.
func (s *DB) subjectChunk(ctx context.Context) func(tx *sql.Tx, in *inserter, evs []consent.SubjectEvent, before int64) (int, error) {
	now := int64(timestamp.Now())
	var attrs []string
	return func(tx *sql.Tx, in *inserter, evs []consent.SubjectEvent, before int64) (int, error) {
		attrs = slices.Grow(attrs[:0], len(evs))[:len(evs)]
		keys := make([][]byte, len(evs))
		for i := range evs {
			attrs[i], keys[i] = evs[i].StoredForm()
		}
		// The leaves, for rows before+1… should all be new, are
		// derived on another core while the rows are inserted.
		pre := derive(ctx, tx, func() ([][]byte, error) { return subjectLeaves(ctx, s.keys, freshSubjects(evs, attrs, before)) })
		added, err := in.insert(ctx, len(evs), func(i int, dst []any) []any {
			e := &evs[i]
			return append(dst, e.Subject, int64(e.At), e.RegionSet, e.Region, attrs[i], now, keys[i])
		})
		leaves, derr := pre()
		if err != nil {
			return 0, err
		}
		if err := logRows(ctx, tx, added == len(evs), leaves, derr, func() ([][]byte, error) { return readBackSubjects(ctx, tx, s.keys, before) }); err != nil {
			return 0, err
		}
		var new *fresh
		if added == len(evs) {
			new = &fresh{first: before + 1, n: added, encode: func(b []byte, i int) []byte {
				e := &evs[i]
				set := byte(0)
				if e.RegionSet {
					set = 1
				}
				return appendPacked(b, before+1+int64(i), int64(e.At), set, []byte(e.Subject), []byte(e.Region), []byte(attrs[i]))
			}}
		}
		return added, pack(ctx, tx, subjectPacks, new)
	}
}

// ImportConsentEvents implements store.Store.
func (s *DB) ImportConsentEvents(ctx context.Context, evs iter.Seq2[consent.Event, error]) (int, int, error) {
	return importEvents(ctx, s.db, "consent_events", consentInsert, 8, evs, s.consentChunk(ctx))
}

// notesVersion reports whether any of the events noted a policy version
// or notice: events that noted none (a consent file's) are inserted
// without those columns, which then take their default (empty), binding
// no more than before events noted versions.
func notesVersion(evs []consent.Event) bool {
	for i := range evs {
		if evs[i].Policy != "" || evs[i].Notice != "" {
			return true
		}
	}
	return false
}

// consentChunk stores a chunk of consent events in tx, as subjectChunk,
// with the columns notesVersion calls for.
func (s *DB) consentChunk(ctx context.Context) func(tx *sql.Tx, in *inserter, evs []consent.Event, before int64) (int, error) {
	now := int64(timestamp.Now())
	var noted *inserter // made the first time a chunk needs it; its statements end with tx
	return func(tx *sql.Tx, in *inserter, evs []consent.Event, before int64) (int, error) {
		pre := derive(ctx, tx, func() ([][]byte, error) { return consentLeaves(ctx, s.keys, freshConsent(evs, before)) })
		withNoted := notesVersion(evs)
		if withNoted {
			if noted == nil {
				noted = newInserter(tx, consentInsertNoted, 10)
			}
			in = noted
		}
		added, err := in.insert(ctx, len(evs), func(i int, dst []any) []any {
			e := &evs[i]
			dst = append(dst, e.Subject, e.Purpose, e.Recipient, int(e.State), int64(e.At), e.Source, now, e.Key())
			if withNoted {
				dst = append(dst, e.Policy, e.Notice)
			}
			return dst
		})
		leaves, derr := pre()
		if err != nil {
			return 0, err
		}
		if err := logRows(ctx, tx, added == len(evs), leaves, derr, func() ([][]byte, error) { return readBackConsent(ctx, tx, s.keys, before) }); err != nil {
			return 0, err
		}
		var new *fresh
		if added == len(evs) {
			new = &fresh{first: before + 1, n: added, encode: func(b []byte, i int) []byte {
				e := &evs[i]
				return appendConsentPacked(b, before+1+int64(i), int64(e.At), byte(e.State),
					[]byte(e.Subject), []byte(e.Purpose), []byte(e.Recipient), []byte(e.Source), []byte(e.Policy), []byte(e.Notice))
			}}
		}
		return added, pack(ctx, tx, consentPacks, new)
	}
}

// importBatches stores batches in one transaction and returns how many of
// each were new: the group commit of many writers' small writes. The rows
// are inserted batch by batch (for the counts), then logged and packed
// together.
func importBatches[E any](ctx context.Context, db *sql.DB, table, insertHead string, cols int, batches [][]E,
	args func(e *E, dst []any) []any, readBack func(tx *sql.Tx, before int64) ([][]byte, error), pk packKind) ([]int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	in := newInserter(tx, insertHead, cols)
	defer in.close()
	before, err := maxSeq(ctx, tx, table)
	if err != nil {
		return nil, err
	}
	added := make([]int, len(batches))
	total := 0
	for i, b := range batches {
		if added[i], err = in.insert(ctx, len(b), func(k int, dst []any) []any { return args(&b[k], dst) }); err != nil {
			return nil, err
		}
		total += added[i]
	}
	if total > 0 {
		leaves, err := readBack(tx, before)
		if err != nil {
			return nil, err
		}
		if _, err := appendLog(ctx, tx, leaves); err != nil {
			return nil, err
		}
		if err := pack(ctx, tx, pk, nil); err != nil {
			return nil, err
		}
	}
	return added, tx.Commit()
}

// AddSubjectEvents implements store.Store: concurrent callers' events are
// committed together (store.Group).
func (s *DB) AddSubjectEvents(ctx context.Context, evs []consent.SubjectEvent) (int, error) {
	return s.subjectGroup.Add(ctx, evs)
}

// AddConsentEvents implements store.Store, as AddSubjectEvents.
func (s *DB) AddConsentEvents(ctx context.Context, evs []consent.Event) (int, error) {
	return s.consentGroup.Add(ctx, evs)
}

// SubjectHistory implements store.Store.
func (s *DB) SubjectHistory(ctx context.Context, subject string) ([]consent.SubjectEvent, error) {
	var out []consent.SubjectEvent
	err := scanSubjectRows(ctx, s.db, `WHERE subject = ? ORDER BY at, seq`, []any{subject}, func(r *store.SubjectRow) error {
		e, err := r.Event()
		out = append(out, e)
		return err
	})
	return out, err
}

// ConsentHistory implements store.Store.
func (s *DB) ConsentHistory(ctx context.Context, subject string) ([]consent.Event, error) {
	var out []consent.Event
	err := scanConsentRows(ctx, s.db, `WHERE subject = ? ORDER BY at, seq`, []any{subject}, func(r *store.ConsentRow) error {
		out = append(out, r.Event())
		return nil
	})
	return out, err
}

// ScanSubjects implements store.Store: from the packs for every subject,
// from the rows for a few.
func (s *DB) ScanSubjects(ctx context.Context, asOf timestamp.Time, subjects []string, fn func(*store.SubjectRow) error) error {
	if subjects == nil {
		return s.scanAllSubjects(ctx, asOf, fn)
	}
	where, args := filter(asOf, subjects)
	return scanSubjectRows(ctx, s.db, where, args, fn)
}

// ScanConsent implements store.Store, like ScanSubjects.
func (s *DB) ScanConsent(ctx context.Context, asOf timestamp.Time, subjects []string, fn func(*store.ConsentRow) error) error {
	if subjects == nil {
		return s.scanAllConsent(ctx, asOf, fn)
	}
	where, args := filter(asOf, subjects)
	return scanConsentRows(ctx, s.db, where, args, fn)
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanSubjectRows reads subject rows. The columns after the id and time
// are packed into one by SQLite, since every column fetched through the
// driver costs a lock.
func scanSubjectRows(ctx context.Context, q querier, where string, args []any, fn func(*store.SubjectRow) error) error {
	rows, err := q.QueryContext(ctx, `SELECT seq, subject, at, region_set || region || char(31) || attrs, `+subjectForm+` FROM subject_events `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r store.SubjectRow
	var subject, packed sql.RawBytes
	for rows.Next() {
		var at, form int64
		if err := rows.Scan(&r.Seq, &subject, &at, &packed, &form); err != nil {
			return err
		}
		if form != 1 {
			return fmt.Errorf("subject_events row %d: %w", r.Seq, store.ErrRowForm)
		}
		sep := bytes.IndexByte(packed, 0x1f)
		if sep < 1 {
			return fmt.Errorf("subject %s: unreadable stored row", subject)
		}
		r.Subject, r.At = subject, timestamp.Time(at)
		r.RegionSet, r.Region, r.Attrs = packed[0] == '1', packed[1:sep], packed[sep+1:]
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// subjectForm and consentForm are 1 for a row in the form the store
// writes it: each column of its type, the flags within their values.
const (
	subjectForm = `(typeof(subject) = 'text' AND typeof(at) = 'integer' AND typeof(region_set) = 'integer' AND region_set IN (0, 1)` +
		` AND typeof(region) = 'text' AND typeof(attrs) = 'text')`
	consentForm = `(typeof(subject) = 'text' AND typeof(purpose) = 'text' AND typeof(recipient) = 'text' AND typeof(state) = 'integer'` +
		` AND state IN (1, 2) AND typeof(at) = 'integer' AND typeof(source) = 'text' AND typeof(policy) = 'text' AND typeof(notice) = 'text')`
)

// storageForms are the other tables' rows in the form the store writes
// them, with the column that names a row.
var storageForms = []struct{ table, key, form string }{
	{"policies", "version", `typeof(version) = 'text' AND typeof(effective_from) = 'integer' AND typeof(source) = 'blob' AND typeof(digest) = 'text'` +
		` AND typeof(published_at) = 'integer' AND typeof(forced) = 'integer' AND forced IN (0, 1)`},
	{"exports", "id", `typeof(id) = 'text' AND typeof(created_at) = 'integer' AND typeof(purpose) = 'text' AND typeof(recipient) = 'text'` +
		` AND typeof(as_of) = 'integer' AND typeof(status) = 'text' AND typeof(manifest) = 'blob' AND typeof(subjects) IN ('blob', 'null')` +
		` AND typeof(dir) = 'text' AND typeof(manifest_path) = 'text'`},
	{"export_records", "export_id || ' chunk ' || chunk", `typeof(export_id) = 'text' AND typeof(chunk) = 'integer' AND typeof(body) = 'blob'`},
	{"impact_marks", "seq", `typeof(export_id) = 'text' AND typeof(subject) = 'text' AND typeof(status) = 'text' AND typeof(note) = 'text' AND typeof(at) = 'integer'`},
	{"erasures", "seq", `typeof(subject) = 'text' AND typeof(salt) = 'blob' AND typeof(at) = 'integer'`},
	{"checkpoints", "size", `typeof(size) = 'integer' AND typeof(note) = 'blob'`},
	{"notices", "id", `typeof(seq) = 'integer' AND typeof(id) = 'text' AND typeof(export_id) = 'text' AND typeof(recipient) = 'text'` +
		` AND typeof(issued_at) = 'integer' AND typeof(deadline) = 'integer' AND typeof(body) = 'blob'`},
	{"notice_answers", "seq", `typeof(seq) = 'integer' AND typeof(notice_id) = 'text' AND typeof(status) = 'text' AND typeof(note) = 'text'` +
		` AND typeof(by) = 'text' AND typeof(at) = 'integer'`},
	{"lineage_runs", "seq", `typeof(seq) = 'integer' AND typeof(export_id) = 'text' AND typeof(namespace) = 'text' AND typeof(job) = 'text'` +
		` AND typeof(run_id) = 'text' AND typeof(at) = 'integer' AND typeof(producer) = 'text'`},
}

// CheckStorage implements store.Store.
func (s *DB) CheckStorage(ctx context.Context) error {
	for _, f := range storageForms {
		var key string
		err := s.db.QueryRowContext(ctx, `SELECT CAST(`+f.key+` AS TEXT) FROM `+f.table+` WHERE NOT (`+f.form+`) LIMIT 1`).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%s row %s: %w", f.table, key, store.ErrRowForm)
	}
	return nil
}

// scanConsentRows reads consent rows, packing columns as scanSubjectRows
// does. Purpose, recipient and source are names without a unit separator
// (char 31) and a notice is a URL (which has no control characters), so
// the policy version is whatever lies between the source and the notice.
func scanConsentRows(ctx context.Context, q querier, where string, args []any, fn func(*store.ConsentRow) error) error {
	rows, err := q.QueryContext(ctx, `SELECT seq, subject, at, state || purpose || char(31) || recipient || char(31) || source || char(31) || policy || char(31) || notice, `+
		consentForm+` FROM consent_events `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r store.ConsentRow
	var subject, packed sql.RawBytes
	for rows.Next() {
		var at, form int64
		if err := rows.Scan(&r.Seq, &subject, &at, &packed, &form); err != nil {
			return err
		}
		if form != 1 {
			return fmt.Errorf("consent_events row %d: %w", r.Seq, store.ErrRowForm)
		}
		a := bytes.IndexByte(packed, 0x1f)
		b := a + 1 + bytes.IndexByte(packed[a+1:], 0x1f)
		c := b + 1 + bytes.IndexByte(packed[b+1:], 0x1f)
		d := bytes.LastIndexByte(packed, 0x1f)
		if a < 1 || b <= a || c <= b || d <= c {
			return fmt.Errorf("consent of %s: unreadable stored row", subject)
		}
		r.Subject, r.At, r.State = subject, timestamp.Time(at), policy.State(packed[0]-'0')
		r.Purpose, r.Recipient, r.Source = packed[1:a], packed[a+1:b], packed[b+1:c]
		r.Policy, r.Notice = packed[c+1:d], packed[d+1:]
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EventCounts implements store.Store: the largest sequence numbers bound
// the counts and cost nothing to read.
func (s *DB) EventCounts(ctx context.Context) (subjects, consent int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT coalesce((SELECT max(seq) FROM subject_events), 0), coalesce((SELECT max(seq) FROM consent_events), 0)`).Scan(&subjects, &consent)
	return subjects, consent, err
}

func filter(asOf timestamp.Time, subjects []string) (string, []any) {
	args := []any{int64(asOf)}
	where := `WHERE at <= ?`
	if subjects != nil {
		where += ` AND subject IN (` + strings.TrimSuffix(strings.Repeat("?,", len(subjects)), ",") + `)`
		if len(subjects) == 0 {
			where = `WHERE 0`
		}
		for _, s := range subjects {
			args = append(args, s)
		}
	}
	return where + ` ORDER BY seq`, args
}

// SubjectNumber implements store.Store.
func (s *DB) SubjectNumber(ctx context.Context, subject string) (int64, bool, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT min(seq) FROM subject_events WHERE subject = ?`, subject).Scan(&n)
	return n.Int64, n.Valid, err
}

// ImpactMarks implements store.Store.
func (s *DB) ImpactMarks(ctx context.Context) ([]store.ImpactMark, error) {
	return list(ctx, s.db, store.ImpactMarkList)
}

// ConsentAfter implements store.Store. SQLite has one writer at a time, so
// sequence numbers are committed in order.
func (s *DB) ConsentAfter(ctx context.Context, after int64, limit int) ([]consent.Event, error) {
	var out []consent.Event
	err := scanConsentRows(ctx, s.db, `WHERE seq > ? ORDER BY seq LIMIT ?`, []any{after, limit}, func(r *store.ConsentRow) error {
		out = append(out, r.Event())
		return nil
	})
	return out, err
}

// Delivered implements store.Store.
func (s *DB) Delivered(ctx context.Context, destination string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT delivered FROM deliveries WHERE destination = ?`, destination).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// Deliveries implements store.Store.
func (s *DB) Deliveries(ctx context.Context) ([]store.Delivery, error) {
	return list(ctx, s.db, store.DeliveryList)
}

// SetDelivered implements store.Store.
func (s *DB) SetDelivered(ctx context.Context, destination string, seq int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO deliveries(destination, delivered, updated_at) VALUES (?,?,?)
		ON CONFLICT(destination) DO UPDATE SET delivered = max(delivered, excluded.delivered), updated_at = excluded.updated_at`,
		destination, seq, int64(timestamp.Now()))
	return err
}

// Exports implements store.Store.
func (s *DB) Exports(ctx context.Context) ([]store.Export, error) {
	return list(ctx, s.db, store.ExportList)
}

// list runs one of the store's listings, with its parameters.
func list[T any](ctx context.Context, db *sql.DB, l store.List[T], args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, l.Query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return l.Collect(rows)
}

// classified passes a result on with its error in the store's terms
// (Condition) when it has one.
func classified[T any](v T, err error) (T, error) {
	if c := Condition(err); c != nil {
		return v, fmt.Errorf("%w: %v", c, err)
	}
	return v, err
}

// Condition maps what SQLite (or the file system under it) answers a
// write with to the store's sentinels: store.ErrBusy when another writer
// held the database past the busy timeout, store.ErrFull when the disk is
// full; nil for anything else.
func Condition(err error) error {
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary result code
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return store.ErrBusy
		case 13: // SQLITE_FULL
			return store.ErrFull
		}
	}
	if errors.Is(err, syscall.ENOSPC) {
		return store.ErrFull
	}
	return nil
}

// FreeSpace is how many bytes the store's file system has free for it.
func (s *DB) FreeSpace() (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(s.Path), &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
