package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// testLog: every write appends its leaves; the tree, proofs and
// checkpoints check with the merkle library's own verifiers; Verify passes.
func testLog(t *testing.T, s store.Store, keys *translog.KeyStore) {
	ctx := context.Background()
	want := 0
	if _, err := s.PublishPolicy(ctx, store.Policy{Version: "v1", Source: []byte("a"), Digest: "d1", PublishedAt: 1}); err != nil {
		t.Fatal(err)
	}
	want++
	s.PublishPolicy(ctx, store.Policy{Version: "v1", Source: []byte("a"), Digest: "d1", PublishedAt: 1}) // no-op: no leaf
	var subs []consent.SubjectEvent
	for i := range 300 {
		subs = append(subs, consent.SubjectEvent{Subject: fmt.Sprint("u", i%40), At: timestamp.Time(i), RegionSet: i%3 == 0, Region: "DE",
			Attributes: map[string]*string{"tier": str("premium")}})
	}
	if n, err := s.AddSubjectEvents(ctx, subs); err != nil || n != 300 {
		t.Fatalf("subjects: %d %v", n, err)
	}
	want += 300
	var evs []consent.Event
	for i := range 700 {
		evs = append(evs, consent.Event{Subject: fmt.Sprint("u", i%50), Purpose: "train", Recipient: "", State: policy.State(1 + i%2), At: timestamp.Time(i), Source: "settings"})
	}
	if n, err := s.AddConsentEvents(ctx, evs[:400]); err != nil || n != 400 {
		t.Fatalf("consent: %d %v", n, err)
	}
	// Half old, half new: the new rows are read back to be logged.
	if n, err := s.AddConsentEvents(ctx, evs[200:]); err != nil || n != 300 {
		t.Fatalf("consent: %d %v", n, err)
	}
	want += 700
	if err := s.LogExport(ctx, store.Export{ID: "e1", Purpose: "train", Recipient: "r", Manifest: []byte(`{"export_id":"e1"}`)},
		func(i int64) ([]byte, error) { return fmt.Appendf(nil, `{"export_id":"e1","log_index":%d}`, i), nil }); err != nil {
		t.Fatal(err)
	}
	want += 2 // the manifest, the export's state
	if _, err := s.AddImpactMark(ctx, store.ImpactMark{ExportID: "e1", Subject: "u3", Status: "notified", At: 5}); err != nil {
		t.Fatal(err)
	}
	want++
	size, err := s.LogSize(ctx)
	if err != nil || size != int64(want) {
		t.Fatalf("log size %d, want %d (%v)", size, want, err)
	}

	// Recompute the tree from the leaves with the library alone.
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	var leafHashes [][]byte
	roots := map[int64][]byte{}
	r := rf.NewEmptyRange(0)
	err = s.LogLeaves(ctx, 0, size, func(i int64, d []byte) error {
		h := rfc6962.DefaultHasher.HashLeaf(d)
		leafHashes = append(leafHashes, h)
		if err := r.Append(h, nil); err != nil {
			return err
		}
		roots[i+1], _ = r.GetRootHash(nil)
		return nil
	})
	if err != nil || int64(len(leafHashes)) != size {
		t.Fatalf("leaves: %d %v", len(leafHashes), err)
	}
	for _, n := range []int64{1, 2, 255, 256, 257, 512, 700, size} {
		root, err := translog.Root(ctx, s, n)
		if err != nil || string(root) != string(roots[n]) {
			t.Fatalf("root of %d: %x, library %x (%v)", n, root, roots[n], err)
		}
	}
	for _, c := range [][2]int64{{0, 1}, {5, 6}, {255, 256}, {256, 700}, {700, size}, {size - 1, size}, {3, 257}} {
		i, n := c[0], c[1]
		p, err := translog.InclusionProof(ctx, s, i, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), leafHashes[i], p, roots[n]); err != nil {
			t.Fatalf("inclusion of %d in %d: %v", i, n, err)
		}
		if i > 0 {
			p, err := translog.ConsistencyProof(ctx, s, i, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(i), uint64(n), p, roots[i], roots[n]); err != nil {
				t.Fatalf("consistency %d → %d: %v", i, n, err)
			}
		}
	}

	signer, err := translog.LoadSigner(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{256, size} {
		note, err := signer.Sign(n, roots[n])
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddCheckpoint(ctx, store.Checkpoint{Size: n, Note: note, At: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if cps, err := s.Checkpoints(ctx); err != nil || len(cps) != 2 || cps[1].Size != size {
		t.Fatalf("checkpoints %v %v", cps, err)
	}
	all, err := keys.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := translog.Verify(ctx, s, translog.KeyMap(all), signer.Verifier, nil)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Size != size || rep.Checkpoints != 2 || rep.Leaves["consent"] != 700 || rep.Leaves["subject"] != 300 || rep.Erased != 0 ||
		rep.Exports != 1 || rep.Unsigned != 0 {
		t.Fatalf("report %+v", rep)
	}
	// A key lost, the erasure not logged: a row whose subject has no key
	// does not verify.
	if ok, err := keys.Erase(ctx, "u7"); err != nil || !ok {
		t.Fatalf("erase: %v %v", ok, err)
	}
	all, _ = keys.All(ctx)
	if _, err := translog.Verify(ctx, s, translog.KeyMap(all), signer.Verifier, nil); err == nil || !strings.Contains(err.Error(), "never erased") {
		t.Fatalf("verify with a key gone and no erasure logged: %v", err)
	}
	// The erasure logged (the next append records the kept checkpoints
	// first): the log verifies, u7's entries counted, not re-derived.
	if err := s.AddErasure(ctx, "u7", 9); err != nil {
		t.Fatal(err)
	}
	if err := s.AddErasure(ctx, "u7", 10); err != nil {
		t.Fatal(err)
	}
	if er, err := s.Erasures(ctx); err != nil || len(er) != 1 || er[0].Subject != "u7" || len(er[0].Salt) != 32 {
		t.Fatalf("erasures %+v %v", er, err)
	}
	rep, err = translog.Verify(ctx, s, translog.KeyMap(all), signer.Verifier, nil)
	if err != nil || rep.Erased == 0 || rep.Erasures != 1 || rep.RecordedCheckpoints != 2 || rep.Unsigned != 3 {
		t.Fatalf("verify after erasure: %+v %v", rep, err)
	}
	// No key is made again for an erased subject.
	if _, err := keys.SubjectKeys(ctx, []string{"u7"}, true); !errors.Is(err, translog.ErrErased) {
		t.Fatalf("a key made again for an erased subject: %v", err)
	}
}
