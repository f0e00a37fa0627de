// Package lineage owns telling lineage tools (Marquez, DataHub, anything
// that speaks OpenLineage) about exports: a RunEvent when an export starts
// and one when it completes or fails, with its input and output datasets
// and a custom facet holding the purpose, recipient, policy versions and
// counts, written to a file or posted to an HTTP endpoint.
package lineage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/consentgate/consentgate/internal/export"
)

const (
	// Producer identifies consentgate as the producer of the events.
	Producer = "https://github.com/consentgate/consentgate"
	// SchemaURL is the OpenLineage version the events follow.
	SchemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	// FacetSchemaURL is the immutable URL of the custom consentgate run
	// facet's JSON Schema: the $id of schemas/ConsentRunFacet/1-0-0.json,
	// which `consentgate serve` serves at the same path
	// (docs/lineage.md). A change to Facet is a new schema version.
	FacetSchemaURL = "https://consentgate.dev/schemas/ConsentRunFacet/1-0-0.json"
	outputStatsURL = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
	errorURL       = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)

// Event is an OpenLineage RunEvent.
type Event struct {
	EventType string    `json:"eventType"`
	EventTime string    `json:"eventTime"`
	Producer  string    `json:"producer"`
	SchemaURL string    `json:"schemaURL"`
	Run       Run       `json:"run"`
	Job       Job       `json:"job"`
	Inputs    []Dataset `json:"inputs"`
	Outputs   []Dataset `json:"outputs"`
}

// Run is the run an event is about.
type Run struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

// Job names what ran.
type Job struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Dataset is an input or output file.
type Dataset struct {
	Namespace    string         `json:"namespace"`
	Name         string         `json:"name"`
	OutputFacets map[string]any `json:"outputFacets,omitempty"`
}

// Facet is the custom consentgate run facet, as the schema
// FacetSchemaURL describes it.
type Facet struct {
	Producer  string              `json:"_producer"`
	SchemaURL string              `json:"_schemaURL"`
	ExportID  string              `json:"exportId,omitempty"`
	Purpose   string              `json:"purpose"`
	Recipient string              `json:"recipient"`
	AsOf      string              `json:"asOf"`
	Policies  []export.PolicyUsed `json:"policyVersions,omitempty"`
	Counts    *export.Counts      `json:"counts,omitempty"`
	Subjects  *int                `json:"subjectsIncluded,omitempty"`
	Redaction map[string]int64    `json:"redactionsFound,omitempty"`
	Root      string              `json:"recordsRoot,omitempty"`
}

// Sink receives events: a file (one JSON event a line, appended) or an
// HTTP endpoint (each event POSTed as JSON).
type Sink interface {
	Emit(ctx context.Context, e *Event) error
}

// FileSink appends events to a file.
type FileSink struct{ Path string }

// Emit implements Sink.
func (s FileSink) Emit(ctx context.Context, e *Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(s.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// HTTPSink posts events to an OpenLineage endpoint (for Marquez,
// http://host:5000/api/v1/lineage).
type HTTPSink struct {
	URL    string
	Client *http.Client
}

// Emit implements Sink.
func (s HTTPSink) Emit(ctx context.Context, e *Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("lineage: %s answered %s", s.URL, resp.Status)
	}
	return nil
}

// Export describes one export run for its events.
type Export struct {
	RunID     string
	Purpose   string
	Recipient string
	AsOf      time.Time
	Inputs    []string
	Output    string
	Rejects   string
}

// NewRunID returns a random (version 4) UUID.
func NewRunID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func (x *Export) event(kind string, now time.Time) *Event {
	e := &Event{EventType: kind, EventTime: now.UTC().Format(time.RFC3339Nano), Producer: Producer, SchemaURL: SchemaURL,
		Run: Run{RunID: x.RunID, Facets: map[string]any{}},
		Job: Job{Namespace: "consentgate", Name: "export." + x.Purpose + "." + x.Recipient}}
	dataset := func(name string) Dataset {
		n := DatasetOf(name)
		return Dataset{Namespace: n.Namespace, Name: n.Name}
	}
	for _, in := range x.Inputs {
		e.Inputs = append(e.Inputs, dataset(in))
	}
	e.Outputs = append(e.Outputs, dataset(x.Output))
	if x.Rejects != "" {
		e.Outputs = append(e.Outputs, dataset(x.Rejects))
	}
	return e
}

// Start is the event of an export starting.
func (x *Export) Start(now time.Time) *Event {
	e := x.event("START", now)
	e.Run.Facets["consentgate"] = Facet{Producer: Producer, SchemaURL: FacetSchemaURL, Purpose: x.Purpose, Recipient: x.Recipient,
		AsOf: x.AsOf.UTC().Format(time.RFC3339Nano)}
	return e
}

// Complete is the event of an export that finished, with its manifest.
func (x *Export) Complete(now time.Time, m *export.Manifest) *Event {
	e := x.event("COMPLETE", now)
	counts := m.Counts
	if counts.ExcludedByReason == nil {
		counts.ExcludedByReason = map[string]int64{} // an object, as the schema says, never null
	}
	f := Facet{Producer: Producer, SchemaURL: FacetSchemaURL, ExportID: m.ExportID, Purpose: x.Purpose, Recipient: x.Recipient,
		AsOf: x.AsOf.UTC().Format(time.RFC3339Nano), Policies: m.Policies, Counts: &counts, Subjects: &m.Subjects, Root: m.RecordsRoot}
	if m.Redaction != nil {
		f.Redaction = m.Redaction.Found
	}
	e.Run.Facets["consentgate"] = f
	e.Outputs[0].OutputFacets = map[string]any{"outputStatistics": map[string]any{
		"_producer": Producer, "_schemaURL": outputStatsURL, "rowCount": m.Counts.Included, "size": m.Output.Bytes}}
	if len(e.Outputs) > 1 && m.Rejects != nil {
		e.Outputs[1].OutputFacets = map[string]any{"outputStatistics": map[string]any{
			"_producer": Producer, "_schemaURL": outputStatsURL, "rowCount": m.Counts.Excluded, "size": m.Rejects.Bytes}}
	}
	return e
}

// Fail is the event of an export that failed.
func (x *Export) Fail(now time.Time, err error) *Event {
	e := x.event("FAIL", now)
	e.Run.Facets["consentgate"] = Facet{Producer: Producer, SchemaURL: FacetSchemaURL, Purpose: x.Purpose, Recipient: x.Recipient,
		AsOf: x.AsOf.UTC().Format(time.RFC3339Nano)}
	e.Run.Facets["errorMessage"] = map[string]any{"_producer": Producer, "_schemaURL": errorURL,
		"message": err.Error(), "programmingLanguage": "go"}
	return e
}
