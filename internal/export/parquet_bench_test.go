package export_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/store"
)

// benchRow is a record of the benchmark world as a Parquet row, with a
// struct column (meta), a list column (to) and a TIMESTAMP column
// (created_at), as TestExportParquetNested writes them.
type benchRow struct {
	ID   string `parquet:"id"`
	Meta struct {
		Kind   string `parquet:"kind"`
		Author string `parquet:"author"`
	} `parquet:"meta"`
	To        []string  `parquet:"to,list"`
	CreatedAt time.Time `parquet:"created_at,timestamp(microsecond)"`
	Text      string    `parquet:"text"`
	Likes     int64     `parquet:"likes"`
}

var benchParquetFields = record.Fields{ID: "id", Time: "created_at", Category: "meta.kind", Subjects: []record.SubjectField{
	{Role: policy.Author, Path: "meta.author"}, {Role: policy.RecipientRole, Path: "to"}}}

// benchRowsPerGroup is the row groups' size: 100,000 rows (about 15 MB
// uncompressed), as writers of data lakes make them.
const benchRowsPerGroup = 100_000

// parquetWorld converts the world's records.jsonl to Parquet once, beside
// it in a directory named by the world and the codec, and returns its path.
func parquetWorld(b *testing.B, w *benchWorld, codec string) string {
	b.Helper()
	dir := w.dir + "-parquet-v1"
	path := filepath.Join(dir, "records-"+codec+".parquet")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	in, err := os.Open(w.files.Records)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(tmp)
	opts := []parquet.WriterOption{parquet.MaxRowsPerRowGroup(benchRowsPerGroup)}
	if codec == "snappy" {
		opts = append(opts, parquet.Compression(&parquet.Snappy))
	}
	pw := parquet.NewGenericWriter[benchRow](out, opts...)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	rows := make([]benchRow, 0, 4096)
	flush := func() {
		if _, err := pw.Write(rows); err != nil {
			b.Fatal(err)
		}
		rows = rows[:0]
	}
	for sc.Scan() {
		var r struct {
			ID, Kind, Author, Text string
			To                     []string
			CreatedAt              time.Time `json:"created_at"`
			Likes                  int64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			b.Fatal(err)
		}
		var row benchRow
		row.ID, row.Meta.Kind, row.Meta.Author, row.To, row.CreatedAt, row.Text, row.Likes = r.ID, r.Kind, r.Author, r.To, r.CreatedAt, r.Text, r.Likes
		if row.To == nil {
			row.To = []string{}
		}
		if rows = append(rows, row); len(rows) == cap(rows) {
			flush()
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	flush()
	if err := pw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("converted %s to %s in %v", w.files.Records, path, time.Since(start))
	return path
}

// BenchmarkExportParquet: the export's records pass over the benchmark
// world as Parquet, on 2 workers (issue 18: ≥ 300 MB/s of Parquet input
// from local disk). MB/s counts the Parquet file's bytes; Mrows/s does not
// depend on how well the file is compressed. codec=none is parquet-go's
// default (uncompressed pages), codec=snappy what Spark writes by default.
func BenchmarkExportParquet(b *testing.B) {
	w := openWorld(b, 1_000_000, 2_000_000)
	view, err := store.LoadView(context.Background(), w.st, benchAsOf, w.vs.Attributes(), nil)
	if err != nil {
		b.Fatal(err)
	}
	plan, err := decision.NewPlan(w.vs, view, demo.ExportPurpose, demo.ExportRecipient)
	if err != nil {
		b.Fatal(err)
	}
	for _, codec := range []string{"none", "snappy"} {
		b.Run("codec="+codec, func(b *testing.B) {
			in := parquetWorld(b, w, codec)
			st, err := os.Stat(in)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ReportAllocs()
			out := filepath.Join(b.TempDir(), "out.parquet")
			runtime.GC()
			var peak uint64
			var m *export.Manifest
			cpu0 := cpuSeconds()
			start := time.Now()
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					m, err = export.Run(context.Background(), export.Options{Plan: plan, Fields: benchParquetFields,
						Inputs: []string{in}, Out: out, Rejects: os.Getenv("BENCH_REJECTS"), Workers: 2, Now: benchAsOf})
					if err != nil {
						b.Fatal(err)
					}
				}))
			}
			if m.Counts.Read != 2_000_000 || m.Counts.Included == 0 {
				b.Fatalf("counts %+v", m.Counts)
			}
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(m.Counts.Read)/1e6/(time.Since(start).Seconds()/float64(b.N)), "Mrows/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(st.Size())/1e6, "file-MB")
			b.ReportMetric(float64(m.Counts.Included)/float64(m.Counts.Read)*100, "%included")
		})
	}
}
