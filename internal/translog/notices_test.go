package translog

import (
	"bytes"
	"testing"

	"github.com/consentgate/consentgate/internal/store"
)

// TestNoticeKindsDecode: the leaves of notices, answers and lineage links
// decode as their kinds, naming their rows, and encode to the same bytes.
func TestNoticeKindsDecode(t *testing.T) {
	nl, err := NoticeBodyLeaf([]byte(`{"id":"e1.n1","export_id":"e1","recipient":"r","issued_at":"1970-01-01T00:00:00.001Z","records":[],"log_index":7}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		leaf []byte
		kind Kind
		ref  string
	}{
		{nl, KindNotice, "e1.n1"},
		{AnswerLeaf(&store.NoticeAnswer{Seq: 3, NoticeID: "e1.n1", Status: "deleted", By: "recipient:r", At: 9}), KindAnswer, "3"},
		{LineageLeaf(&store.LineageRun{Seq: 4, ExportID: "e1", Namespace: "ml", Job: "train", RunID: "run-1", At: 9, Producer: "p"}), KindLineage, "4"},
	} {
		l, err := DecodeLeaf(c.leaf)
		if err != nil || l.Kind != c.kind || l.Ref != c.ref {
			t.Fatalf("%s leaf: %+v %v", c.kind, l, err)
		}
		if again := l.Encode(nil); !bytes.Equal(again, c.leaf) {
			t.Fatalf("%s leaf re-encodes otherwise", c.kind)
		}
	}
	if _, err := DecodeLeaf([]byte{leafVersion, byte(KindLineage + 1), 1, 'x'}); err == nil {
		t.Fatal("a leaf of an unknown kind decodes")
	}
}

// TestStoredNoticeLeaf: a finished notice gives the leaf of the notice as
// it was before its log index and signature were added, when its columns
// say what its body says and its body carries the index it is stored at.
func TestStoredNoticeLeaf(t *testing.T) {
	const base = `{"id":"e1.n1","export_id":"e1","recipient":"r","issued_at":"1970-01-01T00:00:00.001Z","deadline":"1970-01-01T00:00:00.002Z","records":[]`
	before, err := NoticeBodyLeaf([]byte(base + `}`))
	if err != nil {
		t.Fatal(err)
	}
	n := store.Notice{ID: "e1.n1", ExportID: "e1", Recipient: "r", IssuedAt: 1000, Deadline: 2000, Body: []byte(base + `,"log_index":7,"signature":"c2ln"}`)}
	if got, err := StoredNoticeLeaf(&n, 7); err != nil || !bytes.Equal(got, before) {
		t.Fatalf("the finished notice's leaf: %x %v, before %x", got, err, before)
	}
	if _, err := StoredNoticeLeaf(&n, 8); err == nil {
		t.Fatal("a body carrying another index")
	}
	for _, edit := range []func(*store.Notice){
		func(n *store.Notice) { n.Recipient = "s" },
		func(n *store.Notice) { n.ExportID = "e2" },
		func(n *store.Notice) { n.ID = "e1.n2" },
		func(n *store.Notice) { n.IssuedAt++ },
		func(n *store.Notice) { n.Deadline = 0 },
		func(n *store.Notice) { n.Body = []byte(base + `}`) }, // no index
	} {
		m := n
		edit(&m)
		if _, err := StoredNoticeLeaf(&m, 7); err == nil {
			t.Fatalf("%+v: accepted", m)
		}
	}
}
