package httpapi

import (
	"net/http"

	"github.com/consentgate/consentgate/internal/gate"
)

// pageOf reads a list's ?limit= and ?cursor= (gate.DefaultLimit and
// gate.MaxLimit bound it); a limit out of range is refused, never ignored.
func pageOf(r *http.Request) (gate.PageRequest, error) {
	q := r.URL.Query()
	return gate.ParsePage(q.Get("limit"), q.Get("cursor"))
}

// paged sets v[name] to the page's items and v["next"] to the next
// page's cursor when there is one.
func paged[T any](v map[string]any, name string, p gate.Page[T]) map[string]any {
	v[name] = p.Items
	if p.Next != "" {
		v["next"] = p.Next
	}
	return v
}
