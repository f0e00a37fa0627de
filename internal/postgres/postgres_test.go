package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/deliver"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/store/storetest"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// dsn is the PostgreSQL the tests use: CONSENTGATE_TEST_POSTGRES, or the
// server on this machine (127.0.0.1:5432, trust auth, database test).
func dsn() string {
	if d := os.Getenv("CONSENTGATE_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://127.0.0.1:5432/test?sslmode=disable"
}

// fresh opens a store in a schema of its own, dropped after the test, with
// a key store of its own.
func fresh(t testing.TB) store.Store {
	t.Helper()
	ks, err := translog.OpenKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return freshWith(t, ks)
}

func freshWith(t testing.TB, keys store.Keys) store.Store {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn())
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (.ci/run starts it)", dsn(), err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "cg_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close(context.Background())
	})
	s, err := postgres.Open(ctx, dsn()+"&search_path="+schema, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, keys store.Keys) store.Store { return freshWith(t, keys) })
}

// TestDeliverFollowsConcurrentWriters runs the deliverer against
// PostgreSQL while four writers store consent events: every event reaches
// the webhook once the writers stop, in order per subject.
func TestDeliverFollowsConcurrentWriters(t *testing.T) {
	s := fresh(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []deliver.Message
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b deliver.Body
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, b.Events...)
		mu.Unlock()
	}))
	defer srv.Close()
	done := make(chan error, 1)
	go func() {
		done <- deliver.Run(ctx, s, &deliver.Webhook{URL: srv.URL, Key: []byte("k")}, deliver.Options{Batch: 37, Poll: 10 * time.Millisecond})
	}()
	const writers, batches, per = 4, 20, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var evs []consent.Event
				for i := range per {
					evs = append(evs, consent.Event{Subject: fmt.Sprintf("w%d", w), Purpose: "p", State: policy.State(1 + i%2),
						At: timestamp.Time(b*per + i), Source: "api"})
				}
				if _, err := s.AddConsentEvents(context.Background(), evs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= writers*batches*per || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	next := map[string]timestamp.Time{}
	for _, m := range got {
		if m.At != next[m.Subject] {
			t.Fatalf("subject %s: event at %d, expected %d: out of order or missing", m.Subject, m.At, next[m.Subject])
		}
		next[m.Subject]++
	}
	if len(got) != writers*batches*per {
		t.Fatalf("%d of %d events delivered", len(got), writers*batches*per)
	}
}
