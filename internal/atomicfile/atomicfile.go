// Package atomicfile holds the steps of writing a file so that it appears
// whole or not at all: write under a temporary name beside it, sync and
// close, rename into place, sync the directory.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Temp creates a temporary file beside final, named ".BASE.tmp-…", so that
// the rename into place stays on one file system.
func Temp(final string) (*os.File, error) {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	return os.CreateTemp(dir, "."+base+".tmp-*")
}

// SyncClose makes f durable and closes it.
func SyncClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncDir makes the renames in dir durable (best effort: not every file
// system can sync a directory).
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
