package translog

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The keys of many subjects read in one ordered scan are those read one
// statement per batch: ids of every kind (non-ASCII ones sort bytewise),
// an erased subject's tombstone, subjects with no key, an id asked twice.
func TestSubjectKeysScanMatchesLookups(t *testing.T) {
	ctx := context.Background()
	ks, err := OpenKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	var ids []string
	for i := range 3 * scanAtLeast {
		ids = append(ids, fmt.Sprintf("m%07d", i*7%(3*scanAtLeast)), fmt.Sprintf("é-%d", i), fmt.Sprintf("Z%d\u00a0x", i))
	}
	if _, err := ks.SubjectKeys(ctx, ids, true); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{ids[5], ids[100]} {
		if _, err := ks.Erase(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	want := append(slices.Clone(ids[:len(ids)/2]), "nobody", "~last", "", ids[3])
	if !worthScanning(ctx, ks.db, len(want)) {
		t.Fatal("the scan is not chosen for half of a table")
	}
	scanned := map[string][]byte{}
	if err := scanKeys(ctx, ks.db, want, scanned); err != nil {
		t.Fatal(err)
	}
	looked := map[string][]byte{}
	for start := 0; start < len(want); start += 1000 { // below scanAtLeast: lookups
		if err := ks.lookup(ctx, ks.db, want[start:min(start+1000, len(want))], looked); err != nil {
			t.Fatal(err)
		}
	}
	parallel := map[string][]byte{}
	if err := lookupParallel(ctx, ks.db, want, parallel); err != nil {
		t.Fatal(err)
	}
	if len(scanned) != len(looked) || len(parallel) != len(looked) || len(looked) != len(ids)/2-2 {
		t.Fatalf("scanned %d keys, looked up %d, on connections at once %d, want %d", len(scanned), len(looked), len(parallel), len(ids)/2-2)
	}
	for s, k := range looked {
		if !bytes.Equal(scanned[s], k) || !bytes.Equal(parallel[s], k) {
			t.Fatalf("%q: scanned key %x, looked up %x, at once %x", s, scanned[s], k, parallel[s])
		}
	}
	if worthScanning(ctx, ks.db, 10) {
		t.Fatal("the scan is chosen for 10 subjects of thousands")
	}
}

// The subjects tree's leaves and root, computed in parts at once, are
// those computed one by one.
func TestSubjectsTreeParallel(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 20_001} {
		ids := make([]string, n)
		keys := map[string][]byte{}
		for i := range ids {
			ids[i] = fmt.Sprintf("s%d", i)
			keys[ids[i]] = bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 16)
		}
		leaves := make([][32]byte, n)
		for i, id := range ids {
			leaves[i] = Pseudonym(ExportSalt(keys[id], "e1"), []byte(id))
		}
		slices.SortFunc(leaves, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
		want := rfc6962.DefaultHasher.EmptyRoot()
		if n > 0 {
			rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
			r := rf.NewEmptyRange(0)
			for i := range leaves {
				r.Append(rfc6962.DefaultHasher.HashLeaf(leaves[i][:]), nil)
			}
			want, _ = r.GetRootHash(nil)
		}
		tree := NewSubjectsTree("e1", ids, keys)
		if !slices.Equal(tree.Leaves, leaves) {
			t.Fatalf("n=%d: leaves differ", n)
		}
		if got := tree.Root(); !bytes.Equal(got, want) {
			t.Fatalf("n=%d: root %x, want %x", n, got, want)
		}
	}
}
