package sqlite

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/translog"
)

// appendLeaves appends n random 75-byte leaves (the size of a consent
// leaf) in transactions of batch leaves.
func appendLeaves(tb testing.TB, s *DB, n, batch int) {
	ctx := context.Background()
	buf := make([]byte, 75*batch)
	for done := 0; done < n; done += batch {
		rand.Read(buf)
		leaves := make([][]byte, min(batch, n-done))
		for i := range leaves {
			leaves[i] = buf[75*i : 75*(i+1)]
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := appendLog(ctx, tx, leaves); err != nil {
			tb.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLogAppend: leaves appended per second, 10,000 to a transaction
// (as an import appends them), tiles' node hashes included.
func BenchmarkLogAppend(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 200_000
	for b.Loop() {
		appendLeaves(b, s, n, 10_000)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
}

// BenchmarkLogProofs: an inclusion and a consistency proof in a log of a
// million leaves, read from the store.
func BenchmarkLogProofs(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 1_000_000
	appendLeaves(b, s, n, 50_000)
	root, err := translog.Root(ctx, s, n)
	if err != nil {
		b.Fatal(err)
	}
	var leaf []byte
	s.LogLeaves(ctx, 123_457, 123_458, func(_ int64, d []byte) error { leaf = append([]byte(nil), d...); return nil })
	b.Run("inclusion", func(b *testing.B) {
		for b.Loop() {
			p, err := translog.InclusionProof(ctx, s, 123_457, n)
			if err != nil {
				b.Fatal(err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 123_457, n, rfc6962.DefaultHasher.HashLeaf(leaf), p, root); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency", func(b *testing.B) {
		for b.Loop() {
			if _, err := translog.ConsistencyProof(ctx, s, 654_321, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("root", func(b *testing.B) {
		for b.Loop() {
			if _, err := translog.Root(ctx, s, n-3); err != nil {
				b.Fatal(err)
			}
		}
	})
}
