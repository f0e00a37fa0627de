package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// BenchmarkImportConsent stores 200,000 consent events through COPY into an
// empty PostgreSQL store (issue 6: ≥ 100,000 events/s).
func BenchmarkImportConsent(b *testing.B) {
	const n = 200_000
	evs := make([]consent.Event, n)
	for i := range evs {
		evs[i] = consent.Event{Subject: fmt.Sprintf("m%07d", i%500_000), Purpose: "train_ai_system", Recipient: "third_party",
			State: policy.State(1 + i%2), At: timestamp.Time(1_700_000_000_000_000 + int64(i)*1000), Source: "settings"}
	}
	for b.Loop() {
		b.StopTimer()
		s := fresh(b) // an empty store each time; dropped when the benchmark ends
		b.StartTimer()
		added, err := s.AddConsentEvents(context.Background(), evs)
		if err != nil || added != n {
			b.Fatalf("added %d: %v", added, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchWorld is the benchmark world of the export benchmarks
// (demo.GenerateScale, seed 7) in a PostgreSQL schema of its own, kept
// between runs like the SQLite one: its files and subject keys under
// $TMPDIR/consentgate-pgbench-SUBJECTS-RECORDS/, its store in the schema
// cg_bench_SUBJECTS_RECORDS (drop it to start afresh).
type benchWorld struct {
	dir, dsn string
	files    *demo.ScaleFiles
	st       store.Store
	vs       *decision.Versions
}

func openWorld(b *testing.B, subjects, records int) *benchWorld {
	b.Helper()
	ctx := context.Background()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("consentgate-pgbench-%d-%d", subjects, records))
	files := &demo.ScaleFiles{Subjects: filepath.Join(dir, "subjects.jsonl"), Consent: filepath.Join(dir, "consent.jsonl"), Records: filepath.Join(dir, "records.jsonl")}
	schema := fmt.Sprintf("cg_bench_%d_%d", subjects, records)
	w := &benchWorld{dir: dir, dsn: dsn() + "&search_path=" + schema, files: files}
	admin, err := pgx.Connect(ctx, dsn())
	if err != nil {
		b.Fatalf("PostgreSQL at %s: %v", dsn(), err)
	}
	defer admin.Close(ctx)
	var ready bool
	admin.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, schema+".bench_ready").Scan(&ready)
	if _, err := os.Stat(filepath.Join(dir, "ready")); err != nil || !ready {
		start := time.Now()
		if _, err := os.Stat(filepath.Join(dir, "generated")); err != nil {
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			if _, err := demo.GenerateScale(dir, subjects, records, 7); err != nil {
				b.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "generated"), nil, 0o644)
		}
		os.RemoveAll(filepath.Join(dir, "keys"))
		os.Remove(filepath.Join(dir, "ready"))
		if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			b.Fatal(err)
		}
		if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			b.Fatal(err)
		}
		ks, err := translog.OpenKeys(filepath.Join(dir, "keys"))
		if err != nil {
			b.Fatal(err)
		}
		st, err := postgres.Open(ctx, w.dsn, ks)
		if err != nil {
			b.Fatal(err)
		}
		if err := demo.ImportScale(ctx, st, files); err != nil {
			b.Fatal(err)
		}
		st.Close()
		ks.Close()
		if _, err := admin.Exec(ctx, `CREATE TABLE `+schema+`.bench_ready ()`); err != nil {
			b.Fatal(err)
		}
		if _, err := admin.Exec(ctx, `VACUUM ANALYZE `+schema+`.subject_events`); err != nil {
			b.Fatal(err)
		}
		if _, err := admin.Exec(ctx, `VACUUM ANALYZE `+schema+`.consent_events`); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
		b.Logf("generated and imported the world in %v", time.Since(start))
	}
	ks, err := translog.OpenKeys(filepath.Join(dir, "keys"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ks.Close() })
	st, err := postgres.Open(ctx, w.dsn, ks)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	vs, _, err := store.LoadVersions(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	w.st, w.vs = st, vs
	b.Logf("store %s, keys %s, records %s", w.dsn, filepath.Join(dir, "keys"), files.Records)
	return w
}

var benchAsOf = timestamp.FromTime(time.Date(2025, 1, 21, 0, 0, 0, 0, time.UTC))

// BenchmarkLoadView: loading the point-in-time view of every subject from
// PostgreSQL (SPEC §10: 1 M subjects ≤ 1 s; issue 17).
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
