package export_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/timestamp"
)

type rowsRecord struct {
	ID    string  `parquet:"id"`
	T     string  `parquet:"t"`
	A     string  `parquet:"a"`
	Score float64 `parquet:"score"`
}

// TestRowDeciderShardsFinalize is TestDeciderShardsFinalize for a Parquet
// input: rows decided by export.NewRowDecider in batches that are not the
// export's, their included rows written to rows-i.parquet shards in runs
// of any size, and export.Finalize must give the Parquet bytes, rejects,
// counts and records_root of export.Run.
func TestRowDeciderShardsFinalize(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	var recs []rowsRecord
	for i := 0; i < 5000; i++ {
		author := fmt.Sprintf("u%d", i%100)
		if i%7 == 0 {
			author = fmt.Sprintf("d%d", i%10)
		}
		score := float64(i)
		if i%50 == 0 {
			score = math.NaN() // no JSON form: malformed
		}
		recs = append(recs, rowsRecord{fmt.Sprintf("r%d", i), "2024-01-01T00:00:00Z", author, score})
	}
	path := filepath.Join(dir, "in.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[rowsRecord](f)
	for i := 0; i < len(recs); i += 700 { // row groups of 700 rows
		if _, err := w.Write(recs[i:min(i+700, len(recs))]); err != nil {
			t.Fatal(err)
		}
		w.Flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want, err := export.Run(context.Background(), export.Options{Plan: p, Fields: testFields, Inputs: []string{path},
		Out: filepath.Join(dir, "want.parquet"), Rejects: filepath.Join(dir, "want.rej"), Workers: 2, Now: 1})
	if err != nil {
		t.Fatal(err)
	}

	// The rows, as the pipeline reads them.
	in, _ := os.Open(path)
	defer in.Close()
	st, _ := in.Stat()
	pf, err := parquet.OpenFile(in, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	schema := pf.Schema()
	var rows []parquet.Row
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		buf := make([]parquet.Row, 100)
		for {
			n, err := rr.ReadRows(buf)
			for _, r := range buf[:n] {
				rows = append(rows, r.Clone())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rr.Close()
	}
	enc := record.NewRowEncoder(schema)

	shards := filepath.Join(dir, "shards")
	d := export.NewRowDecider(p, testFields, []string{path}, true)
	const perBatch, perShard = 97, 3
	var kept []parquet.Row
	sw := newShardWriter(t, shards, d, perShard, func(shard int, _ []byte) {
		rf, err := os.Create(export.ShardFile(shards, "rows", shard))
		if err != nil {
			t.Fatal(err)
		}
		rw := parquet.NewWriter(rf, schema)
		for i := 0; i < len(kept); i += 10 + shard { // runs that are not the export's
			if _, err := rw.WriteRows(kept[i:min(i+10+shard, len(kept))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		rf.Close()
		kept = nil
	})
	for start := 0; start < len(rows); start += perBatch {
		end := min(start+perBatch, len(rows))
		var data []byte
		for _, r := range rows[start:end] {
			n := len(data)
			if data, err = enc.Append(data, r); err != nil {
				data = append(append(data[:n], 0), err.Error()...)
			}
			data = append(data, '\n')
		}
		r := d.Decide(0, start+1, data)
		if len(r.Out) != 0 || int64(len(r.Kept)) != r.Included {
			t.Fatalf("a row decider's batch: %d bytes out, %d rows kept of %d included", len(r.Out), len(r.Kept), r.Included)
		}
		for _, k := range r.Kept {
			kept = append(kept, rows[start+int(k)])
		}
		sw.add(r)
	}
	sw.flush()
	sw.writeJob(p, want, "parquet")

	got, err := export.Finalize(context.Background(), export.FinalizeOptions{Dir: shards, Out: filepath.Join(dir, "got.parquet"),
		Rejects: filepath.Join(dir, "got.rej"), Now: timestamp.Time(1)})
	if err != nil {
		t.Fatal(err)
	}
	for g, w := range map[string]string{"got.parquet": "want.parquet", "got.rej": "want.rej"} {
		gb, _ := os.ReadFile(filepath.Join(dir, g))
		wb, _ := os.ReadFile(filepath.Join(dir, w))
		if len(wb) == 0 || !bytes.Equal(gb, wb) {
			t.Fatalf("%s (%d bytes) differs from %s (%d bytes)", g, len(gb), w, len(wb))
		}
	}
	if !strings.Contains(string(mustRead(t, filepath.Join(dir, "got.rej"))), `"row":51,`) {
		t.Fatalf("the rejects do not name rows:\n%.300s", mustRead(t, filepath.Join(dir, "got.rej")))
	}
	if got.RecordsRoot != want.RecordsRoot || got.Subjects != want.Subjects || got.Counts.Read != want.Counts.Read ||
		got.Counts.Included != want.Counts.Included || fmt.Sprint(got.Counts.ExcludedByReason) != fmt.Sprint(want.Counts.ExcludedByReason) ||
		got.Output.Format != "parquet" || got.Output.Format != want.Output.Format || want.Counts.Included == 0 {
		t.Fatalf("manifests differ:\n%+v\n%+v", got, want)
	}

	// A shard of another schema (inputs that differ): refused, nothing
	// written.
	other, _ := os.Create(export.ShardFile(shards, "rows", 1))
	ow := parquet.NewGenericWriter[struct {
		ID string `parquet:"id"`
	}](other)
	ow.Close()
	other.Close()
	_, err = export.Finalize(context.Background(), export.FinalizeOptions{Dir: shards, Out: filepath.Join(dir, "bad.parquet"), Now: 1})
	if err == nil || !strings.Contains(err.Error(), "rows-00001.parquet: its Parquet schema differs from that of") {
		t.Fatalf("a shard of another schema: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*bad*")); len(m) > 0 {
		t.Fatalf("a failed finalize left %v", m)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
