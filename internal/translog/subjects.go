package translog

import (
	"bytes"
	"context"
	"encoding/binary"
	"runtime"
	"slices"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/store"
)

// SubjectsTree is an export's subjects_root tree (SPEC §5): the included
// subjects' pseudonyms for the export, SHA-256(ExportSalt(key, export id)
// ‖ subject id), sorted; each pseudonym is a leaf.
type SubjectsTree struct {
	Leaves [][32]byte
}

// NewSubjectsTree builds the tree of an export's included subjects from
// their keys.
func NewSubjectsTree(exportID string, ids []string, keys map[string][]byte) *SubjectsTree {
	t := &SubjectsTree{Leaves: make([][32]byte, len(ids))}
	parallel(len(ids), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t.Leaves[i] = Pseudonym(ExportSalt(keys[ids[i]], exportID), []byte(ids[i]))
		}
	})
	slices.SortFunc(t.Leaves, compareLeaves)
	return t
}

// compareLeaves orders pseudonyms bytewise, by their first eight bytes
// first (as bytes.Compare does, without its call for most pairs).
func compareLeaves(a, b [32]byte) int {
	x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if x != y {
		if x < y {
			return -1
		}
		return 1
	}
	return bytes.Compare(a[8:], b[8:])
}

// parallel runs fn over [0, n) in a few contiguous parts at once (one per
// CPU), when n is large enough to be worth it.
func parallel(n int, fn func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/4096)
	if parts <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(p*n/parts, (p+1)*n/parts)
		}()
	}
	wg.Wait()
}

// Root is the RFC 6962 root (the empty tree's for no subjects).
func (t *SubjectsTree) Root() []byte {
	if len(t.Leaves) == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	// The leaf hashes at once, then the tree over them.
	hashes := make([][]byte, len(t.Leaves))
	parallel(len(t.Leaves), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			hashes[i] = rfc6962.DefaultHasher.HashLeaf(t.Leaves[i][:])
		}
	})
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, h := range hashes {
		r.Append(h, nil)
	}
	root, _ := r.GetRootHash(nil)
	return root
}

// Prove returns the index of a pseudonym in the tree and its inclusion
// proof, false when it is not in the tree.
func (t *SubjectsTree) Prove(p [32]byte) (int, [][]byte, bool) {
	i, found := slices.BinarySearchFunc(t.Leaves, p, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	if !found {
		return 0, nil, false
	}
	ns, err := proof.Inclusion(uint64(i), uint64(len(t.Leaves)))
	if err != nil {
		return 0, nil, false
	}
	hs := make([][]byte, len(ns.IDs))
	for k, id := range ns.IDs {
		lo, hi := id.Coverage() // a perfect subtree within the tree
		leaves := make([][]byte, 0, hi-lo)
		for j := lo; j < hi; j++ {
			leaves = append(leaves, rfc6962.DefaultHasher.HashLeaf(t.Leaves[j][:]))
		}
		hs[k] = fold(leaves)
	}
	out, err := ns.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
	return i, out, err == nil
}

// ExportSubjectsTree rebuilds an export's subjects_root tree from the
// subject set the store keeps for it (SPEC §5): the subjects by their
// numbers, their keys, their pseudonyms. It returns nil when it cannot be
// rebuilt — a subject without subject events, or whose key was erased.
func ExportSubjectsTree(ctx context.Context, st store.Store, keys store.Keys, e *store.Export) (*SubjectsTree, error) {
	if len(e.Subjects) == 0 {
		return nil, nil
	}
	set, err := inclusion.DecodeSubjects(e.Subjects)
	if err != nil {
		return nil, err
	}
	byNumber, err := st.SubjectsByNumber(ctx, set.Numbers)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(set.Numbers))
	for _, n := range set.Numbers {
		id, ok := byNumber[n]
		if !ok {
			return nil, nil
		}
		ids = append(ids, id)
	}
	ks, err := keys.SubjectKeys(ctx, ids, false)
	if err != nil || len(ks) != len(ids) {
		return nil, err
	}
	return NewSubjectsTree(e.ID, ids, ks), nil
}
