// Package httpmux holds what the API and the pages both ask of a
// http.ServeMux about a request no route matched.
package httpmux

import "net/http"

// Unmatched asks mux why it has no route for r: when a route serves r's
// path with other methods, it returns their Allow header and true (a 405
// to answer); otherwise false (a 404). The mux's own answer is recorded,
// never sent, so that the caller words the error itself.
func Unmatched(mux *http.ServeMux, r *http.Request) (allow string, methodNotAllowed bool) {
	h, _ := mux.Handler(r)
	rec := &headRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	return rec.header.Get("Allow"), rec.status == http.StatusMethodNotAllowed
}

// headRecorder keeps the status and headers of an answer, not its body.
type headRecorder struct {
	header http.Header
	status int
}

func (h *headRecorder) Header() http.Header         { return h.header }
func (h *headRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headRecorder) WriteHeader(status int)      { h.status = status }
