package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
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

// BenchmarkConcurrentConsentWrites: 32 writers each recording one consent
// event at a time, each acknowledged only once committed (synchronous=FULL):
// the group commit shares one transaction, one log append and one fsync
// among the writers waiting (SPEC §10: ≥ 5,000 durable writes/s).
func BenchmarkConcurrentConsentWrites(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var n atomic.Int64
	b.SetParallelism(16) // × GOMAXPROCS 2 = 32 writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ev := consent.Event{Subject: fmt.Sprintf("w%07d", i%50_000), Purpose: "train_ai_system", State: policy.State(1 + i%2),
				At: timestamp.Time(1_700_000_000_000_000 + i), Source: "settings"}
			if added, err := st.AddConsentEvents(ctx, []consent.Event{ev}); err != nil || added != 1 {
				b.Fatalf("added %d: %v", added, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
