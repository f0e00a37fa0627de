package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

func cmdReportSubject(a *app, fs *pflag.FlagSet) runFunc {
	var subject string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		rep, err := g.Report(ctx, access.Local, subject)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(rep)
		}
		w := a.stdout
		switch {
		case !rep.Known:
			fmt.Fprintf(w, "subject %s is not known to this store\n", subject)
			return nil
		case len(rep.Exports) == 0:
			fmt.Fprintf(w, "no export included data of subject %s\n", subject)
			return nil
		}
		fmt.Fprintf(w, "exports that included data of subject %s:\n", subject)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  WHEN\tEXPORT\tPURPOSE\tRECIPIENT\tAS OF\tRECORDS\tLOG INDEX\tSTATUS")
		for _, e := range rep.Exports {
			idx := "-"
			if e.LogIndex != nil {
				idx = fmt.Sprint(*e.LogIndex)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s (%s)\t%s\t%d\t%s\t%s\n", e.CreatedAt.Time().Format("2006-01-02 15:04"), e.ExportID, e.Purpose, e.Recipient, e.RecipientClass, e.AsOf, e.Records, idx, e.Status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// The roots and the pseudonym, one export a line: too long for the table.
		for _, e := range rep.Exports {
			fmt.Fprintf(w, "  %s: records_root %s", e.ExportID, e.RecordsRoot)
			if e.Pseudonym != "" {
				fmt.Fprintf(w, ", %s's pseudonym in subjects_root %s", subject, e.Pseudonym)
			}
			fmt.Fprintln(w)
		}
		return nil
	}
}
