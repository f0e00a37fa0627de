package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/store/storetest"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, keys store.Keys) store.Store {
		s, err := sqlite.OpenWithKeys(context.Background(), filepath.Join(t.TempDir(), "store.db"), keys)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.PublishPolicy(ctx, store.Policy{Version: "v", Source: []byte("x"), Digest: "d"})
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps, err := s.Policies(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("after reopen: %v %v", ps, err)
	}
}

// TestVerifyWhileWriting: log verify on a store that a writer appends to
// meanwhile (a live server) passes, verifying what was appended too.
func TestVerifyWhileWriting(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := translog.OpenKeys(path + ".keys")
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	signer, _ := translog.LoadSigner(t.TempDir(), "t")
	s.PublishPolicy(ctx, store.Policy{Version: "v", Source: []byte("x"), Digest: "d"})
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			var evs []consent.Event
			for k := range 50 {
				evs = append(evs, consent.Event{Subject: fmt.Sprint("s", k), Purpose: "p", State: policy.Denied, At: timestamp.Time(n*50 + k + 1), Source: "api"})
			}
			if _, err := s.AddConsentEvents(ctx, evs); err != nil {
				t.Error(err)
			}
			if n%7 == 0 {
				s.PublishPolicy(ctx, store.Policy{Version: fmt.Sprint("v", n), Source: []byte("x"), Digest: "d", EffectiveFrom: timestamp.Time(n + 1)})
			}
			n++
		}
	}()
	verified := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); verified++ {
		if _, err := translog.Verify(ctx, s, keys, signer.Verifier, nil); err != nil {
			t.Fatalf("verify while writing: %v", err)
		}
	}
	close(stop)
	if n := <-done; n < 5 || verified < 3 {
		t.Fatalf("the writer wrote %d batches during %d verifications: no overlap to speak of", n, verified)
	}
}
