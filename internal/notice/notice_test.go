package notice

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TestTreeIsRFC6962: for every size up to 70, the rebuilt tree's root is
// the one an independent compact range computes from the same leaves, and
// every record's proof verifies with the merkle library.
func TestTreeIsRFC6962(t *testing.T) {
	for n := 1; n <= 70; n++ {
		var out strings.Builder
		var ids [][]byte
		rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
		r := rf.NewEmptyRange(0)
		for i := 0; i < n; i++ {
			line := fmt.Sprintf(`{"id":"r%d","text":"line %d"}`, i, i)
			out.WriteString(line + "\n")
			ids = append(ids, []byte(fmt.Sprintf("r%d", i)))
			sum := sha256Of(line)
			r.Append(rfc6962.DefaultHasher.HashLeaf(append(append([]byte(fmt.Sprintf("r%d", i)), 0), sum...)), nil)
		}
		tree, err := NewTree(strings.NewReader(out.String()), ids)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := r.GetRootHash(nil)
		if tree.Root() != hex.EncodeToString(want) {
			t.Fatalf("size %d: root %s, want %x", n, tree.Root(), want)
		}
		for i := int64(0); i < int64(n); i++ {
			rec, err := tree.Record(i, Withdrawal)
			if err != nil {
				t.Fatal(err)
			}
			sum, _ := hex.DecodeString(rec.LineSHA256)
			path := make([][]byte, len(rec.Proof))
			for k, h := range rec.Proof {
				path[k], _ = hex.DecodeString(h)
			}
			leaf := rfc6962.DefaultHasher.HashLeaf(append(append([]byte(rec.ID), 0), sum...))
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), leaf, path, want); err != nil {
				t.Fatalf("size %d, record %d: %v", n, i, err)
			}
		}
	}
}

// TestTreeRefusesAnOutputThatDoesNotFit: more or fewer lines than the
// export included are refused.
func TestTreeRefusesAnOutputThatDoesNotFit(t *testing.T) {
	if _, err := NewTree(strings.NewReader("a\nb\n"), [][]byte{[]byte("x")}); err == nil || !strings.Contains(err.Error(), "more lines") {
		t.Errorf("two lines for one record: %v", err)
	}
	if _, err := NewTree(strings.NewReader("a\n"), [][]byte{[]byte("x"), []byte("y")}); err == nil || !strings.Contains(err.Error(), "has 1 line, the export included 2 records") {
		t.Errorf("one line for two records: %v", err)
	}
}

func sha256Of(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
