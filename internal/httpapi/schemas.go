package httpapi

import (
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/schemas"
)

// schemaRoutes serves the JSON Schemas consentgate publishes (the
// committed files of schemas/, e.g. /schemas/ConsentRunFacet/1-0-0.json,
// the OpenLineage run facet's): public, each version's bytes fixed for
// ever, so cached as immutable.
func (s *Server) schemaRoutes() {
	s.handle("GET", "/schemas/{name}/{file}", s.public(s.getSchema))
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request) error {
	name, file := r.PathValue("name"), r.PathValue("file")
	b, err := fs.ReadFile(schemas.FS(), name+"/"+file)
	if err != nil || !strings.HasSuffix(file, ".json") || strings.ContainsAny(name+file, `/\`) {
		return &Error{http.StatusNotFound, string(gate.NotFound),
			fmt.Sprintf("no published schema %s/%s (they are named NAME/VERSION.json, e.g. ConsentRunFacet/1-0-0.json)", name, file), ""}
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(b)
	return err
}
