package lineage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/lineage/lineagetest"
)

// pythonClientEvent is a COMPLETE run event as the OpenLineage Python
// client (1.x, openlineage-python's RunEvent serialised by its HTTP
// transport) sends it, facets included.
const pythonClientEvent = `{"eventTime": "2025-02-15T06:00:00.000000+00:00", "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/client/python", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent", "eventType": "COMPLETE", "run": {"runId": "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e0f", "facets": {"processing_engine": {"_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/client/python", "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet", "version": "2.5.0", "name": "torch", "openlineageAdapterVersion": "1.24.2"}}}, "job": {"namespace": "partner-x", "name": "llm-v3.fine-tune", "facets": {}}, "inputs": [{"namespace": "file", "name": "/data/partner-x.jsonl", "facets": {}}], "outputs": [{"namespace": "s3://partner-x-models", "name": "llm-v3/weights", "facets": {}}]}`

// TestParseRunEvent: the Python client's event validates against the
// OpenLineage schema and reads as the run that links a job; events the
// schema refuses for a missing or malformed required field are refused
// too, naming the field.
func TestParseRunEvent(t *testing.T) {
	s := lineagetest.Schema(t)
	if err := lineagetest.Validate(s, []byte(pythonClientEvent)); err != nil {
		t.Fatalf("the Python client's event does not validate: %v", err)
	}
	e, err := ParseRunEvent([]byte(pythonClientEvent))
	if err != nil {
		t.Fatal(err)
	}
	if e.EventType != "COMPLETE" || e.Namespace != "partner-x" || e.Job != "llm-v3.fine-tune" || e.RunID != "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e0f" ||
		len(e.Inputs) != 1 || !SameFile(e.Inputs[0], "/data/partner-x.jsonl") || e.EventTime.Format("2006-01-02T15:04") != "2025-02-15T06:00" {
		t.Fatalf("parsed: %+v", e)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal([]byte(pythonClientEvent), &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, c := range []struct {
		what string
		doc  []byte
		want string
	}{
		{"no eventTime", edit(func(m map[string]any) { delete(m, "eventTime") }), "eventTime is missing"},
		{"a date, not a date-time", edit(func(m map[string]any) { m["eventTime"] = "2025-02-15" }), "eventTime \"2025-02-15\": expected an RFC 3339 date-time"},
		{"no producer", edit(func(m map[string]any) { delete(m, "producer") }), "producer is missing"},
		{"no run id", edit(func(m map[string]any) { m["run"] = map[string]any{} }), "run.runId is missing"},
		{"a run id that is no UUID", edit(func(m map[string]any) { m["run"] = map[string]any{"runId": "run-7"} }), "run.runId \"run-7\": expected a UUID"},
		{"no job name", edit(func(m map[string]any) { m["job"] = map[string]any{"namespace": "x"} }), "job.name is missing"},
		{"an input without a name", edit(func(m map[string]any) { m["inputs"] = []any{map[string]any{"namespace": "file"}} }), "inputs[0].name is missing"},
		{"an unknown event type", edit(func(m map[string]any) { m["eventType"] = "DONE" }), "eventType \"DONE\": expected START"},
		{"a number for a name", edit(func(m map[string]any) { m["job"] = map[string]any{"namespace": "x", "name": 7} }), `"job.name": expected a string, found a number`},
	} {
		if lineagetest.Validate(s, c.doc) == nil {
			t.Errorf("%s: the schema accepts it; the case is wrong", c.what)
		}
		if _, err := ParseRunEvent(c.doc); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.what, err, c.want)
		}
	}
}

// TestStaticEvents: a DatasetEvent or JobEvent (no run, no eventType) is
// accepted, as Marquez accepts it, and links nothing; an array is
// refused in words.
func TestStaticEvents(t *testing.T) {
	ds := `{"eventTime":"2025-02-15T06:00:00Z","producer":"https://example.com/p","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent","dataset":{"namespace":"file","name":"/data/x.jsonl"}}`
	if err := lineagetest.Validate(lineagetest.Schema(t), []byte(ds)); err != nil {
		t.Fatalf("the DatasetEvent does not validate: %v", err)
	}
	e, err := ParseRunEvent([]byte(ds))
	if err != nil || e.RunID != "" || e.EventType != "" || len(e.Inputs) != 0 {
		t.Fatalf("a DatasetEvent: %+v %v", e, err)
	}
	if _, err := ParseRunEvent([]byte("[" + pythonClientEvent + "]")); err == nil || !strings.HasPrefix(err.Error(), "not an OpenLineage run event: the top level: expected an object, found an array") {
		t.Fatalf("an array: %v", err)
	}
	if _, err := ParseRunEvent([]byte(strings.Replace(pythonClientEvent, `"inputs": [`, `"inputs": "x", "i": [`, 1))); err == nil || !strings.Contains(err.Error(), `"inputs": expected an array, found a string`) {
		t.Fatalf("inputs a string: %v", err)
	}
}

// TestReadRunEvents: a file of events, one per line; the first bad line
// is named with its number.
func TestReadRunEvents(t *testing.T) {
	good := strings.ReplaceAll(pythonClientEvent, "\n", "")
	evs, err := ReadRunEvents(strings.NewReader(good+"\n"+good+"\n"), "runs.jsonl")
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	for _, c := range []struct{ in, want string }{
		{good + "\n{\"eventTime\": 1}\n", `runs.jsonl:2: not an OpenLineage run event: "eventTime": expected a string, found a number`},
		{good + "\n\n" + good + "\n", "runs.jsonl:2: an empty line"},
		{"", "runs.jsonl: no run events"},
		{good + "\n{", "runs.jsonl:2: not an OpenLineage run event"},
	} {
		if _, err := ReadRunEvents(strings.NewReader(c.in), "runs.jsonl"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
}

// TestDatasetOfObjects: an export's object-store files are named as
// OpenLineage's naming conventions name them (namespace scheme://bucket,
// name the key), in the events consentgate sends and when a training
// job's input is matched to an export's output.
func TestDatasetOfObjects(t *testing.T) {
	t.Setenv("AZURE_STORAGE_ACCOUNT", "acct")
	for name, want := range map[string]DatasetName{
		"s3://lake/out/x.jsonl":                  {"s3://lake", "out/x.jsonl"},
		"s3://lake/out/x.jsonl?region=eu-west-1": {"s3://lake", "out/x.jsonl"},
		"gs://lake/x.parquet":                    {"gs://lake", "x.parquet"},
		"azblob://data/x.jsonl":                  {"wasbs://data@acct.blob.core.windows.net", "x.jsonl"},
		"/data/x.jsonl":                          {"file", "/data/x.jsonl"},
	} {
		if got := DatasetOf(name); got != want {
			t.Errorf("DatasetOf(%q) = %+v, want %+v", name, got, want)
		}
	}
	out := "s3://lake/out/x.jsonl"
	for in, want := range map[DatasetName]bool{
		{"s3://lake", "out/x.jsonl"}:  true,
		{"s3a://lake", "out/x.jsonl"}: true, // Hadoop's and Spark's name for S3
		{"s3://lake", "/out/x.jsonl"}: true,
		{"s3://other", "out/x.jsonl"}: false,
		{"s3://lake", "out/y.jsonl"}:  false,
		{"file", "/lake/out/x.jsonl"}: false,
		{"gs://lake", "out/x.jsonl"}:  false,
		{"s3://lake", "out/x.jsonl/"}: false,
	} {
		if got := SameFile(in, out); got != want {
			t.Errorf("SameFile(%+v, %s) = %v, want %v", in, out, got, want)
		}
	}
	x := &Export{RunID: NewRunID(), Purpose: "p", Recipient: "r", Inputs: []string{"s3://lake/in/a.parquet"}, Output: out, Rejects: "local.rej"}
	e := x.Start(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if e.Inputs[0].Namespace != "s3://lake" || e.Inputs[0].Name != "in/a.parquet" || e.Outputs[0].Namespace != "s3://lake" || e.Outputs[0].Name != "out/x.jsonl" ||
		e.Outputs[1].Namespace != "file" || !strings.HasSuffix(e.Outputs[1].Name, "/local.rej") {
		t.Errorf("the event's datasets: inputs %+v, outputs %+v", e.Inputs, e.Outputs)
	}
	validate(t, schema(t), e)
}
