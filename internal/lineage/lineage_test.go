package lineage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/consentgate/consentgate/internal/lineage/lineagetest"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/schemas"
)

// schema is the OpenLineage RunEvent schema, compiled offline.
func schema(t *testing.T) *jsonschema.Schema { return lineagetest.Schema(t) }

func validate(t *testing.T, s *jsonschema.Schema, e *Event) map[string]any {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(doc); err != nil {
		t.Fatalf("%s event does not validate: %v\n%s", e.EventType, err, b)
	}
	return doc.(map[string]any)
}

// consentFacet validates an event's consentgate facet against the facet's
// own schema and returns it.
func consentFacet(t *testing.T, fs *jsonschema.Schema, doc map[string]any) map[string]any {
	t.Helper()
	facet := doc["run"].(map[string]any)["facets"].(map[string]any)["consentgate"].(map[string]any)
	if facet["_schemaURL"] != FacetSchemaURL {
		t.Fatalf("_schemaURL %v, want %s", facet["_schemaURL"], FacetSchemaURL)
	}
	if err := fs.Validate(facet); err != nil {
		t.Fatalf("%s: the consentgate facet does not validate against %s: %v\n%v", doc["eventType"], FacetSchemaURL, err, facet)
	}
	return facet
}

// TestEventsValidate: START, COMPLETE and FAIL validate against the
// OpenLineage schema, and their consentgate facet against its own schema
// (the committed schemas/ConsentRunFacet/1-0-0.json).
func TestEventsValidate(t *testing.T) {
	s := schema(t)
	fs := lineagetest.FacetSchema(t)
	x := &Export{RunID: NewRunID(), Purpose: "train_ai_system.generative", Recipient: "partner-x",
		AsOf: time.Date(2025, 1, 21, 0, 0, 0, 0, time.UTC), Inputs: []string{"posts.jsonl", "messages.jsonl"}, Output: "out.jsonl", Rejects: "rej.jsonl"}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	consentFacet(t, fs, validate(t, s, x.Start(now)))
	m := &export.Manifest{ExportID: "exp-1", Policies: []export.PolicyUsed{{Version: "v1", SHA256: "ab"}},
		Counts:   export.Counts{Read: 10, Included: 7, Excluded: 3, ExcludedByReason: map[string]int64{"consent.denied": 3}},
		Subjects: 4, RecordsRoot: "cd", Output: export.FileDigest{Bytes: 700}, Rejects: &export.FileDigest{Bytes: 300},
		Redaction: &export.Redaction{Found: map[string]int64{"email": 2}}}
	done := validate(t, s, x.Complete(now, m))
	facet := consentFacet(t, fs, done)
	counts := facet["counts"].(map[string]any)
	if facet["purpose"] != "train_ai_system.generative" || facet["recipient"] != "partner-x" || counts["included"].(json.Number).String() != "7" ||
		facet["policyVersions"].([]any)[0].(map[string]any)["version"] != "v1" {
		t.Fatalf("consentgate facet %v", facet)
	}
	stats := done["outputs"].([]any)[0].(map[string]any)["outputFacets"].(map[string]any)["outputStatistics"].(map[string]any)
	if stats["rowCount"].(json.Number).String() != "7" {
		t.Fatalf("output statistics %v", stats)
	}
	consentFacet(t, fs, validate(t, s, x.Fail(now, errors.New("disk full"))))
	// A manifest without excluded records still gives counts the schema takes.
	m.Counts.ExcludedByReason = nil
	consentFacet(t, fs, validate(t, s, x.Complete(now, m)))
	// An event missing what the spec requires does not validate.
	bad := x.Start(now)
	bad.Run.RunID = "not-a-uuid"
	b, _ := json.Marshal(bad)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if s.Validate(doc) == nil {
		t.Fatal("a run id that is not a UUID validated: the schema is not being applied")
	}
}

// TestFacetSchema: the schema's $id is the URL the events carry; it
// describes every field the facet has; it refuses a facet that breaks it
// (so it is being applied); and the published 1-0-0 file is never edited.
func TestFacetSchema(t *testing.T) {
	var doc struct {
		ID   string `json:"$id"`
		Defs map[string]struct {
			AllOf []struct {
				Properties map[string]any `json:"properties"`
			} `json:"allOf"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schemas.ConsentRunFacet(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != FacetSchemaURL {
		t.Fatalf("$id %q, the events carry %q", doc.ID, FacetSchemaURL)
	}
	props := doc.Defs["ConsentRunFacet"].AllOf[1].Properties
	ft := reflect.TypeFor[Facet]()
	for i := range ft.NumField() {
		name, _, _ := strings.Cut(ft.Field(i).Tag.Get("json"), ",")
		if _, ok := props[name]; !ok && name != "_producer" {
			t.Errorf("the facet's %s is not in the schema: publish a new schema version that describes it", name)
		}
	}
	fs := lineagetest.FacetSchema(t)
	for name, facet := range map[string]map[string]any{
		"no purpose":       {"_producer": Producer, "_schemaURL": FacetSchemaURL, "recipient": "r", "asOf": "2025-01-01T00:00:00Z"},
		"another schema":   {"_producer": Producer, "_schemaURL": "https://example.com/x.json", "purpose": "p", "recipient": "r", "asOf": "2025-01-01T00:00:00Z"},
		"no producer":      {"_schemaURL": FacetSchemaURL, "purpose": "p", "recipient": "r", "asOf": "2025-01-01T00:00:00Z"},
		"as-of not a time": {"_producer": Producer, "_schemaURL": FacetSchemaURL, "purpose": "p", "recipient": "r", "asOf": "yesterday"},
		"negative count": {"_producer": Producer, "_schemaURL": FacetSchemaURL, "purpose": "p", "recipient": "r", "asOf": "2025-01-01T00:00:00Z",
			"counts": map[string]any{"read": json.Number("-1"), "included": json.Number("0"), "excluded": json.Number("0"), "excluded_by_reason": map[string]any{}}},
	} {
		if fs.Validate(facet) == nil {
			t.Errorf("%s: validated", name)
		}
	}
	// 1-0-0 is published: its bytes are fixed. A change is a new file
	// (1-0-1, 1-1-0, 2-0-0) and a new FacetSchemaURL.
	const published = "f78fefeca7a1bfaac369e4e67e0140c87ce10dcb7837cd74c5d1f4154eba7cf2"
	if sum := sha256.Sum256(schemas.ConsentRunFacet()); hex.EncodeToString(sum[:]) != published {
		t.Errorf("schemas/ConsentRunFacet/1-0-0.json changed (sha256 %x): a published schema is never edited; add a new version", sum)
	}
}
