package lineage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/jsontext"
)

// RunEvent is an OpenLineage run event as consentgate reads one that a
// training job sends (SPEC §11): what links the job to an export.
type RunEvent struct {
	EventType string
	EventTime time.Time
	Producer  string
	RunID     string
	Namespace string // the job's
	Job       string
	Inputs    []DatasetName
}

// DatasetName names a dataset as OpenLineage does.
type DatasetName struct{ Namespace, Name string }

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// eventTypes are OpenLineage's run event types (absent is allowed).
var eventTypes = map[string]bool{"START": true, "RUNNING": true, "COMPLETE": true, "ABORT": true, "FAIL": true, "OTHER": true}

// ParseRunEvent reads one OpenLineage run event, holding it to the
// RunEvent schema's required fields and types (OpenLineage 2-0-2):
// eventTime a date-time, producer and schemaURL URIs, run.runId a UUID,
// job.namespace and job.name, each input's namespace and name. Facets and
// fields it does not know are allowed, as the schema allows them.
func ParseRunEvent(b []byte) (*RunEvent, error) {
	var raw struct {
		EventType *string `json:"eventType"`
		EventTime *string `json:"eventTime"`
		Producer  *string `json:"producer"`
		SchemaURL *string `json:"schemaURL"`
		Run       *struct {
			RunID *string `json:"runId"`
		} `json:"run"`
		Job *struct {
			Namespace *string `json:"namespace"`
			Name      *string `json:"name"`
		} `json:"job"`
		Inputs []struct {
			Namespace *string `json:"namespace"`
			Name      *string `json:"name"`
		} `json:"inputs"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not an OpenLineage run event: %s", jsontext.Problem(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value: expected one run event")
	}
	need := func(v *string, what string) (string, error) {
		if v == nil || *v == "" {
			return "", fmt.Errorf("%s is missing: an OpenLineage run event needs it", what)
		}
		return *v, nil
	}
	var e RunEvent
	var err error
	if raw.EventType != nil {
		if !eventTypes[*raw.EventType] {
			return nil, fmt.Errorf("eventType %q: expected START, RUNNING, COMPLETE, ABORT, FAIL or OTHER", *raw.EventType)
		}
		e.EventType = *raw.EventType
	}
	t, err := need(raw.EventTime, "eventTime")
	if err != nil {
		return nil, err
	}
	if e.EventTime, err = time.Parse(time.RFC3339Nano, t); err != nil {
		return nil, fmt.Errorf("eventTime %q: expected an RFC 3339 date-time such as 2025-02-01T10:00:00Z", t)
	}
	if e.Producer, err = need(raw.Producer, "producer"); err != nil {
		return nil, err
	}
	if _, err := need(raw.SchemaURL, "schemaURL"); err != nil {
		return nil, err
	}
	if raw.Run == nil && raw.EventType == nil {
		// A static DatasetEvent or JobEvent (OpenLineage 2-0-2): accepted,
		// as Marquez does; it names no run, so it links nothing.
		return &e, nil
	}
	if raw.Run == nil {
		return nil, fmt.Errorf("run is missing: an OpenLineage run event needs it")
	}
	if e.RunID, err = need(raw.Run.RunID, "run.runId"); err != nil {
		return nil, err
	}
	if !uuidRE.MatchString(e.RunID) {
		return nil, fmt.Errorf("run.runId %q: expected a UUID", e.RunID)
	}
	if raw.Job == nil {
		return nil, fmt.Errorf("job is missing: an OpenLineage run event needs it")
	}
	if e.Namespace, err = need(raw.Job.Namespace, "job.namespace"); err != nil {
		return nil, err
	}
	if e.Job, err = need(raw.Job.Name, "job.name"); err != nil {
		return nil, err
	}
	for i, in := range raw.Inputs {
		ns, err := need(in.Namespace, fmt.Sprintf("inputs[%d].namespace", i))
		if err != nil {
			return nil, err
		}
		name, err := need(in.Name, fmt.Sprintf("inputs[%d].name", i))
		if err != nil {
			return nil, err
		}
		e.Inputs = append(e.Inputs, DatasetName{ns, name})
	}
	return &e, nil
}

// ReadRunEvents reads a file of run events, one JSON object per line
// (what OpenLineage's file transport writes), naming the file and line of
// the first that does not parse.
func ReadRunEvents(r io.Reader, name string) ([]RunEvent, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []RunEvent
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			return nil, fmt.Errorf("%s:%d: an empty line: expected one OpenLineage run event (a JSON object) per line", name, line)
		}
		e, err := ParseRunEvent(b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		out = append(out, *e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no run events: expected one OpenLineage run event (a JSON object) per line", name)
	}
	return out, nil
}

// OutputName is the dataset name consentgate's own lineage events give an
// export's output (namespace "file", the absolute path): what a training
// job's input names to be linked to the export.
func OutputName(absPath string) DatasetName {
	return DatasetName{Namespace: "file", Name: filepath.Clean(absPath)}
}

// DatasetOf names an export's file as OpenLineage's dataset naming does:
// a local path as namespace "file" and its absolute path; an object as
// the namespace scheme://bucket and the name its key (s3://lake/out/x.jsonl
// is s3://lake and out/x.jsonl; gs:// likewise; azblob://container/key is
// wasbs://container@ACCOUNT.blob.core.windows.net with
// $AZURE_STORAGE_ACCOUNT, else azblob://container). A URL's bucket options
// (?region=…) are not part of the name.
func DatasetOf(name string) DatasetName {
	if !blobio.IsURL(name) {
		return DatasetName{Namespace: "file", Name: abs(name)}
	}
	u, err := url.Parse(name)
	if err != nil {
		return DatasetName{Namespace: "file", Name: name}
	}
	ns := u.Scheme + "://" + u.Host
	if acct := os.Getenv("AZURE_STORAGE_ACCOUNT"); u.Scheme == "azblob" && acct != "" {
		ns = "wasbs://" + u.Host + "@" + acct + ".blob.core.windows.net"
	}
	return DatasetName{Namespace: ns, Name: strings.TrimPrefix(u.Path, "/")}
}

// SameFile reports whether a job's input names the file at absPath: for a
// local file, namespace "file" (or a file:// URI naming this or no host)
// and the path; for an object, DatasetOf's namespace (for S3 also the
// s3a:// of Hadoop and Spark) and its key.
func SameFile(in DatasetName, absPath string) bool {
	if blobio.IsURL(absPath) {
		want := DatasetOf(absPath)
		ns := in.Namespace
		if rest, ok := strings.CutPrefix(ns, "s3a://"); ok {
			ns = "s3://" + rest
		}
		return ns == want.Namespace && strings.TrimPrefix(in.Name, "/") == want.Name
	}
	if in.Namespace != "file" && !strings.HasPrefix(in.Namespace, "file://") {
		return false
	}
	name := strings.TrimPrefix(in.Name, "file://")
	return filepath.Clean(name) == filepath.Clean(absPath)
}
