package translog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestOfTree(t *testing.T) {
	tile := func(l int, n int64, w int) tlog.Tile { return tlog.Tile{H: 8, L: l, N: n, W: w} }
	cases := []struct {
		name string
		tile tlog.Tile
		size int64
		want bool
	}{
		{"full level 0", tile(0, 0, 256), 700, true},
		{"full level 0 beyond", tile(0, 2, 256), 700, false},
		{"its partial", tile(0, 2, 700-512), 700, true},
		{"another size's partial", tile(0, 1, 44), 700, false},
		{"the older size's partial", tile(0, 1, 44), 300, true},
		{"partial level 1", tile(1, 0, 2), 700, true},
		{"partial level 1 of 300", tile(1, 0, 1), 300, true},
		{"entries", tile(-1, 2, 700-512), 700, true},
		{"entries full", tile(-1, 1, 256), 700, true},
		{"no width", tile(0, 0, 0), 700, false},
		{"other height", tlog.Tile{H: 4, L: 0, N: 0, W: 16}, 700, false},
	}
	for _, c := range cases {
		if got := OfTree(c.tile, c.size); got != c.want {
			t.Errorf("%s: OfTree(%+v, %d) = %v", c.name, c.tile, c.size, got)
		}
		if c.want && c.tile.W < 256 {
			if lo, hi := PartialSizes(c.tile); c.size < lo || c.size >= hi {
				t.Errorf("%s: PartialSizes = [%d, %d), not holding %d", c.name, lo, hi, c.size)
			}
		}
	}
}

// NewTiles over consecutive sizes covers every tile of each tree,
// partial ones included.
func TestNewTilesCoverEveryTree(t *testing.T) {
	have := map[tlog.Tile]bool{}
	sizes := []int64{1, 7, 256, 300, 511, 512, 700, 65537}
	var prev int64
	for _, s := range sizes {
		for _, tl := range NewTiles(prev, s) {
			if !OfTree(tl, s) {
				t.Fatalf("NewTiles(%d, %d) gave %s, not of the tree", prev, s, TilePath(tl))
			}
			have[tl] = true
		}
		for _, tl := range NewTiles(0, s) {
			if !have[tl] {
				t.Fatalf("tile %s of the tree of %d missing", TilePath(tl), s)
			}
		}
		prev = s
	}
}

func TestSignerOrigin(t *testing.T) {
	for _, bad := range []string{"", "two words", "a+b", "tab\there", "x\u202e", strings.Repeat("a", 256)} {
		if CheckOrigin(bad) == nil {
			t.Errorf("CheckOrigin(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"consentgate/eu-prod", "log.example.com/consent", DefaultOrigin()} {
		if err := CheckOrigin(good); err != nil {
			t.Errorf("CheckOrigin(%q): %v", good, err)
		}
	}
	if DefaultOrigin() == DefaultOrigin() {
		t.Error("two default origins are the same")
	}
	dir := t.TempDir()
	s, err := LoadSigner(dir, "")
	if err != nil || !strings.HasPrefix(s.Origin, "consentgate/") {
		t.Fatalf("LoadSigner: %v %+v", err, s)
	}
	again, err := LoadSigner(dir, s.Origin)
	if err != nil || again.Verifier != s.Verifier {
		t.Fatalf("reopened with its own origin: %v", err)
	}
	if _, err := LoadSigner(dir, "consentgate/other"); !errors.Is(err, ErrOriginMismatch) {
		t.Fatalf("another origin: %v", err)
	}
	if o, err := KeyOrigin(s.Verifier); err != nil || o != s.Origin {
		t.Fatalf("KeyOrigin: %q %v", o, err)
	}
	// A key file written before origins were chosen reads as it was.
	old := t.TempDir()
	skey, vkey, _ := note.GenerateKey(nil, "consentgate/vm")
	os.WriteFile(filepath.Join(old, SigningKeyFile), []byte(skey+"\n"), 0o600)
	if s, err := LoadSigner(old, ""); err != nil || s.Origin != "consentgate/vm" || s.Verifier != vkey {
		t.Fatalf("an old key: %v %+v", err, s)
	}
}
