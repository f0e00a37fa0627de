package store_test

import (
	"testing"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
)

// TestStoredVersionsReadAsPublished: a version published before policy
// files were read strictly (a bare number as the purpose list, a second
// document) still compiles from the store, while the same file is refused
// for publishing now.
func TestStoredVersionsReadAsPublished(t *testing.T) {
	src := []byte("version: \"v1\"\neffective_from: 2024-01-01T00:00:00Z\npurposes: 42\ncategories: [c]\nrecipients:\n  self: { class: first_party }\n---\nversion: ignored\n")
	if _, _, err := policy.Parse("p.yaml", src); err == nil {
		t.Fatal("the strict reading accepts the old file")
	}
	vs, err := store.CompileVersions([]store.Policy{{Version: "v1", Source: src}})
	if err != nil {
		t.Fatalf("a stored version of the old rules: %v", err)
	}
	if vs.Len() != 2 || !vs.Table(1).Doc.DeclaresPurpose("42") {
		t.Fatalf("read as %d versions, purposes %v", vs.Len(), vs.Table(vs.Len()-1).Doc.Purposes)
	}
}
