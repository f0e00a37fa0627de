package translog

import (
	"bytes"
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/consentgate/consentgate/internal/store"
)

// FuzzDecodeLeaf: stored leaf bytes decode or are refused, never panic,
// and a leaf that decodes encodes to the same bytes (what verification
// compares). Seeded with a leaf of every kind.
func FuzzDecodeLeaf(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	f.Add(ConsentLeaf(nil, key, &store.ConsentRow{Seq: 3, Subject: []byte("ana"), Purpose: []byte("p"), State: 2, At: 5, Source: []byte("api")}))
	f.Add(SubjectLeaf(nil, key, &store.SubjectRow{Seq: 1, Subject: []byte("ana"), RegionSet: true, Region: []byte("DE"), Attrs: []byte(`{"tier":"premium"}`)}, []string{"tier"}))
	f.Add(PolicyLeaf(&store.Policy{Version: "v1", Source: []byte("x"), Digest: "d", Forced: true}))
	m, _ := ManifestLeaf("exp-1", []byte(`{"export_id":"exp-1"}`))
	f.Add(m)
	f.Add(ImpactLeaf(key, 4, &store.ImpactMark{ExportID: "exp-1", Subject: "ana", Status: "notified"}))
	f.Add(ExportLeaf("exp-1", "complete", make([]byte, 32), true))
	f.Add(ErasureLeaf(1, []byte("ana"), 9, key, key))
	f.Add(CheckpointLeaf(12, []byte("note")))
	nl, _ := NoticeBodyLeaf([]byte(`{"id":"exp-1.n1","export_id":"exp-1","recipient":"r","records":[]}`))
	f.Add(nl)
	f.Add(AnswerLeaf(&store.NoticeAnswer{Seq: 2, NoticeID: "exp-1.n1", Status: "deleted", By: "operator", At: 3}))
	f.Add(LineageLeaf(&store.LineageRun{Seq: 5, ExportID: "exp-1", Namespace: "ml", Job: "train", RunID: "r1", At: 4, Producer: "p"}))
	f.Add([]byte{1, 6, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLeaf(b)
		if err != nil {
			return
		}
		if got := l.Encode(nil); !bytes.Equal(got, b) {
			t.Fatalf("decoded %+v, encodes to %x, was %x", l, got, b)
		}
	})
}

// FuzzOpenCheckpoint: a checkpoint note opens only when signed by the
// key, never panics, and what opens is what was signed.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "consentgate/fuzz")
	s, err := newSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	signed, _ := s.Sign(7, bytes.Repeat([]byte{1}, 32))
	f.Add(signed)
	f.Add([]byte("consentgate/fuzz\n7\nAAAA\n\n— consentgate/fuzz x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := OpenCheckpoint(b, vkey)
		if err != nil {
			return
		}
		n, err := note.Open(b, note.VerifierList(mustVerifier(t, vkey)))
		if err != nil || n.Text != cp.Body() {
			t.Fatalf("opened %+v from a note whose text is %q (%v)", cp, n.Text, err)
		}
	})
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
