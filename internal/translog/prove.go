package translog

import (
	"bytes"
	"context"
)

// InclusionEvidence is a leaf and its RFC 6962 inclusion proof in the tree
// of Size leaves: what a third party checks (byte fields are base64 in
// JSON).
type InclusionEvidence struct {
	Index      int64    `json:"index"`
	Size       int64    `json:"size"`
	Leaf       []byte   `json:"leaf"`
	LeafHash   []byte   `json:"leaf_hash"`
	Root       []byte   `json:"root"`
	Proof      [][]byte `json:"proof"`
	Checkpoint string   `json:"checkpoint,omitempty"` // the signed checkpoint of Size, when one is kept
}

// ProveInclusion gathers the evidence that leaf index is in the tree of
// size leaves.
func ProveInclusion(ctx context.Context, r Reader, index, size int64) (*InclusionEvidence, error) {
	p, err := InclusionProof(ctx, r, index, size)
	if err != nil {
		return nil, err
	}
	e := &InclusionEvidence{Index: index, Size: size, Proof: p}
	if err := r.LogLeaves(ctx, index, index+1, func(_ int64, d []byte) error { e.Leaf = bytes.Clone(d); return nil }); err != nil {
		return nil, err
	}
	e.LeafHash = LeafHash(e.Leaf)
	if e.Root, err = Root(ctx, r, size); err != nil {
		return nil, err
	}
	return e, nil
}

// ConsistencyEvidence is the RFC 6962 consistency proof between two tree
// sizes, with both roots.
type ConsistencyEvidence struct {
	From     int64    `json:"from"`
	To       int64    `json:"to"`
	FromRoot []byte   `json:"from_root"`
	ToRoot   []byte   `json:"to_root"`
	Proof    [][]byte `json:"proof"`
}

// ProveConsistency gathers the evidence that the tree of from leaves is a
// prefix of the tree of to leaves.
func ProveConsistency(ctx context.Context, r Reader, from, to int64) (*ConsistencyEvidence, error) {
	p, err := ConsistencyProof(ctx, r, from, to)
	if err != nil {
		return nil, err
	}
	e := &ConsistencyEvidence{From: from, To: to, Proof: p}
	if e.FromRoot, err = Root(ctx, r, from); err != nil {
		return nil, err
	}
	if e.ToRoot, err = Root(ctx, r, to); err != nil {
		return nil, err
	}
	return e, nil
}
