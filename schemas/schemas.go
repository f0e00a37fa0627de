// Package schemas holds the JSON Schemas consentgate publishes, as
// committed files: each is served by `consentgate serve` under
// /schemas/NAME/VERSION.json and its $id is the immutable URL documents
// name it by. A published file is never edited: a change is a new version
// in a new file.
package schemas

import (
	"embed"
	"io/fs"
)

//go:embed ConsentRunFacet/*.json
var files embed.FS

// FS returns the published schemas, by NAME/VERSION.json.
func FS() fs.FS { return files }

// ConsentRunFacet is the schema of the consentgate OpenLineage run facet,
// version 1-0-0 (internal/lineage emits it).
func ConsentRunFacet() []byte {
	b, err := files.ReadFile("ConsentRunFacet/1-0-0.json")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}
