package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdImpact(a *app, fs *pflag.FlagSet) runFunc {
	var since timestamp.Time
	var sinceSet bool
	fs.Var(timeFlag{&since, &sinceSet}, "since", "only items that arose at or after `TIME`")
	asJSON := fs.Bool("json", false, "print the items as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		items, err := g.Impact(ctx, access.Local, since)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"items": items}) // the shape GET /v1/impact answers
		}
		printImpact(a.stdout, items, 0)
		return nil
	}
}

// printImpact writes items grouped by export; limit > 0 shows at most that
// many subjects per export.
func printImpact(w io.Writer, items []impact.Item, limit int) {
	if len(items) == 0 {
		fmt.Fprintln(w, "no export holds data its subjects no longer allow: nothing is owed")
		return
	}
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].ExportID == items[i].ExportID {
			j++
		}
		e := items[i]
		fmt.Fprintf(w, "export %s — %s to %s, as of %s: %d %s\n", e.ExportID, e.Purpose, e.Recipient, e.AsOf, j-i, plural(j-i, "subject", "subjects"))
		for k := i; k < j; k++ {
			if limit > 0 && k-i == limit {
				fmt.Fprintf(w, "    … and %d more\n", j-k)
				break
			}
			it := items[k]
			note := ""
			if it.Note != "" {
				note = " — " + it.Note
			}
			status := it.Status
			if it.Status == impact.Lapsed {
				status = "lapsed " + it.LapsedAt.String()
				if n := len(it.Marks); n > 0 {
					status += "; last marked " + it.Marks[n-1].Status
				}
			}
			if len(it.Notices) > 0 {
				ids := make([]string, len(it.Notices))
				for k, n := range it.Notices {
					ids[k] = n.ID
					if n.Status != gate.NoticeOpen {
						ids[k] += " " + n.Status
					}
				}
				status += ": " + strings.Join(ids, ", ")
			}
			if it.Overdue {
				status += ", OVERDUE"
			}
			fmt.Fprintf(w, "    %-10s %s (%s) since %s: %d %s (%s) [%s]%s\n", it.Subject, it.Cause, it.Reason, it.At,
				len(it.Records), plural(len(it.Records), "record", "records"), recordList(it.Records, 3), status, note)
		}
		i = j
	}
}

// recordList names up to n records, then how many more.
func recordList(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func plural64(n int64, one, many string) string { return plural(int(min(n, 2)), one, many) }

func cmdImpactMark(a *app, fs *pflag.FlagSet) runFunc {
	var exportID, subject, status, note string
	fs.StringVar(&exportID, "export", "", "the `EXPORT` id")
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	fs.StringVar(&status, "status", "", "`STATUS`: "+strings.Join(impact.Statuses, ", "))
	fs.StringVar(&note, "note", "", "a `NOTE` for the record (who was told, which model was retrained; required for wontfix)")
	return func(ctx context.Context, args []string) error {
		if exportID == "" || subject == "" || status == "" {
			return usagef("--export, --subject and --status are required")
		}
		if !impact.ValidStatus(status) {
			return usagef("--status %q: expected one of %s", status, strings.Join(impact.Statuses, ", "))
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		if _, err := g.MarkImpact(ctx, access.Local, exportID, subject, status, note); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "marked %s / %s %s\n", exportID, subject, status)
		return nil
	}
}
