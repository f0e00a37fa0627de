package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
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
