package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/export"
)

// The world of TestEndToEnd as records with a struct column (meta), a
// list column (to) and a TIMESTAMP column (created_at).
type pqMeta struct {
	Kind   string `parquet:"kind" json:"kind"`
	Author string `parquet:"author" json:"author"`
}

type pqRecord struct {
	ID        string    `parquet:"id" json:"id"`
	Meta      pqMeta    `parquet:"meta" json:"meta"`
	To        []string  `parquet:"to,list" json:"to"`
	CreatedAt time.Time `parquet:"created_at,timestamp(microsecond)" json:"created_at"`
	Text      string    `parquet:"text" json:"text"`
	Score     float64   `parquet:"score" json:"score"`
}

// The same records flat, the creation time a string column.
type pqFlat struct {
	ID        string `parquet:"id"`
	Kind      string `parquet:"kind"`
	Author    string `parquet:"author"`
	CreatedAt string `parquet:"created_at"`
	Text      string `parquet:"text"`
}

func pqWorld(t *testing.T) []pqRecord {
	t.Helper()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	pub, msg := "user.content.public", "user.content.private.message"
	return []pqRecord{
		{"p1", pqMeta{pub, "ana"}, []string{}, at("2024-10-01T00:00:00Z"), "hello <world>", 1},
		{"p2", pqMeta{pub, "ben"}, []string{}, at("2024-10-01T00:00:00Z"), "hallo", 1},
		{"p3", pqMeta{pub, "cy"}, []string{}, at("2024-10-02T00:00:00.123456Z"), "hi", 1.5},
		{"p4", pqMeta{pub, "dee"}, []string{}, at("2024-10-02T00:00:00Z"), "oi", 1},
		{"p5", pqMeta{pub, "eve"}, []string{}, at("2024-09-25T00:00:00Z"), "from London", 1},
		{"p6", pqMeta{pub, "eve"}, []string{}, at("2024-10-05T00:00:00Z"), "from New York", 1},
		{"p7", pqMeta{pub, "ana"}, []string{}, at("2024-05-01T00:00:00Z"), "before the partner", 1},
		{"p8", pqMeta{pub, "zed"}, []string{}, at("2024-10-01T00:00:00Z"), "", 1},
		{"p9", pqMeta{pub, "ana"}, []string{}, at("2026-01-01T00:00:00Z"), "", 1},
		{"p10", pqMeta{pub, "ana"}, []string{}, at("2024-10-01T00:00:00Z"), "", math.NaN()}, // no JSON form: malformed
		{"m1", pqMeta{msg, "ana"}, []string{"cy"}, at("2024-10-01T00:00:00Z"), "lunch?", 1},
		{"m2", pqMeta{msg, "ana"}, []string{"dee"}, at("2024-10-01T00:00:00Z"), "hey", 1},
		{"m3", pqMeta{msg, "ana"}, []string{"eve"}, at("2024-10-03T00:00:00Z"), "welcome", 1},
		{"m4", pqMeta{"user.content.private.draft", "ana"}, []string{}, at("2024-10-03T00:00:00Z"), "", 1},
		{"m5", pqMeta{msg, "ana"}, []string{"ana", "nobody"}, at("2024-10-03T00:00:00Z"), "", 1},
		{"m6", pqMeta{pub, "cy"}, []string{}, at("2024-10-04T00:00:00Z"), "again", 2},
	}
}

// writeWorld writes recs as JSON Lines (a NaN score as a malformed line)
// and as Parquet, in row groups of three rows.
func writeWorld[T any](t *testing.T, dir, name string, recs []T, line func(T) string) {
	t.Helper()
	var jl strings.Builder
	for _, r := range recs {
		jl.WriteString(line(r) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, name+".jsonl"), []byte(jl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name+".parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	for i := 0; i < len(recs); i += 3 {
		if _, err := w.Write(recs[i:min(i+3, len(recs))]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil { // one row group each
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func nestedLine(r pqRecord) string {
	if math.IsNaN(r.Score) {
		return fmt.Sprintf(`{"id":%q,"meta":{"kind":%q,"author":%q}`, r.ID, r.Meta.Kind, r.Meta.Author)
	}
	b, err := json.Marshal(struct {
		pqRecord
		CreatedAt string `json:"created_at"`
	}{r, r.CreatedAt.UTC().Format("2006-01-02T15:04:05.999999Z07:00")})
	if err != nil {
		panic(err)
	}
	return string(b)
}

type pqReject struct {
	File                             string
	Line, Row                        int
	ID, Reason, Subject, Role, Check string
}

func readRejects(t *testing.T, path string) []pqReject {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []pqReject
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r pqReject
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

func exportArgs(in, out string, fields ...string) []string {
	return append([]string{"export", "--purpose", "train_ai_system.generative", "--recipient", "partner-x",
		"--as-of", "2025-01-01T00:00:00Z", "--in", in, "--out", out, "--rejects", out + ".rejects"}, fields...)
}

// sameDecisions checks that the Parquet export decided as the JSON Lines
// one: the same rejects' reasons, subjects and checks in the same order,
// rows numbered as the lines, and the same included ids.
func sameDecisions(t *testing.T, dir, jsonlOut, parquetOut string, keptJSONL []string) {
	t.Helper()
	jr, pr := readRejects(t, filepath.Join(dir, jsonlOut+".rejects")), readRejects(t, filepath.Join(dir, parquetOut+".rejects"))
	if len(jr) != len(pr) || len(jr) == 0 {
		t.Fatalf("rejects: %d from JSON Lines, %d from Parquet", len(jr), len(pr))
	}
	for i := range jr {
		j, p := jr[i], pr[i]
		if j.Reason != p.Reason || j.Subject != p.Subject || j.Role != p.Role || j.Check != p.Check || j.Line != p.Row || p.Line != 0 ||
			!strings.HasSuffix(p.File, ".parquet") || (j.Reason != "record.malformed" && j.ID != p.ID) {
			t.Errorf("reject %d: JSON Lines %+v, Parquet %+v", i, j, p)
		}
	}
	mj, err := export.ReadManifest(filepath.Join(dir, jsonlOut+".manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	mp, err := export.ReadManifest(filepath.Join(dir, parquetOut+".manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mj.Counts, mp.Counts) || mj.Subjects != mp.Subjects || mp.Output.Format != "parquet" {
		t.Errorf("counts: JSON Lines %+v (%d subjects), Parquet %+v (%d subjects, format %s)", mj.Counts, mj.Subjects, mp.Counts, mp.Subjects, mp.Output.Format)
	}
	// records_root: each row's leaf hashes its RFC 8785 canonical JSON,
	// which is that of the same record's JSON line.
	var canon strings.Builder
	for _, l := range keptJSONL {
		c, err := jcs.Transform([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		canon.Write(append(c, '\n'))
	}
	if want := recordsRoot(t, []byte(canon.String())); mp.RecordsRoot != want {
		t.Errorf("Parquet records_root %s, want %s (over the canonical JSON of the included rows)", mp.RecordsRoot, want)
	}
}

func keptIDs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var r struct{ ID string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// TestExportParquetNested: the same world as JSON Lines and as Parquet
// with struct, list and TIMESTAMP columns gives the same decisions in the
// same order; the output is Parquet of the input's schema whose rows are
// the included input rows, unchanged.
func TestExportParquetNested(t *testing.T) {
	dir := setupE2E(t)
	recs := pqWorld(t)
	writeWorld(t, dir, "world", recs, nestedLine)
	fields := []string{"--id", "id", "--time", "created_at", "--category-field", "meta.kind",
		"--subject", "author=meta.author", "--subject", "recipient=to", "--workers", "2"}
	ok(t, dir, exportArgs("world.jsonl", "out.jsonl", fields...)...)
	ok(t, dir, exportArgs("world.parquet", "out.parquet", fields...)...)

	ids := keptIDs(t, filepath.Join(dir, "out.jsonl"))
	if len(ids) < 3 {
		t.Fatalf("only %v included: the world should include a few", ids)
	}
	byID := map[string]pqRecord{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	var keptLines []string
	for _, id := range ids {
		keptLines = append(keptLines, nestedLine(byID[id]))
	}
	sameDecisions(t, dir, "out.jsonl", "out.parquet", keptLines)

	// Row for row the included input rows, in the input's schema.
	got, err := parquet.ReadFile[pqRecord](filepath.Join(dir, "out.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("Parquet output has %d rows, want %d (%v)", len(got), len(ids), ids)
	}
	for i, id := range ids {
		want := byID[id]
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want)
		}
	}
	in, err := os.Open(filepath.Join(dir, "world.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Open(filepath.Join(dir, "out.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	st1, _ := in.Stat()
	st2, _ := out.Stat()
	f1, err := parquet.OpenFile(in, st1.Size())
	if err != nil {
		t.Fatal(err)
	}
	f2, err := parquet.OpenFile(out, st2.Size())
	if err != nil {
		t.Fatal(err)
	}
	if !parquet.EqualNodes(f1.Schema(), f2.Schema()) {
		t.Errorf("output schema\n%s\nwant the input's\n%s", f2.Schema(), f1.Schema())
	}

	// --in-format reads a Parquet file whatever its name.
	if err := os.Rename(filepath.Join(dir, "world.parquet"), filepath.Join(dir, "world.data")); err != nil {
		t.Fatal(err)
	}
	ok(t, dir, exportArgs("world.data", "out2.parquet", append(fields, "--in-format", "parquet")...)...)
	a, _ := os.ReadFile(filepath.Join(dir, "out.parquet"))
	b, _ := os.ReadFile(filepath.Join(dir, "out2.parquet"))
	if string(a) != string(b) {
		t.Errorf("--in-format parquet on world.data wrote other bytes than world.parquet")
	}
}

// TestExportParquetFlat: flat columns, the creation time an RFC 3339
// string column.
func TestExportParquetFlat(t *testing.T) {
	dir := setupE2E(t)
	var recs []pqFlat
	for _, r := range pqWorld(t) {
		if math.IsNaN(r.Score) || r.Meta.Kind != "user.content.public" {
			continue
		}
		recs = append(recs, pqFlat{r.ID, r.Meta.Kind, r.Meta.Author, r.CreatedAt.UTC().Format(time.RFC3339Nano), r.Text})
	}
	recs = append(recs, pqFlat{"p11", "user.content.public", "ana", "1 October 2024", "not a time"})
	line := func(r pqFlat) string {
		b, _ := json.Marshal(map[string]string{"id": r.ID, "kind": r.Kind, "author": r.Author, "created_at": r.CreatedAt, "text": r.Text})
		return string(b)
	}
	writeWorld(t, dir, "flat", recs, line)
	fields := []string{"--id", "id", "--time", "created_at", "--category-field", "kind", "--subject", "author=author"}
	ok(t, dir, exportArgs("flat.jsonl", "out.jsonl", fields...)...)
	ok(t, dir, exportArgs("flat.parquet", "out.parquet", fields...)...)
	ids := keptIDs(t, filepath.Join(dir, "out.jsonl"))
	var keptLines []string
	var want []pqFlat
	for _, id := range ids {
		for _, r := range recs {
			if r.ID == id {
				keptLines = append(keptLines, line(r))
				want = append(want, r)
			}
		}
	}
	sameDecisions(t, dir, "out.jsonl", "out.parquet", keptLines)
	got, err := parquet.ReadFile[pqFlat](filepath.Join(dir, "out.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parquet output rows %+v, want %+v", got, want)
	}
	rej := readRejects(t, filepath.Join(dir, "out.parquet.rejects"))
	if last := rej[len(rej)-1]; last.ID != "p11" || last.Reason != "record.malformed" || last.Row != len(recs) {
		t.Errorf("a string time that is not RFC 3339: %+v", last)
	}
}

// TestExportParquetRefusals: mixed inputs, and redaction of Parquet rows.
func TestExportParquetRefusals(t *testing.T) {
	dir := setupE2E(t)
	writeWorld(t, dir, "world", pqWorld(t), nestedLine)
	fields := []string{"--id", "id", "--time", "created_at", "--category-field", "meta.kind", "--subject", "author=meta.author"}
	args := exportArgs("world.parquet", "out.parquet", fields...)
	args = append(args, "--in", "world.jsonl")
	if _, e, code := cg(t, dir, args...); code != 1 || !strings.Contains(e, "all Parquet or all JSON Lines") {
		t.Errorf("mixed inputs: exit %d, %s", code, e)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.parquet")); err == nil {
		t.Errorf("a refused export left an output")
	}
}
