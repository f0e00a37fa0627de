package export

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// ReportEntry is one export that included a subject's data.
type ReportEntry struct {
	ExportID       string         `json:"export_id"`
	CreatedAt      timestamp.Time `json:"created_at"`
	Purpose        string         `json:"purpose"`
	Recipient      string         `json:"recipient"`
	RecipientClass string         `json:"recipient_class"`
	AsOf           timestamp.Time `json:"as_of"`
	Records        uint32         `json:"records"`
	RecordsRoot    string         `json:"records_root"`
	LogIndex       *uint64        `json:"log_index"`
	Status         string         `json:"status"`
}

// SubjectReport lists every export that included a subject's data, from
// the subject sets the store keeps (SPEC §5); known is false for a subject
// the store has never seen.
func SubjectReport(ctx context.Context, st store.Store, subject string) (known bool, entries []ReportEntry, err error) {
	var number int64
	number, known, err = st.SubjectNumber(ctx, subject)
	if err != nil {
		return false, nil, err
	}
	entries = []ReportEntry{}
	if known {
		exports, err := st.Exports(ctx)
		if err != nil {
			return false, nil, err
		}
		for _, e := range exports {
			if len(e.Subjects) == 0 {
				continue
			}
			set, err := DecodeSubjectSet(e.Subjects)
			if err != nil {
				return false, nil, fmt.Errorf("export %s: %w", e.ID, err)
			}
			n := set.Count(number)
			if n == 0 {
				continue
			}
			var m Manifest
			if err := json.Unmarshal(e.Manifest, &m); err != nil {
				return false, nil, fmt.Errorf("export %s: manifest: %w", e.ID, err)
			}
			entries = append(entries, ReportEntry{ExportID: e.ID, CreatedAt: e.CreatedAt, Purpose: e.Purpose, Recipient: e.Recipient,
				RecipientClass: m.RecipientClass, AsOf: e.AsOf, Records: n, RecordsRoot: m.RecordsRoot, LogIndex: m.LogIndex, Status: e.Status})
		}
	}
	return known, entries, nil
}
