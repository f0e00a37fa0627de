package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// BenchmarkImportConsent imports a file of consent events into an empty
// store, as `consentgate consent import` does: read and validate each line
// and store them, streaming, in one transaction (SPEC §10: ≥ 100,000
// events/s).
func BenchmarkImportConsent(b *testing.B) {
	const n = 200_000
	dir := b.TempDir()
	file := filepath.Join(dir, "consent.jsonl")
	f, _ := os.Create(file)
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		state := "granted"
		if i%3 == 0 {
			state = "denied"
		}
		fmt.Fprintf(w, `{"subject":"m%07d","purpose":"train_ai_system","recipient":"third_party","state":%q,"at":"2024-%02d-%02dT%02d:%02d:00Z","source":"settings"}`+"\n",
			i%500_000, state, 1+i%12, 1+i%28, i%24, i%60)
	}
	w.Flush()
	f.Close()
	ctx := context.Background()
	now := timestamp.Now()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		k++
		st, err := sqlite.Open(ctx, filepath.Join(dir, fmt.Sprintf("s%d.db", k)))
		if err != nil {
			b.Fatal(err)
		}
		_, added, err := st.ImportConsentEvents(ctx, consent.ConsentFile(file, now, nil))
		if err != nil || added != n {
			b.Fatalf("added %d: %v", added, err)
		}
		st.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
