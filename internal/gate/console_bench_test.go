package gate_test

import (
	"os"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

// BenchmarkConsole answers the admin console over the demo's store with
// 100,000 members ($CONSENTGATE_BENCH_CONSOLE names one, e.g. made by
// `consentgate demo --members 100000 --dir D`), as a server does: its view
// of every member loaded once, the console's answer each time.
func BenchmarkConsole(b *testing.B) {
	path := os.Getenv("CONSENTGATE_BENCH_CONSOLE")
	if path == "" {
		b.Skip("set CONSENTGATE_BENCH_CONSOLE to a demo store (consentgate demo --members 100000 --dir D; D/demo.db)")
	}
	g, err := gate.Open(ctx, gate.Config{Store: path, Mode: gate.ReadOnly, Serving: true})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Console(ctx, access.Local, gate.ImpactFilter{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := g.Console(ctx, access.Local, gate.ImpactFilter{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrivacyCentre answers one member's privacy centre over the same
// store — settings, history, report and what happened after their opt-out
// (the notices) — for a member with an impact item.
func BenchmarkPrivacyCentre(b *testing.B) {
	path := os.Getenv("CONSENTGATE_BENCH_CONSOLE")
	if path == "" {
		b.Skip("set CONSENTGATE_BENCH_CONSOLE to a demo store (consentgate demo --members 100000 --dir D; D/demo.db)")
	}
	g, err := gate.Open(ctx, gate.Config{Store: path, Mode: gate.ReadOnly, Serving: true})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	items, err := g.Impact(ctx, access.Local, 0)
	if err != nil || len(items) == 0 {
		b.Fatalf("no impact item in %s: %v", path, err)
	}
	id := items[0].Subject
	p := access.Principal{Role: access.Subject, Subject: id}
	for b.Loop() {
		pc, err := g.PrivacyCentre(ctx, p, id)
		if err != nil || len(pc.AfterOptOut) == 0 {
			b.Fatalf("%v %+v", err, pc)
		}
	}
}
