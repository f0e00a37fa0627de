// Package web is the privacy centre (/privacy) and the admin console
// (/admin): plain server-rendered HTML, embedded in the binary.
package web

import (
	"net/http"

	"github.com/consentgate/consentgate/internal/httpapi"
)

// Mount adds the web pages to the server's mux.
func Mount(mux *http.ServeMux, s *httpapi.Server) {}
