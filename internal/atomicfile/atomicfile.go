// Package atomicfile holds the steps of writing a file so that it appears
// whole or not at all: write under a temporary name beside it, sync and
// close, rename into place, sync the directory.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Temp creates a temporary file beside final, named ".BASE.tmp-PID-…"
// (PID this process's), so that the rename into place stays on one file
// system, and a crash's leftovers can be told from a running writer's.
func Temp(final string) (*os.File, error) {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-"+strconv.Itoa(os.Getpid())+"-*")
	var pe *os.PathError
	if errors.As(err, &pe) {
		// The user's path, not the temporary name they never gave.
		return nil, &os.PathError{Op: "create", Path: final, Err: pe.Err}
	}
	return f, err
}

// Named words an error about the temporary file tmp as one about final,
// the file the user asked for; what it wraps is unchanged (errors.Is and
// errors.As see the same causes).
func Named(err error, tmp, final string) error {
	if err == nil || !strings.Contains(err.Error(), tmp) {
		return err
	}
	return &named{err: err, tmp: tmp, final: final}
}

type named struct {
	err        error
	tmp, final string
}

func (n *named) Error() string { return strings.ReplaceAll(n.err.Error(), n.tmp, n.final) }
func (n *named) Unwrap() error { return n.err }

// CleanStale removes the temporary files beside final that a process no
// longer running left (a writer killed before its rename), and returns
// their names. Those of a process still running are left alone.
func CleanStale(final string) []string {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "."+globEscape(base)+".tmp-*"))
	var removed []string
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), "."+base+".tmp-")
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || alive(pid) {
			continue
		}
		if os.Remove(m) == nil {
			removed = append(removed, m)
		}
	}
	return removed
}

// alive reports whether a process runs with this pid (on this machine).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// globEscape escapes the pattern characters of a file name.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
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
