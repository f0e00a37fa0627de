package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/consentgate/consentgate/internal/export"
)

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
	known, entries, err := export.SubjectReport(ctx, st, subject)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(struct {
			Subject string               `json:"subject"`
			Known   bool                 `json:"known"`
			Exports []export.ReportEntry `json:"exports"`
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
