// Package export owns building a dataset (SPEC §5): reading record files in
// parallel, deciding every record, writing the allowed lines byte for byte
// in input order, the rejects file, and the manifest with its digests,
// counts and records_root — atomically and deterministically.
package export

import (
	"encoding/json"
	"os"

	"github.com/consentgate/consentgate/internal/timestamp"
)

// Manifest describes one export. Fields marked "log issue" are reserved for
// the transparency log (signing, subjects_root, log position) and are null
// until it exists.
type Manifest struct {
	ExportID       string         `json:"export_id"`
	CreatedAt      timestamp.Time `json:"created_at"`
	Purpose        string         `json:"purpose"`
	Recipient      string         `json:"recipient"`
	RecipientClass string         `json:"recipient_class"`
	AsOf           timestamp.Time `json:"as_of"`
	Log            *LogState      `json:"log"` // log size and root when the export started (log issue)
	Policies       []PolicyUsed   `json:"policies"`
	Inputs         []FileDigest   `json:"inputs"`
	Output         FileDigest     `json:"output"`
	Rejects        *FileDigest    `json:"rejects"`
	Fields         FieldsUsed     `json:"fields"`
	Counts         Counts         `json:"counts"`
	Redaction      *Redaction     `json:"redaction,omitempty"`
	Subjects       int            `json:"subjects_included"`
	RecordsRoot    string         `json:"records_root"`
	SubjectsRoot   *string        `json:"subjects_root"` // log issue
	LogIndex       *uint64        `json:"log_index"`     // log issue
	Signature      *string        `json:"signature"`     // log issue
}

// Redaction records how the export redacted: the configuration file and its
// SHA-256, the fields scanned, and the findings by detector.
type Redaction struct {
	Config string           `json:"config"`
	SHA256 string           `json:"sha256"`
	Fields []string         `json:"fields"`
	Found  map[string]int64 `json:"found"`
}

// LogState is the log's size and root at a moment.
type LogState struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
}

// PolicyUsed is a policy version that decided at least one check.
type PolicyUsed struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// FileDigest names a file with its SHA-256 and size.
type FileDigest struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	Format string `json:"format,omitempty"`
}

// FieldsUsed records the field flags the export read records with.
type FieldsUsed struct {
	ID       string   `json:"id"`
	Time     string   `json:"time"`
	Category string   `json:"category"` // "field:PATH" or a fixed category
	Subjects []string `json:"subjects"` // role=path
}

// Counts are the export's record counts.
type Counts struct {
	Read             int64            `json:"read"`
	Included         int64            `json:"included"`
	Excluded         int64            `json:"excluded"`
	ExcludedByReason map[string]int64 `json:"excluded_by_reason"`
}

// ReadManifest loads a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}
