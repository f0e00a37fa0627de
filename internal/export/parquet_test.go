package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
)

type pqTestRow struct {
	ID    string    `parquet:"id" json:"id"`
	T     time.Time `parquet:"t,timestamp(microsecond)" json:"-"`
	A     string    `parquet:"a" json:"a"`
	To    []string  `parquet:"to,list" json:"to"`
	Score float64   `parquet:"score" json:"score"`
	Pad   string    `parquet:"pad" json:"pad"`
}

var pqTestFields = record.Fields{ID: "id", Time: "t", FixedCategory: "post", Subjects: []record.SubjectField{
	{Role: policy.Author, Path: "a"}, {Role: policy.RecipientRole, Path: "to"}}}

// pqTestWorld writes n rows to a Parquet file in row groups of 5,000 (so
// that batches straddle row groups) and the same records, each as its
// canonical JSON, to a JSON Lines file. Every 7th author is in DE (a
// denial), every 13th unknown, every 101st row has a NaN score (no JSON
// form: malformed).
func pqTestWorld(t *testing.T, dir string, n int) (pq, jl string) {
	t.Helper()
	rows := make([]pqTestRow, n)
	var lines bytes.Buffer
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		r := pqTestRow{ID: fmt.Sprintf("r%d", i), T: base.Add(time.Duration(i) * 1234567 * time.Microsecond),
			A: fmt.Sprintf("u%d", i%100), To: []string{}, Score: float64(i) / 8, Pad: fmt.Sprintf("%q\n", bytes.Repeat([]byte("é"), i%50))}
		switch {
		case i%7 == 0:
			r.A = fmt.Sprintf("d%d", i%10)
		case i%13 == 0:
			r.A = "nobody"
		}
		if i%3 == 0 {
			r.To = []string{fmt.Sprintf("u%d", (i+1)%100), fmt.Sprintf("u%d", (i+2)%100)}
		}
		if i%101 == 0 {
			r.Score = math.NaN()
		}
		rows[i] = r
		if math.IsNaN(r.Score) {
			lines.WriteString(`{"id":` + fmt.Sprintf("%q", r.ID) + `,"score":NaN}` + "\n")
			continue
		}
		j, err := json.Marshal(struct {
			pqTestRow
			T string `json:"t"`
		}{r, r.T.Format("2006-01-02T15:04:05.999999Z07:00")})
		if err != nil {
			t.Fatal(err)
		}
		c, err := jcs.Transform(j)
		if err != nil {
			t.Fatal(err)
		}
		lines.Write(append(c, '\n'))
	}
	pq, jl = filepath.Join(dir, "world.parquet"), filepath.Join(dir, "world.jsonl")
	f, err := os.Create(pq)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[pqTestRow](f, parquet.MaxRowsPerRowGroup(5000), parquet.PageBufferSize(16<<10))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jl, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return pq, jl
}

// TestParquetWorkersAgree: a Parquet export on 1 and on several workers
// writes the same bytes (output, rejects) and the same manifest roots,
// counts and input digest (the file's SHA-256); its records_root and
// counts are those of the same records as JSON Lines; the output rows are
// the included input rows.
func TestParquetWorkersAgree(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	const n = 130_000 // more batches than an export has in flight: their arenas and pages are reused
	pq, jl := pqTestWorld(t, dir, n)
	exp := func(in string, workers int) (*export.Manifest, []byte, []byte) {
		t.Helper()
		out := filepath.Join(dir, fmt.Sprintf("out-%d-%s", workers, filepath.Base(in)))
		m, err := export.Run(context.Background(), export.Options{Plan: p, Fields: pqTestFields, Inputs: []string{in}, Out: out,
			Rejects: out + ".rejects", Workers: workers, Now: 1, ID: "exp-test"})
		if err != nil {
			t.Fatal(err)
		}
		o, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		r, err := os.ReadFile(out + ".rejects")
		if err != nil {
			t.Fatal(err)
		}
		return m, o, r
	}
	m1, o1, r1 := exp(pq, 1)
	for _, w := range []int{2, 5} {
		m, o, r := exp(pq, w)
		if !bytes.Equal(o, o1) || !bytes.Equal(r, r1) {
			t.Errorf("%d workers: output or rejects differ from 1 worker's", w)
		}
		if m.RecordsRoot != m1.RecordsRoot || m.Subjects != m1.Subjects || !reflect.DeepEqual(m.Counts, m1.Counts) ||
			!reflect.DeepEqual(m.Inputs, m1.Inputs) || m.Output.SHA256 != m1.Output.SHA256 || m.Rejects.SHA256 != m1.Rejects.SHA256 {
			t.Errorf("%d workers: manifest differs from 1 worker's:\n%+v\n%+v", w, m, m1)
		}
	}
	raw, err := os.ReadFile(pq)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if in := m1.Inputs[0]; in.SHA256 != hex.EncodeToString(sum[:]) || in.Bytes != int64(len(raw)) {
		t.Errorf("input digest %+v, want %x (%d bytes)", in, sum, len(raw))
	}
	if m1.Counts.Read != n || m1.Counts.Included == 0 || m1.Counts.ExcludedByReason["record.malformed"] != (n+100)/101 {
		t.Errorf("counts %+v", m1.Counts)
	}

	// The same records as JSON Lines: the same decisions and records_root.
	mj, oj, _ := exp(jl, 2)
	if mj.RecordsRoot != m1.RecordsRoot || !reflect.DeepEqual(mj.Counts, m1.Counts) || mj.Subjects != m1.Subjects {
		t.Errorf("JSON Lines export: root %s counts %+v, Parquet: root %s counts %+v", mj.RecordsRoot, mj.Counts, m1.RecordsRoot, m1.Counts)
	}

	// The output's rows are the included input rows.
	got, err := parquet.Read[pqTestRow](bytes.NewReader(o1), int64(len(o1)))
	if err != nil {
		t.Fatal(err)
	}
	all, err := parquet.ReadFile[pqTestRow](pq)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]pqTestRow{}
	for _, r := range all {
		byID[r.ID] = r
	}
	keptLines := bytes.Split(bytes.TrimSuffix(oj, []byte("\n")), []byte("\n"))
	if len(got) != len(keptLines) {
		t.Fatalf("%d output rows, %d included lines", len(got), len(keptLines))
	}
	for i, l := range keptLines {
		var r struct{ ID string }
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		if want := byID[r.ID]; !reflect.DeepEqual(got[i], want) {
			t.Fatalf("output row %d = %+v, want %+v", i, got[i], want)
		}
	}
}

// TestParquetProgress: the progress line of a Parquet export counts the
// file's bytes as read (not the rows' JSON, which is mostly not written).
func TestParquetProgress(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	pq, _ := pqTestWorld(t, dir, 10_000)
	st, err := os.Stat(pq)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	if _, err := export.Run(context.Background(), export.Options{Plan: p, Fields: pqTestFields, Inputs: []string{pq},
		Out: filepath.Join(dir, "o.parquet"), Workers: 2, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("export: 10000 records, %.1f MB read in ", float64(st.Size())/1e6)
	if !strings.Contains(progress.String(), want) {
		t.Errorf("progress %q, want it to say %q", progress.String(), want)
	}
}

// TestParquetEmptyFile: a Parquet input with no rows exports nothing, and
// its digest is still the file's.
func TestParquetEmptyFile(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "empty.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := parquet.NewGenericWriter[pqTestRow](f).Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := export.Run(context.Background(), export.Options{Plan: p, Fields: pqTestFields, Inputs: []string{path},
		Out: filepath.Join(dir, "out.parquet"), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if m.Counts.Read != 0 || m.Inputs[0].SHA256 != hex.EncodeToString(sum[:]) || m.Inputs[0].Bytes != int64(len(raw)) {
		t.Errorf("manifest %+v, want no records and the digest %x", m, sum)
	}
	got, err := parquet.ReadFile[pqTestRow](filepath.Join(dir, "out.parquet"))
	if err != nil || len(got) != 0 {
		t.Errorf("output: %d rows, %v", len(got), err)
	}
}
