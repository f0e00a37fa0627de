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
	"strings"

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
	for start := 0; start < len(subjects); start += keyBatch {
		part := subjects[start:min(start+keyBatch, len(subjects))]
		// The subjects as one JSON array: one parameter, one statement
		// text, however many subjects.
		list, _ := json.Marshal(part)
		rows, err := q.QueryContext(ctx, `SELECT subject, key FROM subject_keys WHERE subject IN (SELECT value FROM json_each(?))`, string(list))
		if err != nil {
			return err
		}
		for rows.Next() {
			var s string
			var key []byte
			if err := rows.Scan(&s, &key); err != nil {
				rows.Close()
				return err
			}
			if len(key) > 0 { // not a tombstone
				out[s] = key
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
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
