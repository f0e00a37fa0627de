// Package sqlitefile says how to open an SQLite file for reading only, the
// same for the store and its key store: a read-only session never creates,
// changes or leaves a file (SPEC: reading never writes), and works on a
// file this process may not write (an auditor's copy, another user's
// store).
package sqlitefile

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ReadOnly adds to q the connection settings for reading path only. Every
// statement that would write is refused (query_only), and no pragma that
// writes (the journal mode) is set. When this process may write the file
// and its folder, the connection is otherwise an ordinary one, so that
// SQLite's WAL housekeeping (the -shm and -wal files, removed as the last
// connection closes) cleans up after itself and concurrent writers are
// seen. When it may not: with a -wal beside the file (a writer is about),
// SQLite reads through the writer's files (mode=ro); without one, the file
// is read as it is (immutable), creating nothing — a writer that starts
// during such a read is not seen by it.
func ReadOnly(path string, q url.Values) {
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	if Writable(path) {
		return
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		q.Set("mode", "ro")
	} else {
		q.Set("immutable", "1")
	}
}

// Writable reports whether this process may write path and create files
// beside it.
func Writable(path string) bool {
	return unix.Access(path, unix.W_OK) == nil && unix.Access(filepath.Dir(path), unix.W_OK) == nil
}

// Readable refuses a file this process may not read, in words (SQLite
// itself says only "unable to open database file").
func Readable(path, what string) error {
	if err := unix.Access(path, unix.R_OK); err != nil {
		return fmt.Errorf("%s %s cannot be read by this user: %w", what, path, err)
	}
	return nil
}
