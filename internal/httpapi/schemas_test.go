package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/consentgate/consentgate/internal/lineage"
)

// TestSchemasServed: the OpenLineage facet schema is served, without a
// token, as the committed file byte for byte, as application/schema+json
// cached as immutable, at the path of the $id the events carry; a schema
// that is not published is a JSON 404.
func TestSchemasServed(t *testing.T) {
	w := newWorld(t)
	committed, err := os.ReadFile("../../schemas/ConsentRunFacet/1-0-0.json")
	if err != nil {
		t.Fatal(err)
	}
	const path = "/schemas/ConsentRunFacet/1-0-0.json"
	if lineage.FacetSchemaURL != "https://consentgate.dev"+path {
		t.Fatalf("the events' _schemaURL %s is not served at %s", lineage.FacetSchemaURL, path)
	}
	resp, err := http.Get(w.url + path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, committed) {
		t.Fatalf("%s: %d, %d bytes (the committed file has %d)", path, resp.StatusCode, len(b), len(committed))
	}
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/schema+json" || cc != "public, max-age=31536000, immutable" {
		t.Fatalf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	for _, p := range []string{"/schemas/ConsentRunFacet/9-9-9.json", "/schemas/Nothing/1-0-0.json", "/schemas/ConsentRunFacet/1-0-0.txt"} {
		resp, err := http.Get(w.url + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !bytes.Contains(b, []byte(`"not_found"`)) {
			t.Errorf("%s: %d %s", p, resp.StatusCode, b)
		}
	}
}
