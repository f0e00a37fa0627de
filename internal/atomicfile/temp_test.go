package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTempNamesTheUsersPath: a file that cannot be created is named as
// the user gave it, never by its temporary name.
func TestTempNamesTheUsersPath(t *testing.T) {
	final := filepath.Join(t.TempDir(), "missing", "o.jsonl")
	_, err := Temp(final)
	if err == nil || !strings.Contains(err.Error(), final) || strings.Contains(err.Error(), ".tmp-") {
		t.Fatalf("Temp(%s): %v", final, err)
	}
	f, err := Temp(filepath.Join(t.TempDir(), "o.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Remove(f.Name())
	_, werr := f.Write([]byte("x"))
	if got := Named(werr, f.Name(), "o.jsonl"); !strings.HasPrefix(got.Error(), "write o.jsonl: ") {
		t.Fatalf("Named: %v", got)
	}
}
