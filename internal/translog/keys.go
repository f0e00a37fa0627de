package translog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the driver

	"github.com/consentgate/consentgate/internal/sqlitefile"
	"github.com/consentgate/consentgate/internal/store"
)

// SubjectKeysFile is the name of the per-subject key file under --keys.
const SubjectKeysFile = "subject-keys.db"

// KeyStore keeps one random 32-byte key per subject in a SQLite file under
// the keys directory, apart from the store: whoever holds the store (or the
// public log) without it cannot link log entries to subjects. Erasing a
// subject deletes its key (with SQLite's secure_delete, so the bytes are
// overwritten): the log still verifies, but nobody can link its entries to
// the subject any more.
type KeyStore struct {
	db   *sql.DB
	Path string
}

// ErrNoKeys: the keys directory holds no subject key file.
var ErrNoKeys = errors.New("no subject keys there")

// OpenKeys opens (creating if needed) the key store in dir.
func OpenKeys(dir string) (*KeyStore, error) {
	return OpenKeysWith(dir, store.OpenOptions{Create: true})
}

// OpenKeysWith opens the key store in dir as o says: without o.Create a
// missing key file is ErrNoKeys (and nothing is created); read-only, it is
// never written (SubjectKeys with create and Erase fail).
func OpenKeysWith(dir string, o store.OpenOptions) (*KeyStore, error) {
	path := filepath.Join(dir, SubjectKeysFile)
	if !o.Create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s: %w", path, ErrNoKeys)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := sqlitefile.Readable(path, "the subject key store"); err != nil && !o.Create {
		return nil, err
	}
	q := url.Values{}
	if o.ReadOnly {
		sqlitefile.ReadOnly(path, q)
		db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return &KeyStore{db: db, Path: path}, nil
	}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "secure_delete(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BLOB NOT NULL) WITHOUT ROWID`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	os.Chmod(path, 0o600)
	return &KeyStore{db: db, Path: path}, nil
}

// Close closes the key store.
func (k *KeyStore) Close() error { return k.db.Close() }

const keyBatch = 500

// SubjectKeys returns the keys of the subjects that have one; with create,
// it first gives a new key to each that has none, durably, so that a leaf
// derived from a key never outlives it.
func (k *KeyStore) SubjectKeys(ctx context.Context, subjects []string, create bool) (map[string][]byte, error) {
	out := make(map[string][]byte, len(subjects))
	if err := k.lookup(ctx, k.db, subjects, out); err != nil {
		return nil, err
	}
	if !create || len(out) == len(subjects) {
		return out, nil
	}
	var missing []string
	for _, s := range subjects {
		if _, ok := out[s]; !ok {
			missing = append(missing, s)
		}
	}
	tx, err := k.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	keys := make([]byte, 32*len(missing))
	rand.Read(keys)
	args := make([]any, 0, 2*keyBatch)
	for start := 0; start < len(missing); start += keyBatch {
		part := missing[start:min(start+keyBatch, len(missing))]
		st, ok := stmts[len(part)]
		if !ok {
			st, err = tx.PrepareContext(ctx, `INSERT INTO subject_keys(subject, key) VALUES `+
				strings.TrimSuffix(strings.Repeat("(?,?),", len(part)), ",")+` ON CONFLICT(subject) DO NOTHING`)
			if err != nil {
				return nil, err
			}
			stmts[len(part)] = st
		}
		args = args[:0]
		for i, s := range part {
			args = append(args, s, keys[32*(start+i):32*(start+i+1)])
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); int(n) == len(part) {
			for i, s := range part {
				out[s] = keys[32*(start+i) : 32*(start+i+1)]
			}
			continue
		}
		// Another process created some first: theirs stand.
		if err := k.lookup(ctx, tx, part, out); err != nil {
			return nil, err
		}
	}
	for _, s := range missing {
		if _, ok := out[s]; !ok {
			return nil, fmt.Errorf("subject %s %w", s, ErrErased)
		}
	}
	return out, tx.Commit()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (k *KeyStore) lookup(ctx context.Context, q querier, subjects []string, out map[string][]byte) error {
	if len(subjects) >= scanAtLeast && worthScanning(ctx, q, len(subjects)) {
		return scanKeys(ctx, q, subjects, out)
	}
	if db, ok := q.(*sql.DB); ok && len(subjects) >= scanAtLeast {
		return lookupParallel(ctx, db, subjects, out)
	}
	return lookupBatches(ctx, q, subjects, out)
}

// lookupParallel looks many subjects up on a few connections at once (one
// per CPU), each its own contiguous part of the subjects sorted (so each
// statement's probes walk the key table's B-tree in order).
func lookupParallel(ctx context.Context, db *sql.DB, subjects []string, out map[string][]byte) error {
	sorted := slices.Clone(subjects)
	slices.Sort(sorted)
	parts := min(runtime.GOMAXPROCS(0), 4)
	found := make([]map[string][]byte, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := sorted[p*len(sorted)/parts : (p+1)*len(sorted)/parts]
			found[p] = make(map[string][]byte, len(part))
			errs[p] = lookupBatches(ctx, db, part, found[p])
		}()
	}
	wg.Wait()
	for p := range parts {
		if errs[p] != nil {
			return errs[p]
		}
		for s, key := range found[p] {
			out[s] = key
		}
	}
	return nil
}

// lookupBatches looks subjects up keyBatch at a time, one statement each.
func lookupBatches(ctx context.Context, q querier, subjects []string, out map[string][]byte) error {
	var arena []byte
	var list []byte
	var s, key sql.RawBytes
	for start := 0; start < len(subjects); start += keyBatch {
		part := subjects[start:min(start+keyBatch, len(subjects))]
		// The subjects as one JSON array: one parameter, one statement
		// text, however many subjects.
		list, _ = json.Marshal(part)
		rows, err := q.QueryContext(ctx, `SELECT subject, key FROM subject_keys WHERE subject IN (SELECT value FROM json_each(?))`, string(list))
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := rows.Scan(&s, &key); err != nil {
				rows.Close()
				return err
			}
			if len(key) > 0 { // not a tombstone
				if len(arena)+len(key) > cap(arena) {
					arena = make([]byte, 0, max(len(key), 32*keyBatch))
				}
				arena = append(arena, key...)
				out[string(s)] = arena[len(arena)-len(key) : len(arena) : len(arena)]
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// scanAtLeast is how many subjects a lookup wants before reading the key
// table in one ordered scan, or on several connections, is considered.
const scanAtLeast = 4096

// worthScanning reports whether the key table is small enough, next to
// the n subjects wanted, that one ordered scan of it beats n lookups (each
// about 4 µs of a statement's work, where a scanned row costs about one).
// The table's size is estimated from its pages, which costs nothing to
// ask.
func worthScanning(ctx context.Context, q querier, n int) bool {
	var pages, pageSize int64
	for _, p := range []struct {
		sql string
		v   *int64
	}{{`PRAGMA page_count`, &pages}, {`PRAGMA page_size`, &pageSize}} {
		rows, err := q.QueryContext(ctx, p.sql)
		if err != nil {
			return false
		}
		if rows.Next() {
			rows.Scan(p.v)
		}
		rows.Close()
	}
	// A row is a subject id and a 32-byte key: about 50 bytes with its
	// cell's overhead, pages about two-thirds full.
	rowsEstimate := pages * pageSize * 2 / 3 / 50
	return rowsEstimate <= 2*int64(n)
}

// scanKeys reads the keys of subjects in one scan of the key table in its
// order (its primary key's: SQLite's BINARY collation, bytewise, as Go
// compares strings), merged with the subjects sorted, from the first one
// wanted and stopping after the last.
func scanKeys(ctx context.Context, q querier, subjects []string, out map[string][]byte) error {
	sorted := slices.Clone(subjects)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	rows, err := q.QueryContext(ctx, `SELECT subject, key FROM subject_keys WHERE subject >= ? ORDER BY subject`, sorted[0])
	if err != nil {
		return err
	}
	defer rows.Close()
	arena := make([]byte, 0, 32*len(sorted))
	var s, key sql.RawBytes
	i := 0
	for i < len(sorted) && rows.Next() {
		if err := rows.Scan(&s, &key); err != nil {
			return err
		}
		for i < len(sorted) && sorted[i] < string(s) {
			i++
		}
		if i < len(sorted) && sorted[i] == string(s) {
			if len(key) > 0 { // not a tombstone
				if len(arena)+len(key) > cap(arena) {
					arena = make([]byte, 0, max(len(key), 32*(len(sorted)-i)))
				}
				arena = append(arena, key...)
				out[sorted[i]] = arena[len(arena)-len(key) : len(arena) : len(arena)]
			}
			i++
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return rows.Err()
}

// All returns every subject's key.
func (k *KeyStore) All(ctx context.Context) (map[string][]byte, error) {
	rows, err := k.db.QueryContext(ctx, `SELECT subject, key FROM subject_keys`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var s string
		var key []byte
		if err := rows.Scan(&s, &key); err != nil {
			return nil, err
		}
		if len(key) > 0 {
			out[s] = key
		}
	}
	return out, rows.Err()
}

// ErrErased: a subject whose key was erased gets no key again (its old
// entries would then fail to re-derive, and new ones would link it).
var ErrErased = errors.New("was erased: no log key can be made for it again")

// Erase deletes a subject's key, reporting whether it had one. What stays
// is a tombstone (an empty key, the bytes overwritten: secure_delete), so
// that no key is made for the subject again.
func (k *KeyStore) Erase(ctx context.Context, subject string) (bool, error) {
	res, err := k.db.ExecContext(ctx, `UPDATE subject_keys SET key = X'' WHERE subject = ? AND length(key) > 0`, subject)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
