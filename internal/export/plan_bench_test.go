package export_test

import (
	"context"
	"testing"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/store"
)

// BenchmarkNewPlan: preparing an export over a loaded view of 1 M subjects
// (each subject's consent and its class in every policy version).
func BenchmarkNewPlan(b *testing.B) {
	w := openWorld(b, 1_000_000, 2_000_000)
	view, err := store.LoadView(context.Background(), w.st, benchAsOf, w.vs.Attributes(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := decision.NewPlan(w.vs, view, demo.ExportPurpose, demo.ExportRecipient); err != nil {
			b.Fatal(err)
		}
	}
}
