package lineage

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/consentgate/consentgate/internal/lineage/lineagetest"

	"github.com/consentgate/consentgate/internal/export"
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

func TestEventsValidate(t *testing.T) {
	s := schema(t)
	x := &Export{RunID: NewRunID(), Purpose: "train_ai_system.generative", Recipient: "partner-x",
		AsOf: time.Date(2025, 1, 21, 0, 0, 0, 0, time.UTC), Inputs: []string{"posts.jsonl", "messages.jsonl"}, Output: "out.jsonl", Rejects: "rej.jsonl"}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	validate(t, s, x.Start(now))
	m := &export.Manifest{ExportID: "exp-1", Policies: []export.PolicyUsed{{Version: "v1", SHA256: "ab"}},
		Counts:   export.Counts{Read: 10, Included: 7, Excluded: 3, ExcludedByReason: map[string]int64{"consent.denied": 3}},
		Subjects: 4, RecordsRoot: "cd", Output: export.FileDigest{Bytes: 700}, Rejects: &export.FileDigest{Bytes: 300},
		Redaction: &export.Redaction{Found: map[string]int64{"email": 2}}}
	done := validate(t, s, x.Complete(now, m))
	facet := done["run"].(map[string]any)["facets"].(map[string]any)["consentgate"].(map[string]any)
	counts := facet["counts"].(map[string]any)
	if facet["purpose"] != "train_ai_system.generative" || facet["recipient"] != "partner-x" || counts["included"].(json.Number).String() != "7" ||
		facet["policyVersions"].([]any)[0].(map[string]any)["version"] != "v1" {
		t.Fatalf("consentgate facet %v", facet)
	}
	stats := done["outputs"].([]any)[0].(map[string]any)["outputFacets"].(map[string]any)["outputStatistics"].(map[string]any)
	if stats["rowCount"].(json.Number).String() != "7" {
		t.Fatalf("output statistics %v", stats)
	}
	validate(t, s, x.Fail(now, errors.New("disk full")))
	// An event missing what the spec requires does not validate.
	bad := x.Start(now)
	bad.Run.RunID = "not-a-uuid"
	b, _ := json.Marshal(bad)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if s.Validate(doc) == nil {
		t.Fatal("a run id that is not a UUID validated: the schema is not being applied")
	}
}
