package gate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/gate"
)

// BenchmarkVerifyLog verifies a log of about a million leaves (issue 12:
// ≤ 3 s): a world of 725,000 members' subject events and a third as many
// consent events, imported through the application with the log on (made
// once under $TMPDIR/consentgate-bench-verify-725000, 20–30 s), or the
// store $CONSENTGATE_BENCH_STORE names.
func BenchmarkVerifyLog(b *testing.B) {
	path := os.Getenv("CONSENTGATE_BENCH_STORE")
	if path == "" {
		path = verifyWorld(b, 725_000)
	}
	g, err := gate.Open(ctx, gate.Config{Store: path, Mode: gate.ReadOnly})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	for b.Loop() {
		rep, err := g.VerifyLog(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Size), "leaves")
	}
}

func verifyWorld(b *testing.B, subjects int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("consentgate-bench-verify-%d", subjects))
	store := filepath.Join(dir, "store.db")
	if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
		// A world made by an older consentgate: a writing session brings
		// its schema up to date (the benchmark's session is read-only).
		g, err := gate.Open(ctx, gate.Config{Store: store, Mode: gate.Write, Deployment: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Close(); err != nil {
			b.Fatal(err)
		}
		return store
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	files, err := demo.GenerateScale(dir, subjects, 0, 7)
	if err != nil {
		b.Fatal(err)
	}
	g, err := gate.Open(ctx, gate.Config{Store: store, Mode: gate.Create, Deployment: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	names, srcs := demo.PolicyFiles()
	for _, n := range names {
		pf, err := gate.ReadPolicy(n, srcs[n])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Publish(ctx, access.Local, pf, true); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := g.ImportSubjects(ctx, files.Subjects); err != nil {
		b.Fatal(err)
	}
	if _, err := g.ImportConsent(ctx, files.Consent); err != nil {
		b.Fatal(err)
	}
	if err := g.Close(); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
	b.Logf("made the world in %v", time.Since(start))
	return store
}
