package consent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchConsentFile writes n consent lines shaped as BenchmarkImportConsent's.
func benchConsentFile(b *testing.B, n int) string {
	b.Helper()
	file := filepath.Join(b.TempDir(), "consent.jsonl")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
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
	return file
}

// benchSubjectsFile writes n subjects lines with a region and three attributes.
func benchSubjectsFile(b *testing.B, n int) string {
	b.Helper()
	file := filepath.Join(b.TempDir(), "subjects.jsonl")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, `{"subject":"m%07d","at":"2019-%02d-01T00:00:00Z","region":"DE","attributes":{"tier":"premium","age":%d,"verified":true}}`+"\n", i, 1+i%12, 18+i%60)
	}
	w.Flush()
	f.Close()
	return file
}

// BenchmarkConsentFile reads and validates a consent file as the import
// does (without storing): SPEC §10's import bar leaves the parse a small
// share of 10 µs an event.
func BenchmarkConsentFile(b *testing.B) {
	const n = 200_000
	file := benchConsentFile(b, n)
	b.ReportAllocs()
	for b.Loop() {
		k := 0
		for _, err := range ConsentFile(file, now, nil) {
			if err != nil {
				b.Fatal(err)
			}
			k++
		}
		if k != n {
			b.Fatal(k)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSubjectsFile reads and validates a subjects file as the import does.
func BenchmarkSubjectsFile(b *testing.B) {
	const n = 200_000
	file := benchSubjectsFile(b, n)
	b.ReportAllocs()
	for b.Loop() {
		k := 0
		for _, err := range SubjectsFile(file, now) {
			if err != nil {
				b.Fatal(err)
			}
			k++
		}
		if k != n {
			b.Fatal(k)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkParseConsentLine(b *testing.B) {
	line := []byte(`{"subject":"m0000042","purpose":"train_ai_system","recipient":"third_party","state":"denied","at":"2024-09-20T10:00:00Z","source":"settings"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConsentLine(line, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSubjectLine(b *testing.B) {
	line := []byte(`{"subject":"m0000042","at":"2019-03-01T00:00:00Z","region":"DE","attributes":{"tier":"premium","age":42,"verified":true}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSubjectLine(line, now); err != nil {
			b.Fatal(err)
		}
	}
}
