// Package lineagetest gives tests the OpenLineage 2-0-2 JSON Schema
// shipped in testdata/openlineage (with the facet schemas it refers to),
// compiled offline, to validate events against.
package lineagetest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/consentgate/consentgate/schemas"
)

// Schema compiles the RunEvent schema.
func Schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	s, err := compiler(t).Compile("https://openlineage.io/spec/2-0-2/OpenLineage.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// compiler holds the OpenLineage schemas of testdata/openlineage, by their
// $id, asserting formats.
func compiler(t testing.TB) *jsonschema.Compiler {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(here), "../../../testdata/openlineage/*.json"))
	if len(files) == 0 {
		t.Fatal("no OpenLineage schemas in testdata/openlineage")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		id := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Validate checks one JSON document against s.
func Validate(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// FacetSchema compiles consentgate's own run facet schema (the committed
// schemas/ConsentRunFacet/1-0-0.json, by its $id) against the OpenLineage
// schemas it refers to, offline.
func FacetSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := compiler(t)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.ConsentRunFacet()))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := doc.(map[string]any)["$id"].(string)
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
