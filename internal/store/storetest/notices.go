package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// noticeBody is a notice's signed JSON as far as the store and the log
// read it (notice.Notice's fields that matter here).
type noticeBody struct {
	ID        string          `json:"id"`
	ExportID  string          `json:"export_id"`
	Recipient string          `json:"recipient"`
	IssuedAt  timestamp.Time  `json:"issued_at"`
	Deadline  *timestamp.Time `json:"deadline,omitempty"`
	Records   []noticeRecord  `json:"records"`
	LogIndex  *int64          `json:"log_index,omitempty"`
	Signature *string         `json:"signature,omitempty"`
}

type noticeRecord struct {
	ID         string `json:"id"`
	LineSHA256 string `json:"line_sha256"`
	Index      int64  `json:"index"`
}

// newNotice is a notice as a sender hands it to AddNotice, and the finish
// that gives it its log index and a signature.
func newNotice(t *testing.T, id, export, recipient string, issued, deadline timestamp.Time) (store.Notice, func(int64) ([]byte, error)) {
	t.Helper()
	b := noticeBody{ID: id, ExportID: export, Recipient: recipient, IssuedAt: issued,
		Records: []noticeRecord{{ID: "post-1", LineSHA256: "aa01", Index: 0}, {ID: "post-7", LineSHA256: "bb07", Index: 6}}}
	if deadline != 0 {
		b.Deadline = &deadline
	}
	raw, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	n := store.Notice{ID: id, ExportID: export, Recipient: recipient, IssuedAt: issued, Deadline: deadline, Body: raw}
	return n, func(index int64) ([]byte, error) {
		f := b
		sig := "c2lnbmVk"
		f.LogIndex, f.Signature = &index, &sig
		return json.Marshal(&f)
	}
}

// logTestExport logs an export (its manifest and state: two leaves).
func logTestExport(t *testing.T, s store.Store, id, recipient string) {
	t.Helper()
	err := s.LogExport(context.Background(), store.Export{ID: id, Purpose: "train", Recipient: recipient, Manifest: fmt.Appendf(nil, `{"export_id":%q}`, id)},
		func(i int64) ([]byte, error) { return fmt.Appendf(nil, `{"export_id":%q,"log_index":%d}`, id, i), nil })
	if err != nil {
		t.Fatal(err)
	}
}

func logSize(t *testing.T, s store.Store) int64 {
	t.Helper()
	n, err := s.LogSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// verifyStore runs log verification with every subject key.
func verifyStore(t *testing.T, s store.Store, keys *translog.KeyStore) (*translog.Report, error) {
	t.Helper()
	all, err := keys.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return translog.Verify(context.Background(), s, translog.KeyMap(all), "", nil)
}

// testNotices: notices, their answers and lineage links are stored with
// one leaf each, in the transaction that stores them; a sender building on
// a stale latest notice, an answer to no notice and a link to no export
// store nothing and append nothing; the outbox lists a recipient's notices
// in order; the log verifies.
func testNotices(t *testing.T, s store.Store, keys *translog.KeyStore) {
	ctx := context.Background()
	logTestExport(t, s, "e1", "partner-x")
	logTestExport(t, s, "e2", "partner-y")
	size := logSize(t, s)
	grew := func(by int64, what string) {
		t.Helper()
		if now := logSize(t, s); now != size+by {
			t.Fatalf("%s: the log has %d leaves, want %d", what, now, size+by)
		}
		size += by
	}

	// Notices.
	n1, f1 := newNotice(t, "e1.n1", "e1", "partner-x", 1_000, 0)
	var index1 int64 = -1
	seq1, err := s.AddNotice(ctx, n1, 0, func(i int64) ([]byte, error) { index1 = i; return f1(i) })
	if err != nil {
		t.Fatal(err)
	}
	if index1 != size {
		t.Fatalf("finish was given index %d, the log had %d leaves", index1, size)
	}
	grew(1, "a notice")
	n2, f2 := newNotice(t, "e1.n2", "e1", "partner-x", 2_000, 9_000)
	if _, err := s.AddNotice(ctx, n2, 0, f2); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a notice built on no notice, with one stored since: %v", err)
	}
	grew(0, "a notice refused")
	seq2, err := s.AddNotice(ctx, n2, seq1, f2)
	if err != nil || seq2 <= seq1 {
		t.Fatalf("the export's second notice: %d %v", seq2, err)
	}
	grew(1, "a notice")
	if _, err := s.AddNotice(ctx, n2, seq2, f2); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a notice id stored again: %v", err)
	}
	n3, f3 := newNotice(t, "e2.n1", "e2", "partner-y", 3_000, 0)
	seq3, err := s.AddNotice(ctx, n3, 0, f3)
	if err != nil || seq3 <= seq2 {
		t.Fatalf("another export's first notice: %d %v", seq3, err)
	}
	grew(1, "a notice")
	nx, fx := newNotice(t, "nx.n1", "nx", "partner-x", 3_000, 0)
	if _, err := s.AddNotice(ctx, nx, 0, fx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a notice about no export: %v", err)
	}
	bad, fb := newNotice(t, "e2.n2", "e2", "partner-y", 4_000, 0)
	bad.Recipient = "partner-z" // the column says otherwise than the body
	if _, err := s.AddNotice(ctx, bad, seq3, fb); err == nil {
		t.Fatal("a notice whose columns disagree with its body was stored")
	}
	bad.Recipient = "partner-y"
	if _, err := s.AddNotice(ctx, bad, seq3, func(int64) ([]byte, error) { return []byte(`{"id":"e2.n2","export_id":"e2"}`), nil }); err == nil {
		t.Fatal("a finished body other than the notice logged was stored")
	}
	if _, err := s.AddNotice(ctx, bad, seq3, func(i int64) ([]byte, error) { return f2(i) }); err == nil {
		t.Fatal("a finished body of another notice was stored")
	}
	if _, err := s.AddNotice(ctx, bad, seq3, func(i int64) ([]byte, error) { return fb(i + 1) }); err == nil {
		t.Fatal("a finished body carrying another log index was stored")
	}
	grew(0, "notices refused")

	ns, err := s.Notices(ctx)
	if err != nil || len(ns) != 3 {
		t.Fatalf("notices %+v %v", ns, err)
	}
	want2, _ := f2(size - 2)
	if ns[0].Seq != seq1 || ns[1].Seq != seq2 || ns[2].Seq != seq3 || ns[1].ID != "e1.n2" || ns[1].ExportID != "e1" || ns[1].Recipient != "partner-x" ||
		ns[1].IssuedAt != 2_000 || ns[1].Deadline != 9_000 || ns[0].Deadline != 0 || !bytes.Equal(ns[1].Body, want2) {
		t.Fatalf("notices %+v", ns)
	}
	for _, c := range []struct {
		recipient    string
		after, limit int64
		want         []int64
	}{
		{"partner-x", 0, 10, []int64{seq1, seq2}},
		{"partner-x", seq1, 10, []int64{seq2}},
		{"partner-x", 0, 1, []int64{seq1}},
		{"partner-x", seq2, 10, nil},
		{"partner-y", 0, 10, []int64{seq3}},
		{"nobody", 0, 10, nil},
	} {
		got, err := s.NoticesAfter(ctx, c.recipient, c.after, int(c.limit))
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, n := range got {
			if n.Recipient != c.recipient || len(n.Body) == 0 {
				t.Fatalf("outbox of %s: %+v", c.recipient, n)
			}
			seqs = append(seqs, n.Seq)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(c.want) {
			t.Fatalf("notices to %s after %d (at most %d): %v, want %v", c.recipient, c.after, c.limit, seqs, c.want)
		}
	}

	// Answers.
	if _, err := s.AddNoticeAnswer(ctx, store.NoticeAnswer{NoticeID: "nope", Status: "deleted", By: "recipient:partner-x", At: 5}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an answer to no notice: %v", err)
	}
	grew(0, "an answer refused")
	a1, err := s.AddNoticeAnswer(ctx, store.NoticeAnswer{NoticeID: "e1.n1", Status: "refused", Note: "the model shipped", By: "recipient:partner-x", At: 6})
	if err != nil {
		t.Fatal(err)
	}
	grew(1, "an answer")
	a2, err := s.AddNoticeAnswer(ctx, store.NoticeAnswer{NoticeID: "e1.n1", Status: "wontfix", Note: "", By: "operator", At: 7})
	if err != nil || a2 <= a1 {
		t.Fatalf("a second answer: %d %v", a2, err)
	}
	grew(1, "an answer")
	as, err := s.NoticeAnswers(ctx)
	if err != nil || len(as) != 2 || as[0] != (store.NoticeAnswer{Seq: a1, NoticeID: "e1.n1", Status: "refused", Note: "the model shipped", By: "recipient:partner-x", At: 6}) ||
		as[1].Seq != a2 || as[1].By != "operator" {
		t.Fatalf("answers %+v %v", as, err)
	}

	// Lineage links.
	run := store.LineageRun{ExportID: "e1", Namespace: "ml", Job: "train-llm", RunID: "run-1", At: 8, Producer: "https://example.com/airflow"}
	if added, err := s.AddLineageRun(ctx, run); err != nil || !added {
		t.Fatalf("a link: %v %v", added, err)
	}
	grew(1, "a link")
	again := run
	again.At, again.Producer = 9, "other"
	if added, err := s.AddLineageRun(ctx, again); err != nil || added {
		t.Fatalf("the same run again: %v %v", added, err)
	}
	grew(0, "a link again")
	other := run
	other.RunID = "run-2"
	if added, err := s.AddLineageRun(ctx, other); err != nil || !added {
		t.Fatalf("another run: %v %v", added, err)
	}
	grew(1, "a link")
	nowhere := run
	nowhere.ExportID = "nx"
	if _, err := s.AddLineageRun(ctx, nowhere); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a link to no export: %v", err)
	}
	grew(0, "a link refused")
	ls, err := s.LineageRuns(ctx)
	if err != nil || len(ls) != 2 || ls[1].Seq <= ls[0].Seq {
		t.Fatalf("links %+v %v", ls, err)
	}
	run.Seq = ls[0].Seq
	if ls[0] != run || ls[1].RunID != "run-2" {
		t.Fatalf("links %+v", ls)
	}

	rep, err := verifyStore(t, s, keys)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Size != size || rep.Leaves["notice"] != 3 || rep.Leaves["answer"] != 2 || rep.Leaves["lineage"] != 2 {
		t.Fatalf("report %+v", rep)
	}
}

// testNoticeRace: senders building on the same latest notice of an export
// at once — one stores its notice, the others hear ErrExists and store
// nothing.
func testNoticeRace(t *testing.T, s store.Store, keys *translog.KeyStore) {
	ctx := context.Background()
	logTestExport(t, s, "e1", "partner-x")
	size := logSize(t, s)
	const senders = 8
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for k := range senders {
		wg.Go(func() {
			n, f := newNotice(t, fmt.Sprintf("e1.s%d", k), "e1", "partner-x", timestamp.Time(k), 0)
			_, errs[k] = s.AddNotice(ctx, n, 0, f)
		})
	}
	wg.Wait()
	stored := 0
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case errors.Is(err, store.ErrExists), errors.Is(err, store.ErrBusy):
		default:
			t.Fatalf("a sender: %v", err)
		}
	}
	ns, err := s.Notices(ctx)
	if err != nil || stored != 1 || len(ns) != 1 || logSize(t, s) != size+1 {
		t.Fatalf("%d senders stored, %d notices: %v", stored, len(ns), err)
	}
	if _, err := verifyStore(t, s, keys); err != nil {
		t.Fatalf("verify: %v", err)
	}
}
