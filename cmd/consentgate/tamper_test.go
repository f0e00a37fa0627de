package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	encbin "encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/demo"
)

// tamperCase is one edit an insider might make to the store behind the
// log's back: either log verify fails (naming where), or every export made
// from the edited store is byte for byte the one made before.
type tamperCase struct {
	name   string
	sql    []string
	says   string // what verify's problem says; "" when the edit must leave exports unchanged
	sqlite bool   // SQLite only (its packed copies)
	// pack edits a SQLite pack's body (the table's first), for edits SQL
	// cannot make of a binary format.
	pack string
	edit func(body []byte) []byte
	// pg replaces sql on PostgreSQL (where the same edit is written
	// otherwise).
	pg []string
}

// tamperCases are the edits, in SQL both stores run (SQLite and
// PostgreSQL), over the demo world with its one export, a second export's
// worth of extra state (an impact mark, an erasure, checkpoints recorded).
var tamperCases = []tamperCase{
	{name: "a member moved from Germany to the US in their row", says: "does not match",
		sql: []string{`UPDATE subject_events SET region = 'US' WHERE seq = (SELECT min(seq) FROM subject_events WHERE region = 'DE')`}},
	{name: "a refusal turned into an agreement", says: "does not match",
		sql: []string{`UPDATE consent_events SET state = 1 WHERE seq = (SELECT min(seq) FROM consent_events WHERE state = 2)`}},
	{name: "a refusal moved to a subject without a key", says: "never erased",
		sql: []string{`UPDATE consent_events SET subject = 'nobody' WHERE seq = (SELECT min(seq) FROM consent_events WHERE state = 2)`}},
	{name: "a refusal moved to another member", says: "does not match",
		sql: []string{`UPDATE consent_events SET subject = 'm00001' WHERE seq = (SELECT min(seq) FROM consent_events WHERE state = 2 AND subject <> 'm00001')`}},
	{name: "a refusal deleted", says: "missing from the store",
		sql: []string{`DELETE FROM consent_events WHERE seq = (SELECT min(seq) FROM consent_events WHERE state = 2)`}},
	{name: "a subject change deleted", says: "missing from the store",
		sql: []string{`DELETE FROM subject_events WHERE seq = (SELECT max(seq) FROM subject_events WHERE seq < 100)`}},
	// A packed subject event: seq, at, region_set, then subject, region and
	// attributes length-prefixed; a packed consent event: seq, at, state,
	// subject, ….
	{name: "region codes rewritten inside the subject packs", says: "packed copy differs", sqlite: true,
		pack: "subject_packs", edit: func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\x02DE"), []byte("\x02US")) }},
	{name: "denials flipped to grants inside the consent packs", says: "packed copy differs", sqlite: true,
		pack: "consent_packs", edit: func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\x02\x06m0"), []byte("\x01\x06m0")) }},
	{name: "an event cut out of a subject pack", says: "leaves out a row", sqlite: true,
		pack: "subject_packs", edit: func(b []byte) []byte { return dropPacked(b, 1, 3) }},
	{name: "the subject packs deleted (views then read the rows)", says: "", sqlite: true,
		sql: []string{`DELETE FROM subject_packs`}},
	{name: "an export marked abandoned", says: "status changed without its log entry",
		sql: []string{`UPDATE exports SET status = 'abandoned'`}},
	{name: "an export's as-of time moved", says: "is not the logged manifest's",
		sql: []string{`UPDATE exports SET as_of = as_of + 86400000000`}},
	{name: "an export's purpose changed", says: "is not the logged manifest's",
		sql: []string{`UPDATE exports SET purpose = 'train_ai_system'`}},
	{name: "an export's subject set emptied", says: "does not match what the store keeps",
		sql: []string{`UPDATE exports SET subjects = substr(subjects, 1, 0)`}},
	{name: "an export's kept records deleted", says: "does not match what the store keeps",
		sql: []string{`DELETE FROM export_records WHERE chunk = 0`}},
	{name: "an export's data digest edited (the next status change would vouch for it)", says: "",
		sql: []string{`UPDATE exports SET data_digest = NULL`}},
	{name: "a recorded checkpoint deleted", says: "missing from the store",
		sql: []string{`DELETE FROM checkpoints WHERE size = (SELECT min(size) FROM checkpoints)`}},
	{name: "every checkpoint deleted", says: "missing from the store",
		sql: []string{`DELETE FROM checkpoints`}},
	{name: "an erasure deleted", says: "never erased",
		sql: []string{`DELETE FROM erasures`}},
	{name: "an impact mark's note edited", says: "does not match",
		sql: []string{`UPDATE impact_marks SET note = 'nothing to do'`}},
	{name: "a policy version's source edited", says: "does not match",
		sql: []string{`UPDATE policies SET source = CAST(source || ' ' AS BLOB)`}, pg: []string{`UPDATE policies SET source = source || ' '`}},
	{name: "a policy version's source stored as text", says: "never writes there", sqlite: true,
		sql: []string{`UPDATE policies SET source = CAST(source AS TEXT)`}},
	{name: "a forced flag out of its range", says: "never writes there", sqlite: true,
		sql: []string{`UPDATE policies SET forced = 2`}},
	{name: "a withdrawal's time stored as bytes (SQL no longer finds it as of the export)", says: "never writes there", sqlite: true,
		sql: []string{`UPDATE consent_events SET at = CAST(at AS BLOB) WHERE seq = (SELECT max(seq) FROM consent_events WHERE state = 2)`}},
	{name: "a member's id stored as bytes (unknown to lookups)", says: "never writes there", sqlite: true,
		sql: []string{`UPDATE subject_events SET subject = CAST(subject AS BLOB) WHERE seq = 5`}},
	{name: "a pack's last sequence number moved past the unpacked rows", says: "is not as written", sqlite: true,
		sql: []string{`UPDATE subject_packs SET last_seq = (SELECT max(seq) FROM subject_events) + 10`}},
	{name: "a made-up refusal packed after the last row", says: "the packed copy", sqlite: true, pack: "consent_packs"},
	{name: "a member's subject change moved onto the erased member", says: "not those it had when erased",
		sql: []string{`UPDATE subject_events SET subject = 'm00007' WHERE seq = (SELECT max(seq) FROM subject_events)`}},
	{name: "a refusal moved onto the erased member", says: "not those it had when erased",
		sql: []string{`UPDATE consent_events SET subject = 'm00007' WHERE seq = (SELECT max(seq) FROM consent_events WHERE state = 2 AND subject <> 'm00007')`}},
	{name: "an impact mark moved onto the erased member", says: "not those it had when erased",
		sql: []string{`UPDATE impact_marks SET subject = 'm00007'`}},
	{name: "an export's directory changed (its files looked for elsewhere)", says: "does not match what the store keeps",
		sql: []string{`UPDATE exports SET dir = '/tmp'`}},
	// The policy version (and notice) a choice noted as it was recorded
	// (the world's last choice, through consent set) is covered by its
	// leaf; so is an imported choice's noting none.
	{name: "the policy version a choice was given under edited", says: "does not match",
		sql: []string{`UPDATE consent_events SET policy = '2024-01-01' WHERE seq = (SELECT max(seq) FROM consent_events WHERE policy <> '')`}},
	{name: "the notice a choice was given under edited", says: "does not match",
		sql: []string{`UPDATE consent_events SET notice = 'https://example.com/privacy/nothing-shared' WHERE seq = (SELECT max(seq) FROM consent_events WHERE policy <> '')`}},
	{name: "a policy version made up for an imported choice", says: "does not match",
		sql: []string{`UPDATE consent_events SET policy = '2024-09-18' WHERE seq = (SELECT min(seq) FROM consent_events WHERE policy = '')`}},
	{name: "a choice's policy version stored as bytes", says: "never writes there", sqlite: true,
		sql: []string{`UPDATE consent_events SET policy = CAST(policy AS BLOB) WHERE seq = (SELECT max(seq) FROM consent_events WHERE policy <> '')`}},
	{name: "a policy version noted on a packed choice", says: "packed copy differs", sqlite: true,
		pack: "consent_packs", edit: func(b []byte) []byte { return notePacked(b, "2024-09-18") }},
	{name: "a token revoked behind the log's back", says: "",
		sql: []string{`UPDATE tokens SET revoked_at = 1`}},
	{name: "a delivery's progress moved", says: "",
		sql: []string{`UPDATE deliveries SET delivered = 0`}},
}

// TestTamperSQLite runs the tamper suite on the embedded store.
func TestTamperSQLite(t *testing.T) {
	t.Parallel()
	dir := tamperWorld(t, nil, 12000)
	want := tamperExport(t, dir, nil)
	for _, c := range tamperCases {
		t.Run(c.name, func(t *testing.T) {
			cp := t.TempDir()
			if out, err := exec.Command("cp", "-a", dir+"/.", cp).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			db := filepath.Join(cp, "demo.db")
			sqliteExec(t, db, c.sql...)
			switch {
			case c.edit != nil:
				editPack(t, db, c.pack, c.edit)
			case c.pack != "":
				forgePack(t, db)
			}
			checkTamper(t, c, cp, nil, want)
		})
	}
}

// editPack rewrites the body of a table's first pack.
func editPack(t *testing.T, path, table string, edit func([]byte) []byte) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var first int64
	var body []byte
	if err := db.QueryRow(`SELECT first_seq, body FROM `+table+` ORDER BY first_seq LIMIT 1`).Scan(&first, &body); err != nil {
		t.Fatalf("%s: %v (the world has no packs?)", table, err)
	}
	edited := edit(bytes.Clone(body))
	if bytes.Equal(edited, body) {
		t.Fatalf("the edit of %s changed nothing", table)
	}
	if _, err := db.Exec(`UPDATE `+table+` SET body = ? WHERE first_seq = ?`, edited, first); err != nil {
		t.Fatal(err)
	}
}

// forgePack adds a pack of one made-up consent event after the last row:
// m00037 refusing train_ai_system.
func forgePack(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var top int64
	if err := db.QueryRow(`SELECT max(seq) FROM consent_events`).Scan(&top); err != nil {
		t.Fatal(err)
	}
	seq := top + 1
	b := encbin.AppendUvarint(nil, uint64(seq))
	b = encbin.AppendVarint(b, 1_733_011_200_000_000) // 2024-12-01
	b = append(b, 2)                                  // denied
	for _, f := range []string{"m00037", "train_ai_system", "", "settings"} {
		b = encbin.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	if _, err := db.Exec(`INSERT INTO consent_packs(first_seq, last_seq, rows, body) VALUES (?,?,1,?)`, seq, seq, b); err != nil {
		t.Fatal(err)
	}
}

// dropPacked removes the k-th event (0-based) of a pack body whose events
// have n length-prefixed strings.
func dropPacked(b []byte, k, n int) []byte {
	off := 0
	skip := func() int {
		start := off
		_, w := encbin.Uvarint(b[off:])
		off += w
		_, w = encbin.Varint(b[off:])
		off += w + 1
		for range n {
			l, w := encbin.Uvarint(b[off:])
			off += w + int(l)
		}
		return start
	}
	for range k {
		skip()
	}
	start := skip()
	return append(append([]byte(nil), b[:start]...), b[off:]...)
}

// notePacked makes the first event of a consent pack body note a policy
// version: the flag on its state byte, the version and an empty notice
// after its four strings.
func notePacked(b []byte, version string) []byte {
	off := 0
	_, w := encbin.Uvarint(b[off:])
	off += w
	_, w = encbin.Varint(b[off:])
	off += w
	state := off
	off++
	for range 4 {
		l, w := encbin.Uvarint(b[off:])
		off += w + int(l)
	}
	out := append([]byte(nil), b[:off]...)
	out[state] |= 0x80
	out = encbin.AppendUvarint(out, uint64(len(version)))
	out = append(out, version...)
	out = encbin.AppendUvarint(out, 0)
	return append(out, b[off:]...)
}

// TestTamperPostgres runs the tamper suite on PostgreSQL, each edit on a
// world of its own (a schema each).
func TestTamperPostgres(t *testing.T) {
	t.Parallel()
	for _, c := range tamperCases {
		if c.sqlite {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			pg := newPGSchema(t)
			dir := tamperWorld(t, pg, 1000)
			want := tamperExport(t, dir, pg)
			conn, err := pgx.Connect(context.Background(), pg.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			stmts := c.sql
			if c.pg != nil {
				stmts = c.pg
			}
			for _, s := range stmts {
				if _, err := conn.Exec(context.Background(), s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			checkTamper(t, c, dir, pg, want)
		})
	}
}

// pgSchema is a PostgreSQL schema of the test's own.
type pgSchema struct{ dsn string }

func newPGSchema(t *testing.T) *pgSchema {
	t.Helper()
	ctx := context.Background()
	base := os.Getenv("CONSENTGATE_TEST_POSTGRES")
	if base == "" {
		base = "postgres://127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (.ci/run starts it)", base, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "cg_tamper_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close(context.Background())
	})
	return &pgSchema{dsn: base + "&search_path=" + schema}
}

// tamperWorld makes the demo world in a directory — its store the
// directory's own (SQLite), or pg — with more of what the log vouches for:
// an impact mark, an erasure, several checkpoints recorded.
func tamperWorld(t *testing.T, pg *pgSchema, members int) string {
	t.Helper()
	dir := t.TempDir()
	if _, errOut, code := cg(t, dir, "demo", "--dir", dir, "--members", fmt.Sprint(members)); code != 0 {
		t.Fatalf("demo: %s", errOut)
	}
	store := []string{"--store", "sqlite:" + filepath.Join(dir, "demo.db")}
	if pg != nil {
		// The same world in PostgreSQL, through the commands.
		store = []string{"--store", pg.dsn, "--keys", filepath.Join(dir, "pg.keys")}
		for _, f := range []string{"1-baseline.yaml", "2-first-party-training.yaml"} {
			ok(t, dir, append(store, "policy", "publish", filepath.Join("policies", f))...)
		}
		ok(t, dir, append(store, "policy", "publish", "--force", filepath.Join("policies", "3-affiliates-and-partners.yaml"))...)
		ok(t, dir, append(store, "subjects", "import", "subjects.jsonl")...)
		ok(t, dir, append(store, "consent", "import", "consent.jsonl")...)
		ok(t, dir, append(store, tamperExportArgs(dir, "partner-x.jsonl")...)...)
	}
	ok(t, dir, append(store, "token", "create", "--role", "auditor")...)
	out := ok(t, dir, append(store, "impact", "--json")...)
	var items struct {
		Items []struct {
			ExportID string `json:"export_id"`
			Subject  string `json:"subject"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &items); err != nil || len(items.Items) == 0 {
		t.Fatalf("impact: %v %s", err, out)
	}
	ok(t, dir, append(store, "impact", "mark", "--export", items.Items[0].ExportID, "--subject", items.Items[0].Subject, "--status", "notified", "--note", "mailed")...)
	ok(t, dir, append(store, "log", "erase", "--subject", "m00007")...)
	ok(t, dir, append(store, "consent", "set", "--subject", "m00002", "--purpose", "train_ai_system", "--state", "denied")...)
	if v, code := verifyStore(t, dir, pg); code != 0 || !v.OK {
		t.Fatalf("the untouched world does not verify: %+v", v)
	}
	return dir
}

func tamperExportArgs(dir, out string) []string {
	args := []string{"export", "--purpose", demo.ExportPurpose, "--recipient", demo.ExportRecipient, "--as-of", "2025-01-21T00:00:00Z",
		"--in", "posts.jsonl", "--in", "messages.jsonl", "--out", out, "--rejects", out + ".rejects"}
	return append(args, demo.ExportFlags...)
}

// tamperExport exports the world again (as of the demo's time) and
// returns the output and rejects.
func tamperExport(t *testing.T, dir string, pg *pgSchema) [2][]byte {
	t.Helper()
	store := []string{"--store", "sqlite:" + filepath.Join(dir, "consentgate.db")}
	if _, err := os.Stat(filepath.Join(dir, "demo.db")); err == nil {
		store = []string{"--store", "sqlite:" + filepath.Join(dir, "demo.db")}
	}
	if pg != nil {
		store = []string{"--store", pg.dsn, "--keys", filepath.Join(dir, "pg.keys")}
	}
	out := fmt.Sprintf("again-%d.jsonl", len(t.Name()))
	os.Remove(filepath.Join(dir, out))
	ok(t, dir, append(store, tamperExportArgs(dir, out)...)...)
	a, _ := os.ReadFile(filepath.Join(dir, out))
	b, _ := os.ReadFile(filepath.Join(dir, out+".rejects"))
	return [2][]byte{a, b}
}

func verifyStore(t *testing.T, dir string, pg *pgSchema) (verifyOut, int) {
	t.Helper()
	if pg != nil {
		return verifyJSON(t, dir, "--store", pg.dsn, "--keys", filepath.Join(dir, "pg.keys"))
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.db")); err == nil {
		return verifyJSON(t, dir, "--store", "sqlite:"+filepath.Join(dir, "demo.db"))
	}
	return verifyJSON(t, dir)
}

// checkTamper: verify fails saying what it should, or — for an edit of
// what no dataset depends on — passes and the export is unchanged.
func checkTamper(t *testing.T, c tamperCase, dir string, pg *pgSchema, want [2][]byte) {
	t.Helper()
	v, code := verifyStore(t, dir, pg)
	if c.says != "" {
		if code != 1 || v.OK || !strings.Contains(v.Problem, c.says) {
			t.Fatalf("log verify: exit %d %+v; want a failure saying %q", code, v, c.says)
		}
		if v.Index < 0 && v.Checkpoint < 0 && v.Row == "" {
			t.Fatalf("the failure names no index or row: %+v", v)
		}
		return
	}
	if code == 0 {
		if got := tamperExport(t, dir, pg); !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) {
			t.Fatalf("log verify passes and the export changed (%d → %d bytes)", len(want[0]), len(got[0]))
		}
	}
}

// sqliteExec runs statements on a SQLite file (for tests outside the
// tamper helper).
func sqliteExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
