package export_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/redact"
	"github.com/consentgate/consentgate/internal/snapshot"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// benchWorld is a generated world in a store, kept on disk between
// benchmark runs (the directory name carries its size).
type benchWorld struct {
	dir   string
	files *demo.ScaleFiles
	st    store.Store
	vs    *decision.Versions
}

func openWorld(b *testing.B, subjects, records int) *benchWorld {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("consentgate-bench-v2-%d-%d", subjects, records))
	ready := filepath.Join(dir, "ready")
	files := &demo.ScaleFiles{Subjects: filepath.Join(dir, "subjects.jsonl"), Consent: filepath.Join(dir, "consent.jsonl"), Records: filepath.Join(dir, "records.jsonl")}
	ctx := context.Background()
	if _, err := os.Stat(ready); err != nil {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := demo.GenerateScale(dir, subjects, records, 7); err != nil {
			b.Fatal(err)
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "store.db"))
		if err != nil {
			b.Fatal(err)
		}
		if err := demo.ImportScale(ctx, st, files); err != nil {
			b.Fatal(err)
		}
		st.Close()
		os.WriteFile(ready, nil, 0o644)
		b.Logf("generated and imported the world in %v", time.Since(start))
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "store.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	vs, _, err := store.LoadVersions(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	return &benchWorld{dir: dir, files: files, st: st, vs: vs}
}

var benchAsOf = timestamp.FromTime(time.Date(2025, 1, 21, 0, 0, 0, 0, time.UTC))

var benchFields = record.Fields{ID: "id", Time: "created_at", Category: "kind", Subjects: []record.SubjectField{
	{Role: policy.Author, Path: "author"}, {Role: policy.RecipientRole, Path: "to"}}}

// peakHeap samples the heap while fn runs and returns the largest in-use size.
func peakHeap(fn func()) uint64 {
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak
}

// BenchmarkLoadView: loading the point-in-time view of every subject from
// the store (SPEC §10: 1 M subjects ≤ 1 s).
func BenchmarkLoadView(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("subjects=%d", n), func(b *testing.B) {
			w := openWorld(b, n, 2*n)
			for b.Loop() {
				v, err := store.LoadView(context.Background(), w.st, benchAsOf, w.vs.Attributes(), nil)
				if err != nil {
					b.Fatal(err)
				}
				if v.Len() != n {
					b.Fatalf("view has %d subjects", v.Len())
				}
			}
		})
	}
}

// BenchmarkSnapshot writes the snapshot of the 1 M-subject world and loads
// the view back from it (issue 6; the view from a snapshot should load as
// fast as from the store).
func BenchmarkSnapshot(b *testing.B) {
	w := openWorld(b, 1_000_000, 2_000_000)
	path := filepath.Join(b.TempDir(), "snap.cgs")
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			sum, err := snapshot.Write(context.Background(), w.st, benchAsOf, timestamp.Now(), path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(sum.Bytes)/1e6, "MB")
		}
	})
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			f, err := snapshot.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			v, _, err := f.LoadView(w.vs.Attributes())
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			if v.Len() != 1_000_000 {
				b.Fatalf("view has %d subjects", v.Len())
			}
		}
	})
}

// BenchmarkExport: the export's records pass over a generated world, on 2
// workers (SPEC §10: ≥ 500 MB/s of input; memory grows with subjects, not
// records). It reports MB/s, CPU time and the peak heap during the pass.
// BENCH_REJECTS=FILE also writes the rejects file (90% of the records);
// CONSENTGATE_BENCH_LARGE=1 adds a world of 10 M records.
func BenchmarkExport(b *testing.B) {
	sizes := []struct{ subjects, records int }{{100_000, 200_000}, {1_000_000, 2_000_000}}
	if os.Getenv("CONSENTGATE_BENCH_LARGE") != "" {
		// 10 M records (2.3 GB) over 1 M subjects: memory must not grow with records.
		sizes = append(sizes, struct{ subjects, records int }{1_000_000, 10_000_000})
	}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("subjects=%d/records=%d", size.subjects, size.records), func(b *testing.B) {
			w := openWorld(b, size.subjects, size.records)
			view, err := store.LoadView(context.Background(), w.st, benchAsOf, w.vs.Attributes(), nil)
			if err != nil {
				b.Fatal(err)
			}
			plan, err := decision.NewPlan(w.vs, view, demo.ExportPurpose, demo.ExportRecipient)
			if err != nil {
				b.Fatal(err)
			}
			st, _ := os.Stat(w.files.Records)
			b.SetBytes(st.Size())
			out := filepath.Join(b.TempDir(), "out.jsonl")
			runtime.GC()
			var peak uint64
			var m *export.Manifest
			cpu0 := cpuSeconds()
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					m, err = export.Run(context.Background(), export.Options{Plan: plan, Fields: benchFields,
						Inputs: []string{w.files.Records}, Out: out, Rejects: os.Getenv("BENCH_REJECTS"), Workers: 2, Now: benchAsOf})
					if err != nil {
						b.Fatal(err)
					}
				}))
			}
			if m.Counts.Read != int64(size.records) || m.Counts.Included == 0 {
				b.Fatalf("counts %+v", m.Counts)
			}
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(m.Counts.Included)/float64(m.Counts.Read)*100, "%included")
		})
	}
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkExportRedact: the export with every detector on the text field,
// the member detector included (issue 7: ≥ 100 MB/s of input on 2
// workers). recipient=self includes about half the records (the opt-out
// default for first-party training), partner-x about a tenth.
func BenchmarkExportRedact(b *testing.B) {
	w := openWorld(b, 1_000_000, 2_000_000)
	view, err := store.LoadView(context.Background(), w.st, benchAsOf, append(w.vs.Attributes(), export.MemberAttributes...), nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := redact.ParseConfig("bench.yaml", []byte("fields: [text]\ndetectors:\n  email: replace\n  phone: hash\n  card: drop\n  iban: replace\n  ip: replace\n  url: replace\n  ssn: replace\n  member: replace\n"))
	if err != nil {
		b.Fatal(err)
	}
	for _, recipient := range []string{demo.ExportRecipient, "self"} {
		b.Run("recipient="+recipient, func(b *testing.B) {
			plan, err := decision.NewPlan(w.vs, view, demo.ExportPurpose, recipient)
			if err != nil {
				b.Fatal(err)
			}
			st, _ := os.Stat(w.files.Records)
			b.SetBytes(st.Size())
			out := filepath.Join(b.TempDir(), "out.jsonl")
			var m *export.Manifest
			for b.Loop() {
				if m, err = export.Run(context.Background(), export.Options{Plan: plan, Fields: benchFields, Inputs: []string{w.files.Records},
					Out: out, Workers: 2, Now: benchAsOf, Redact: cfg, RedactKey: []byte("k")}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(m.Counts.Included)/float64(m.Counts.Read)*100, "%included")
		})
	}
}
