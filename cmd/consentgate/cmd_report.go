package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// reportEntry is one export that included a subject's data.
type reportEntry struct {
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

func cmdReportSubject(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("report subject")
	var subject string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if subject == "" || len(pos) > 0 {
		return usagef("--subject is required and there are no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	number, known, err := st.SubjectNumber(ctx, subject)
	if err != nil {
		return err
	}
	entries := []reportEntry{}
	if known {
		exports, err := st.Exports(ctx)
		if err != nil {
			return err
		}
		for _, e := range exports {
			if len(e.Subjects) == 0 {
				continue
			}
			set, err := export.DecodeSubjectSet(e.Subjects)
			if err != nil {
				return fmt.Errorf("export %s: %w", e.ID, err)
			}
			n := set.Count(number)
			if n == 0 {
				continue
			}
			var m export.Manifest
			if err := json.Unmarshal(e.Manifest, &m); err != nil {
				return fmt.Errorf("export %s: manifest: %w", e.ID, err)
			}
			entries = append(entries, reportEntry{ExportID: e.ID, CreatedAt: e.CreatedAt, Purpose: e.Purpose, Recipient: e.Recipient,
				RecipientClass: m.RecipientClass, AsOf: e.AsOf, Records: n, RecordsRoot: m.RecordsRoot, LogIndex: m.LogIndex, Status: e.Status})
		}
	}
	if *asJSON {
		return a.printJSON(struct {
			Subject string        `json:"subject"`
			Known   bool          `json:"known"`
			Exports []reportEntry `json:"exports"`
		}{subject, known, entries})
	}
	w := a.stdout
	switch {
	case !known:
		fmt.Fprintf(w, "subject %s is not known to this store\n", subject)
		return nil
	case len(entries) == 0:
		fmt.Fprintf(w, "no export included data of subject %s\n", subject)
		return nil
	}
	fmt.Fprintf(w, "exports that included data of subject %s:\n", subject)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  WHEN\tEXPORT\tPURPOSE\tRECIPIENT\tAS OF\tRECORDS\tLOG INDEX")
	for _, e := range entries {
		idx := "-"
		if e.LogIndex != nil {
			idx = fmt.Sprint(*e.LogIndex)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s (%s)\t%s\t%d\t%s\n", e.CreatedAt.Time().Format("2006-01-02 15:04"), e.ExportID, e.Purpose, e.Recipient, e.RecipientClass, e.AsOf, e.Records, idx)
	}
	return tw.Flush()
}
