package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	return freshWith(t, freshKeys(t))
}

// freshKeys opens a key store of its own, in a temporary directory,
// closed after the test.
func freshKeys(t testing.TB) *translog.KeyStore {
	t.Helper()
	ks, err := translog.OpenKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func freshWith(t testing.TB, keys store.Keys) store.Store {
	t.Helper()
	s, _, _ := freshStore(t, keys)
	return s
}

// freshStore opens a store with keys in a schema of its own (see
// freshSchema), closed after the test, and returns with it the connection
// to the server and the schema's name.
func freshStore(t testing.TB, keys store.Keys) (store.Store, *pgx.Conn, string) {
	t.Helper()
	admin, schema, url := freshSchema(t)
	s, err := postgres.Open(context.Background(), url, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, admin, schema
}

// freshSchema makes a schema of its own on the test PostgreSQL, dropped
// after the test, and returns a connection to the server (closed after
// the test), the schema's name and the URL of a store in it.
func freshSchema(t testing.TB) (admin *pgx.Conn, schema, url string) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn())
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (.ci/run starts it)", dsn(), err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema = "cg_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close(context.Background())
	})
	return admin, schema, dsn() + "&search_path=" + schema
}

// reopenOlder makes the closed store at url as an older consentgate left
// it, by running downgrade on admin; requires a read-only session to find
// it outdated (store.ErrOutdated); and opens it for writing, which
// migrates it, closed after the test.
func reopenOlder(t testing.TB, admin *pgx.Conn, url string, keys store.Keys, downgrade ...string) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	for _, q := range downgrade {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := postgres.OpenWith(ctx, url, keys, store.OpenOptions{ReadOnly: true}); !errors.Is(err, store.ErrOutdated) {
		t.Fatalf("read-only open of the older schema: %v", err)
	}
	s, err := postgres.Open(ctx, url, keys)
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

// TestSplitScans: a full scan split into COPYs of page ranges (as a large
// table's is) yields the same rows as one COPY, and the as-of bound still
// holds for consent events.
func TestSplitScans(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	var subs []consent.SubjectEvent
	var cons []consent.Event
	for i := range 3000 {
		subs = append(subs, consent.SubjectEvent{Subject: fmt.Sprintf("m%05d", i), At: timestamp.Time(1_000 + i), RegionSet: true, Region: "DE",
			Attributes: map[string]*string{"plan": ptr(fmt.Sprintf("plan-%d-with-some-padding-to-fill-pages", i%7))}})
		cons = append(cons, consent.Event{Subject: fmt.Sprintf("m%05d", i), Purpose: "train_ai_system", Recipient: "third_party",
			State: policy.State(1 + i%2), At: timestamp.Time(2_000 + i), Source: "settings"})
	}
	if _, err := s.AddSubjectEvents(ctx, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddConsentEvents(ctx, cons); err != nil {
		t.Fatal(err)
	}
	scan := func() (subjects, consents map[string]int) {
		subjects, consents = map[string]int{}, map[string]int{}
		err := s.ScanSubjects(ctx, timestamp.Max, nil, func(r *store.SubjectRow) error {
			subjects[fmt.Sprintf("%d %s %d %v %s %s", r.Seq, r.Subject, r.At, r.RegionSet, r.Region, r.Attrs)]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.ScanConsent(ctx, timestamp.Time(2_000+1999), nil, func(r *store.ConsentRow) error {
			consents[fmt.Sprintf("%d %s %s %s %d %d %s", r.Seq, r.Subject, r.Purpose, r.Recipient, r.State, r.At, r.Source)]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return subjects, consents
	}
	s1, c1 := scan()
	restore := postgres.SetSplitPages(1)
	defer restore()
	s2, c2 := scan()
	if len(s1) != 3000 || len(c1) != 2000 {
		t.Fatalf("one COPY: %d subject rows, %d consent rows; want 3000, 2000", len(s1), len(c1))
	}
	if !maps.Equal(s1, s2) || !maps.Equal(c1, c2) {
		t.Errorf("split scans: %d subject rows, %d consent rows; one COPY: %d, %d", len(s2), len(c2), len(s1), len(c1))
	}
	// A callback's error stops a split scan and is returned.
	stop := errors.New("stop")
	n := 0
	err := s.ScanSubjects(ctx, timestamp.Max, nil, func(*store.SubjectRow) error {
		if n++; n == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("a callback's error: %v", err)
	}
	if _, _, err := s.EventCounts(ctx); err != nil { // the pool is still usable
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
