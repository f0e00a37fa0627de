package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// Raw is a store with a way behind its back to its tables: Exec runs one
// statement (parameters $1, $2, …) on the store's database directly, as
// an insider editing the store would.
type Raw struct {
	Store store.Store
	Exec  func(query string, args ...any) error
}

// OpenRaw returns a new, empty store for one test, as Open does, with its
// database at hand.
type OpenRaw func(t *testing.T, keys store.Keys) Raw

// noticeTamper is one edit of the tables of notices, their answers and
// lineage links: log verification must fail saying what says says, naming
// a log index or a row.
type noticeTamper struct {
	name string
	sql  string
	args []any
	// body edits a stored notice's body instead (its id, the edit).
	body   string
	edit   func(body []byte) []byte
	says   string
	sqlite bool // SQLite only: a value of another type (PostgreSQL's columns refuse it)
}

var noticeTampers = []noticeTamper{
	{name: "a byte of a notice's body edited (a record's line digest)", body: "e1.n2", edit: func(b []byte) []byte { return bytes.Replace(b, []byte(`"aa01"`), []byte(`"aa02"`), 1) },
		says: "does not match"},
	{name: "a record dropped from a notice's body", body: "e1.n2", edit: func(b []byte) []byte {
		return bytes.Replace(b, []byte(`,{"id":"post-7","line_sha256":"bb07","index":6}`), nil, 1)
	},
		says: "does not match"},
	{name: "a notice's body and recipient column moved to another recipient", body: "e1.n2",
		edit: func(b []byte) []byte { return bytes.Replace(b, []byte(`"partner-x"`), []byte(`"partner-z"`), 1) },
		sql:  `UPDATE notices SET recipient = 'partner-z' WHERE id = 'e1.n2'`, says: "does not match"},
	{name: "a notice's body carrying another log index", body: "e1.n2", edit: func(b []byte) []byte { return bytes.Replace(b, []byte(`"log_index":`), []byte(`"log_index":1`), 1) },
		says: "does not carry this log index"},
	{name: "a notice's recipient column edited (the outbox delivers it elsewhere)", sql: `UPDATE notices SET recipient = 'partner-z' WHERE id = 'e1.n2'`,
		says: "do not say what its body says"},
	{name: "a notice's deadline column cleared (never overdue)", sql: `UPDATE notices SET deadline = 0 WHERE id = 'e1.n2'`, says: "do not say what its body says"},
	{name: "a notice's issue time column moved", sql: `UPDATE notices SET issued_at = issued_at + 1 WHERE id = 'e1.n1'`, says: "do not say what its body says"},
	{name: "a notice's export column moved", sql: `UPDATE notices SET export_id = 'e2' WHERE id = 'e1.n2'`, says: "do not say what its body says"},
	{name: "a notice renamed", sql: `UPDATE notices SET id = 'e1.n9' WHERE id = 'e1.n2'`, says: "missing from the store"},
	{name: "a notice deleted", sql: `DELETE FROM notices WHERE id = 'e1.n2'`, says: "missing from the store"},
	{name: "a notice made up", sql: `INSERT INTO notices(id, export_id, recipient, issued_at, deadline, body) VALUES ('e2.n9', 'e2', 'partner-y', 5, 0, $1)`,
		args: []any{[]byte(`{"id":"e2.n9","export_id":"e2","recipient":"partner-y","issued_at":"1970-01-01T00:00:00.000005Z","records":[],"log_index":3}`)},
		says: "is not in the log"},
	{name: "a refusal turned into a deletion", sql: `UPDATE notice_answers SET status = 'deleted' WHERE status = 'refused'`, says: "does not match"},
	{name: "an answer's note edited", sql: `UPDATE notice_answers SET note = '' WHERE status = 'refused'`, says: "does not match"},
	{name: "a recipient's answer made the operator's", sql: `UPDATE notice_answers SET by = 'operator' WHERE status = 'refused'`, says: "does not match"},
	{name: "an answer moved to another notice", sql: `UPDATE notice_answers SET notice_id = 'e1.n2' WHERE status = 'refused'`, says: "does not match"},
	{name: "an answer deleted", sql: `DELETE FROM notice_answers WHERE status = 'wontfix'`, says: "missing from the store"},
	{name: "an answer made up", sql: `INSERT INTO notice_answers(notice_id, status, note, by, at) VALUES ('e1.n2', 'deleted', '', 'recipient:partner-x', 9)`,
		says: "is not in the log"},
	{name: "a lineage link's job edited (another model named)", sql: `UPDATE lineage_runs SET job = 'other-model' WHERE run_id = 'run-1'`, says: "does not match"},
	{name: "a lineage link moved to another export", sql: `UPDATE lineage_runs SET export_id = 'e2' WHERE run_id = 'run-1'`, says: "does not match"},
	{name: "a lineage link deleted (a model trained on the data forgotten)", sql: `DELETE FROM lineage_runs WHERE run_id = 'run-9'`, says: "missing from the store"},
	{name: "a lineage link made up", sql: `INSERT INTO lineage_runs(export_id, namespace, job, run_id, at, producer) VALUES ('e1', 'ml', 'train-llm', 'run-3', 9, 'p')`,
		says: "is not in the log"},
	{name: "a notice's body stored as text", sql: `UPDATE notices SET body = CAST(body AS TEXT) WHERE id = 'e1.n1'`, says: "never writes there", sqlite: true},
	{name: "a notice's deadline stored as bytes", sql: `UPDATE notices SET deadline = CAST(deadline AS BLOB) WHERE id = 'e1.n2'`, says: "never writes there", sqlite: true},
	{name: "an answer's time stored as bytes", sql: `UPDATE notice_answers SET at = CAST(at AS BLOB) WHERE status = 'refused'`, says: "never writes there", sqlite: true},
	{name: "a lineage link's job stored as bytes", sql: `UPDATE lineage_runs SET job = CAST(job AS BLOB) WHERE run_id = 'run-1'`, says: "never writes there", sqlite: true},
}

// RunTamper runs the tamper cases of notices, their answers and lineage
// links, each on a store of its own (sqlite: with the cases of values of
// another type, which only SQLite keeps).
func RunTamper(t *testing.T, open OpenRaw, sqlite bool) {
	for _, c := range noticeTampers {
		if c.sqlite && !sqlite {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ks := keyStore(t)
			raw := open(t, ks)
			noticeWorld(t, raw.Store)
			if _, err := verifyStore(t, raw.Store, ks); err != nil {
				t.Fatalf("the untouched store does not verify: %v", err)
			}
			if c.body != "" {
				ns, err := raw.Store.Notices(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				var body []byte
				for _, n := range ns {
					if n.ID == c.body {
						body = n.Body
					}
				}
				edited := c.edit(bytes.Clone(body))
				if body == nil || bytes.Equal(edited, body) {
					t.Fatalf("the edit of notice %s changes nothing", c.body)
				}
				if err := raw.Exec(`UPDATE notices SET body = $1 WHERE id = $2`, edited, c.body); err != nil {
					t.Fatal(err)
				}
			}
			if c.sql != "" {
				if err := raw.Exec(c.sql, c.args...); err != nil {
					t.Fatalf("%s: %v", c.sql, err)
				}
			}
			_, err := verifyStore(t, raw.Store, ks)
			var ve *translog.VerifyError
			if !errors.As(err, &ve) || !strings.Contains(ve.Problem, c.says) {
				t.Fatalf("log verify: %v; want a failure saying %q", err, c.says)
			}
			if ve.Index < 0 && ve.Row == "" {
				t.Fatalf("the failure names no index or row: %+v", ve)
			}
		})
	}
}

// noticeWorld stores two exports, three notices (the first answered
// twice, the second with a deadline) and two lineage links.
func noticeWorld(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	logTestExport(t, s, "e1", "partner-x")
	logTestExport(t, s, "e2", "partner-y")
	var after int64
	for _, n := range []struct {
		id, export, recipient string
		deadline              timestamp.Time
	}{{"e1.n1", "e1", "partner-x", 0}, {"e1.n2", "e1", "partner-x", 90_000}, {"e2.n1", "e2", "partner-y", 0}} {
		if n.export == "e2" {
			after = 0
		}
		sn, finish := newNotice(t, n.id, n.export, n.recipient, 1_000, n.deadline)
		seq, err := s.AddNotice(ctx, sn, after, finish)
		if err != nil {
			t.Fatalf("notice %s: %v", n.id, err)
		}
		after = seq
	}
	for _, a := range []store.NoticeAnswer{
		{NoticeID: "e1.n1", Status: "refused", Note: "the model shipped", By: "recipient:partner-x", At: 2_000},
		{NoticeID: "e1.n1", Status: "wontfix", Note: "accepted", By: "operator", At: 3_000},
	} {
		if _, err := s.AddNoticeAnswer(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []store.LineageRun{
		{ExportID: "e1", Namespace: "ml", Job: "train-llm", RunID: "run-1", At: 4_000, Producer: "https://example.com/airflow"},
		{ExportID: "e2", Namespace: "ml", Job: "train-vision", RunID: "run-9", At: 5_000, Producer: "https://example.com/airflow"},
	} {
		if added, err := s.AddLineageRun(ctx, r); err != nil || !added {
			t.Fatalf("link %s: %v %v", r.RunID, added, err)
		}
	}
}
