package translog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The tree is stored as C2SP tlog-tiles are laid out: the leaves (whose
// hashes are the level-0 tile entries) and the hashes of the complete
// subtrees of 2^8, 2^16, 2^24 … leaves (the entries of the tiles of level 1,
// 2, 3 …). Any other node is folded from at most 256 of those, so the
// storage is a few bytes per leaf beyond the leaf itself, appends are
// O(1) amortised, and a proof reads a few hundred hashes.
const tileHeight = 8

// tileWidth is the number of hashes in a full tile.
const tileWidth = 1 << tileHeight

// Reader reads a stored log.
type Reader interface {
	// LogSize returns the number of leaves.
	LogSize(ctx context.Context) (int64, error)
	// LogLeaves calls fn for the leaves with index in [from, to), in order.
	LogLeaves(ctx context.Context, from, to int64, fn func(index int64, data []byte) error) error
	// LogNodes returns the stored hashes of tile level tl (tree level
	// 8·tl) with index in [from, to), in order.
	LogNodes(ctx context.Context, tl int, from, to int64) ([][]byte, error)
}

// Writer is a Reader inside a store's write transaction that can also add
// leaves and node hashes.
type Writer interface {
	Reader
	// InsertLeaves stores leaves at indexes first, first+1, ….
	InsertLeaves(ctx context.Context, first int64, data [][]byte) error
	// InsertNode stores the hash at tile level tl, index i.
	InsertNode(ctx context.Context, tl int, i int64, hash []byte) error
}

// LeafHash is the RFC 6962 hash of a leaf.
func LeafHash(data []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(data) }

// Append adds leaves at the end of the log and stores the node hashes they
// complete, returning the index of the first. The caller holds the store's
// write transaction (and, where writers run at once, the log's lock).
func Append(ctx context.Context, w Writer, leaves [][]byte) (int64, error) {
	return AppendPrepared(ctx, w, leaves, nil)
}

// Prepared is the hashing work of an append done ahead (on another core,
// while the rows are written): the leaves' hashes and the complete level-1
// nodes they make, assuming the log's size is First.
type Prepared struct {
	First int64
	nodes map[int64][]byte // level-1 nodes wholly within the leaves
}

// Prepare hashes leaves to be appended at first.
func Prepare(first int64, leaves [][]byte) *Prepared {
	p := &Prepared{First: first, nodes: map[int64][]byte{}}
	start := (first + tileWidth - 1) / tileWidth * tileWidth // the first tile boundary
	hs := make([][]byte, 0, tileWidth)
	for from := start; from+tileWidth <= first+int64(len(leaves)); from += tileWidth {
		hs = hs[:0]
		for _, d := range leaves[from-first : from-first+tileWidth] {
			hs = append(hs, LeafHash(d))
		}
		p.nodes[from/tileWidth] = fold(hs)
	}
	return p
}

// AppendPrepared is Append with the hashing done ahead by Prepare (nil, or
// prepared for another size, and it is done here).
func AppendPrepared(ctx context.Context, w Writer, leaves [][]byte, pre *Prepared) (int64, error) {
	if len(leaves) == 0 {
		return 0, nil
	}
	size, err := w.LogSize(ctx)
	if err != nil {
		return 0, err
	}
	if pre != nil && pre.First != size {
		pre = nil
	}
	if err := w.InsertLeaves(ctx, size, leaves); err != nil {
		return 0, err
	}
	end := size + int64(len(leaves))
	// Complete the nodes of each tile level whose last child was added.
	lo, hi := size, end // range of indexes added at the level below
	for tl := 1; ; tl++ {
		first, last := lo/tileWidth, hi/tileWidth // nodes [first, last) of level tl become complete
		if first == last {
			break
		}
		for i := first; i < last; i++ {
			if tl == 1 && pre != nil && pre.nodes[i] != nil {
				if err := w.InsertNode(ctx, tl, i, pre.nodes[i]); err != nil {
					return 0, err
				}
				continue
			}
			var hashes [][]byte
			if tl == 1 {
				from := i * tileWidth
				if from >= size {
					for _, d := range leaves[from-size : from-size+tileWidth] {
						hashes = append(hashes, LeafHash(d))
					}
				} else if hashes, err = leafHashes(ctx, w, from, from+tileWidth); err != nil {
					return 0, err
				}
			} else if hashes, err = w.LogNodes(ctx, tl-1, i*tileWidth, (i+1)*tileWidth); err != nil {
				return 0, err
			}
			if len(hashes) != tileWidth {
				return 0, fmt.Errorf("log: %d of %d hashes under node %d/%d", len(hashes), tileWidth, tl, i)
			}
			if err := w.InsertNode(ctx, tl, i, fold(hashes)); err != nil {
				return 0, err
			}
		}
		lo, hi = first, last
	}
	return size, nil
}

// fold hashes a perfect subtree from its 2^k bottom hashes.
func fold(hs [][]byte) []byte {
	hs = append([][]byte(nil), hs...)
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = rfc6962.DefaultHasher.HashChildren(hs[2*i], hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0]
}

func leafHashes(ctx context.Context, r Reader, from, to int64) ([][]byte, error) {
	out := make([][]byte, 0, to-from)
	err := r.LogLeaves(ctx, from, to, func(_ int64, d []byte) error {
		out = append(out, LeafHash(d))
		return nil
	})
	if err == nil && int64(len(out)) != to-from {
		err = fmt.Errorf("log: leaves %d..%d: found %d", from, to, len(out))
	}
	return out, err
}

// hashes reads the hashes of tile level tl, indexes [from, to).
func hashes(ctx context.Context, r Reader, tl int, from, to int64) ([][]byte, error) {
	if tl == 0 {
		return leafHashes(ctx, r, from, to)
	}
	hs, err := r.LogNodes(ctx, tl, from, to)
	if err == nil && int64(len(hs)) != to-from {
		err = fmt.Errorf("log: nodes %d/%d..%d: found %d", tl, from, to, len(hs))
	}
	return hs, err
}

// nodeHash returns the hash of the perfect subtree id, folding it from the
// stored hashes of the tile level below it.
func nodeHash(ctx context.Context, r Reader, id compact.NodeID) ([]byte, error) {
	tl := int(id.Level) / tileHeight
	k := id.Level - uint(tl*tileHeight) // levels above the stored ones
	from := int64(id.Index << k)
	hs, err := hashes(ctx, r, tl, from, from+int64(1)<<k)
	if err != nil {
		return nil, err
	}
	return fold(hs), nil
}

// Root returns the RFC 6962 root of the first size leaves.
func Root(ctx context.Context, r Reader, size int64) ([]byte, error) {
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, uint64(size), nil)
	hs := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := nodeHash(ctx, r, id)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	root := hs[len(hs)-1]
	for i := len(hs) - 2; i >= 0; i-- {
		root = rfc6962.DefaultHasher.HashChildren(hs[i], root)
	}
	return root, nil
}

// ErrRange: an index or size outside the log.
var ErrRange = errors.New("outside the log")

// InclusionProof returns the proof that leaf index is in the tree of size
// leaves, as RFC 6962 §2.1.1 defines it.
func InclusionProof(ctx context.Context, r Reader, index, size int64) ([][]byte, error) {
	if index < 0 || index >= size {
		return nil, fmt.Errorf("index %d in a tree of %d: %w", index, size, ErrRange)
	}
	ns, err := proof.Inclusion(uint64(index), uint64(size))
	if err != nil {
		return nil, err
	}
	return fetch(ctx, r, ns)
}

// ConsistencyProof returns the proof that the tree of size1 leaves is a
// prefix of the tree of size2, as RFC 6962 §2.1.2 defines it.
func ConsistencyProof(ctx context.Context, r Reader, size1, size2 int64) ([][]byte, error) {
	if size1 < 0 || size1 > size2 {
		return nil, fmt.Errorf("sizes %d and %d: %w", size1, size2, ErrRange)
	}
	ns, err := proof.Consistency(uint64(size1), uint64(size2))
	if err != nil {
		return nil, err
	}
	return fetch(ctx, r, ns)
}

func fetch(ctx context.Context, r Reader, ns proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, len(ns.IDs))
	for i, id := range ns.IDs {
		h, err := nodeHash(ctx, r, id)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return ns.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
}

// Leaves are stored 256 to a row, as C2SP tlog-tiles entry bundles: each
// leaf a big-endian uint16 length and its bytes. Row i holds leaves
// 256·i … 256·i+n-1; only the last row is ever partial, and an append
// rewrites it. One row per 256 leaves keeps the log's cost in a write
// transaction small beside the rows it records.

// BundleStore is how a store keeps the leaf bundles.
type BundleStore interface {
	// Bundles calls fn for the bundles with index in [from, to), in order.
	Bundles(ctx context.Context, from, to int64, fn func(i int64, n int, data []byte) error) error
	// LastBundle returns the last bundle's index and leaf count (-1, 0
	// when there is none).
	LastBundle(ctx context.Context) (int64, int, error)
	// PutBundle stores bundle i, replacing it if it exists.
	PutBundle(ctx context.Context, i int64, n int, data []byte) error
}

// BundledSize returns the log's size.
func BundledSize(ctx context.Context, bs BundleStore) (int64, error) {
	i, n, err := bs.LastBundle(ctx)
	if err != nil || i < 0 {
		return 0, err
	}
	return i*tileWidth + int64(n), nil
}

// BundledLeaves calls fn for the leaves with index in [from, to).
func BundledLeaves(ctx context.Context, bs BundleStore, from, to int64, fn func(int64, []byte) error) error {
	if from >= to {
		return nil
	}
	return bs.Bundles(ctx, from/tileWidth, (to-1)/tileWidth+1, func(b int64, n int, data []byte) error {
		leaves, err := SplitBundle(data)
		if err != nil || len(leaves) != n {
			return fmt.Errorf("log: bundle %d: %w", b, ErrBadLeaf)
		}
		for k, l := range leaves {
			if i := b*tileWidth + int64(k); i >= from && i < to {
				if err := fn(i, l); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// BundleLeaves stores leaves at first, first+1, … (first is the log's size).
func BundleLeaves(ctx context.Context, bs BundleStore, first int64, leaves [][]byte) error {
	b := first / tileWidth
	var data []byte
	n := int(first % tileWidth)
	if n > 0 {
		err := bs.Bundles(ctx, b, b+1, func(_ int64, m int, d []byte) error {
			if m != n {
				return fmt.Errorf("log: bundle %d holds %d leaves, expected %d", b, m, n)
			}
			data = append(data, d...)
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, l := range leaves {
		if len(l) > 0xffff {
			return fmt.Errorf("log: a leaf of %d bytes", len(l))
		}
		data = binary.BigEndian.AppendUint16(data, uint16(len(l)))
		data = append(data, l...)
		if n++; n == tileWidth {
			if err := bs.PutBundle(ctx, b, n, data); err != nil {
				return err
			}
			b, n, data = b+1, 0, nil // a store may keep the slice until it sends
		}
	}
	if n > 0 {
		return bs.PutBundle(ctx, b, n, data)
	}
	return nil
}

// SplitBundle parses an entry bundle.
func SplitBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, ErrBadLeaf
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, ErrBadLeaf
		}
		out = append(out, data[2:2+n:2+n])
		data = data[2+n:]
	}
	return out, nil
}
