package deliver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/consentgate/consentgate/internal/deliver"
)

// BenchmarkWebhook drains 100,000 stored consent events to a local webhook
// in batches of 500: the store reads, the JSON, the signatures and HTTP.
func BenchmarkWebhook(b *testing.B) {
	const n = 100_000
	st := openStore(b, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	i := 0
	for b.Loop() {
		i++
		hook := deliver.ChangesWebhook(make([]byte, 32), fmt.Sprintf("%s/%d", srv.URL, i)) // a new destination each time
		if err := deliver.Run(context.Background(), st, hook, deliver.Options{Once: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
