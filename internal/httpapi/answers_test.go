package httpapi_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// TestAnswersAfterAnExport asks every route that answers about exports
// once there is one — its manifest, the report, the impact queue and a
// mark, the notices, an answer, the member's aftermath, lineage, the log's
// proofs — so that the answers the document describes with most fields
// are checked against it (w.do checks every answer).
func TestAnswersAfterAnExport(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	in := writeFile(t, w.dir, "records.jsonl", `{"id":"p1","kind":"user.content.public","author":"ana","created_at":"2021-06-01T00:00:00Z"}
{"id":"p2","kind":"user.content.public","author":"ana","created_at":"2021-07-01T00:00:00Z"}
{"id":"p3","kind":"user.content.public","author":"ben","created_at":"2021-07-01T00:00:00Z"}
`)
	f := record.Fields{ID: "id", Time: "created_at", Category: "kind"}
	sf, err := record.ParseSubjectFlag("author=author")
	if err != nil {
		t.Fatal(err)
	}
	f.Subjects = append(f.Subjects, sf)
	asOf, _ := timestamp.Parse("2022-01-01T00:00:00Z")
	req := gate.ExportRequest{Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: &asOf}
	req.Options.Inputs, req.Options.Out, req.Options.Fields = []string{in}, filepath.Join(w.dir, "out.jsonl"), f
	m, err := w.g.Export(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	w.srv.Checkpoint(ctx)
	w.json("admin", "GET", "/v1/exports/"+m.ExportID, "", 200)
	w.json("ana", "GET", "/v1/subjects/ana/report", "", 200)
	// Ana says no: an impact item, a notice to partner-x, its answer.
	w.json("ana", "POST", "/v1/subjects/ana/consents", consentBody, 201)
	items := w.json("operator", "GET", "/v1/impact", "", 200)["items"].([]any)
	if len(items) == 0 {
		t.Fatal("no impact item after ana's denial")
	}
	if _, err := w.g.SendNotices(ctx, access.Local); err != nil {
		t.Fatal(err)
	}
	w.srv.Checkpoint(ctx)
	ns := w.json("admin", "GET", "/v1/notices", "", 200)["notices"].([]any)
	if len(ns) == 0 {
		t.Fatal("no notice sent")
	}
	id := ns[0].(map[string]any)["id"].(string)
	w.json("admin", "GET", "/v1/notices/"+id, "", 200)
	w.json("ana", "GET", "/v1/subjects/ana/notices", "", 200)
	w.json("admin", "POST", "/v1/notices/"+id+"/answers", `{"status":"deleted","note":"gone"}`, 201)
	w.json("admin", "POST", "/v1/notices/"+id+"/answers", `{"status":"deleted"}`, 409)
	w.json("operator", "POST", "/v1/impact/marks", fmt.Sprintf(`{"export":%q,"subject":"ana","status":"deleted"}`, m.ExportID), 201)
	w.json("admin", "GET", "/v1/impact", "", 200)
	w.json("ana", "GET", "/v1/subjects/ana/notices", "", 200)
	w.json("admin", "GET", "/v1/subjects/ana/consents/history", "", 200)
	// A lineage event for a job that read the export.
	w.json("admin", "POST", "/api/v1/lineage", fmt.Sprintf(`{"eventType":"COMPLETE","eventTime":"2022-02-01T00:00:00Z","producer":"https://example.com/trainer","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent","run":{"runId":"0190a0a0-0000-7000-8000-000000000001"},"job":{"namespace":"ml","name":"train"},"inputs":[{"namespace":"file","name":%q}]}`, req.Options.Out), 201)
	w.json("ana", "GET", "/v1/subjects/ana/notices", "", 200)
	w.json("", "GET", "/v1/log/proofs/consistency?from=1", "", 200)
	w.json("", "GET", "/v1/log/proofs/inclusion?index=0", "", 200)
	w.json("", "GET", "/schemas/ConsentRunFacet/1-0-0.json", "", 200)
	w.json("", "GET", "/healthz", "", 200)
	w.json("admin", "GET", "/v1/nothing/here", "", 404)
	w.json("admin", "DELETE", "/v1/policies", "", 405)
}
