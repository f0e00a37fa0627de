package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/httpapi"
)

// BenchmarkServerLoad starts the server on a loopback listener over a
// SQLite store of 100,000 subjects and drives it from 32 connections
// (SPEC §10: ≥ 20,000 consent reads/s, ≥ 5,000 durable writes/s), reporting
// throughput and p50/p99 latency.
func BenchmarkServerLoad(b *testing.B) {
	dir := b.TempDir()
	serverLoad(b, dir, filepath.Join(dir, "s.db"), "")
}

// BenchmarkServerLoadPostgres is BenchmarkServerLoad over the PostgreSQL
// on this machine (127.0.0.1:5432, database test, a schema of its own).
func BenchmarkServerLoadPostgres(b *testing.B) {
	ctx := context.Background()
	dsn := os.Getenv("CONSENTGATE_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatalf("PostgreSQL at %s: %v", dsn, err)
	}
	schema := fmt.Sprintf("cg_bench_%d", time.Now().UnixNano())
	admin.Exec(ctx, "CREATE SCHEMA "+schema)
	defer func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	}()
	dir := b.TempDir()
	serverLoad(b, dir, dsn+"&search_path="+schema, filepath.Join(dir, "keys"))
}

func serverLoad(b *testing.B, dir, dsn, keys string) {
	ctx := context.Background()
	g, err := gate.Open(ctx, gate.Config{Store: dsn, Keys: keys, Mode: gate.Create, Deployment: "bench", Serving: true})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	publish(b, g, testPolicy)
	const subjects = 100_000
	var evs, cons strings.Builder
	for i := range subjects {
		fmt.Fprintf(&evs, `{"subject":"m%06d","at":"2020-09-13T12:26:40Z","region":%q}`+"\n", i, []string{"US", "DE", "BR", "GB"}[i%4])
		if i%3 == 0 {
			fmt.Fprintf(&cons, `{"subject":"m%06d","purpose":"train_ai_system","recipient":"third_party","state":"denied","at":"2022-04-15T05:20:00Z","source":"settings"}`+"\n", i)
		}
	}
	if _, err := g.ImportSubjects(ctx, writeFile(b, dir, "subjects.jsonl", evs.String())); err != nil {
		b.Fatal(err)
	}
	if _, err := g.ImportConsent(ctx, writeFile(b, dir, "consent.jsonl", cons.String())); err != nil {
		b.Fatal(err)
	}
	secret, err := g.CreateToken(ctx, access.Operator, "")
	if err != nil {
		b.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Gate: g, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}

	const conns = 32
	drive := func(b *testing.B, req func(r *rand.Rand) *http.Request, want int) {
		var next atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(c), 7))
				var mine []time.Duration
				for next.Add(1) <= int64(b.N) {
					q := req(r)
					q.Header.Set("Authorization", "Bearer "+secret)
					t0 := time.Now()
					resp, err := client.Do(q)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mine = append(mine, time.Since(t0))
					if resp.StatusCode != want {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		slices.Sort(lat)
		if len(lat) > 0 {
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		}
		b.ReportMetric(0, "ns/op")
	}
	b.Run("reads", func(b *testing.B) {
		drive(b, func(r *rand.Rand) *http.Request {
			q, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/subjects/m%06d/consents", hs.URL, r.IntN(subjects)), nil)
			return q
		}, 200)
	})
	var seq atomic.Int64
	b.Run("writes", func(b *testing.B) {
		drive(b, func(r *rand.Rand) *http.Request {
			state := []string{"granted", "denied"}[r.IntN(2)]
			at := time.Unix(1_700_000_000+seq.Add(1), 0).UTC().Format(time.RFC3339)
			body := fmt.Sprintf(`{"purpose":"train_ai_system","recipient":"third_party","state":%q,"at":%q,"source":"settings"}`, state, at)
			q, _ := http.NewRequest("POST", fmt.Sprintf("%s/v1/subjects/m%06d/consents", hs.URL, r.IntN(subjects)), strings.NewReader(body))
			return q
		}, 201)
	})
}

// BenchmarkBatchDecisions: POST /v1/decisions with 10,000 records over 100
// subjects, two as-of times.
func BenchmarkBatchDecisions(b *testing.B) {
	w := newWorld(b)
	var recs []string
	for i := range 10_000 {
		recs = append(recs, fmt.Sprintf(`{"subjects":[{"id":"s%d"}],"category":"user.content.public","created":"2019-01-01T00:00:00Z","purpose":"train_ai_system.generative","recipient":"partner-x","as_of":"%d-06-01T00:00:00Z"}`, i%100, 2020+i%2))
	}
	body := "[" + strings.Join(recs, ",") + "]"
	for b.Loop() {
		if code, out := w.do("auditor", "POST", "/v1/decisions", body); code != 200 {
			b.Fatalf("%d %s", code, out[:200])
		}
	}
	b.ReportMetric(10_000*float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
