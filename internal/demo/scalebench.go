package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ScaleAsOf is the as-of time the benchmarks of the export on a
// generated world decide by (internal/export's benchAsOf).
const ScaleAsOf = "2025-01-21T00:00:00Z"

// ScaleExportArgs is the benchmark's `consentgate export` command line on
// a generated world's records (SPEC §10: the export timed end to end, and
// beside the DuckDB join with the same line): the store, the fields, the
// as-of time and the workers; the caller adds --rejects.
func ScaleExportArgs(storeDB, in, out string, workers int) []string {
	return []string{"--store", "sqlite:" + storeDB, "export",
		"--purpose", ExportPurpose, "--recipient", ExportRecipient, "--as-of", ScaleAsOf,
		"--in", in, "--id", "id", "--time", "created_at", "--category-field", "kind",
		"--subject", "author=author", "--subject", "recipient=to", "--workers", fmt.Sprint(workers), "--out", out}
}

// CopyScaleStore copies a generated world's SQLite store (store.db and its
// WAL files) and its keys to dir, so that exports timed there leave the
// world as it was.
func CopyScaleStore(world, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "store.db.keys"), 0o700); err != nil {
		return err
	}
	var files []string
	for _, pat := range []string{"store.db*", "store.db.keys/*"} {
		m, _ := filepath.Glob(filepath.Join(world, pat))
		files = append(files, m...)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.IsDir() {
			continue
		}
		rel, _ := filepath.Rel(world, f)
		if err := copyFile(f, filepath.Join(dir, rel)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}
