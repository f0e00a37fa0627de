package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdImpact(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("impact")
	var since timestamp.Time
	var sinceSet bool
	fs.Var(timeFlag{&since, &sinceSet}, "since", "only changes at or after `TIME`")
	asJSON := fs.Bool("json", false, "print the items as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	items, err := impact.Items(ctx, st, since)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(items)
	}
	printImpact(a.stdout, items, 0)
	return nil
}

// printImpact writes items grouped by export; limit > 0 shows at most that
// many subjects per export.
func printImpact(w interface{ Write([]byte) (int, error) }, items []impact.Item, limit int) {
	if len(items) == 0 {
		fmt.Fprintln(w, "no subject withdrew or became ineligible after an export that used their data")
		return
	}
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].ExportID == items[i].ExportID {
			j++
		}
		e := items[i]
		fmt.Fprintf(w, "export %s — %s to %s, as of %s: %d subjects\n", e.ExportID, e.Purpose, e.Recipient, e.AsOf, j-i)
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
			records := "records"
			if it.Records == 1 {
				records = "record"
			}
			fmt.Fprintf(w, "    %-10s %s at %s (%d %s) [%s]%s\n", it.Subject, it.Change, it.At, it.Records, records, it.Status, note)
		}
		i = j
	}
}

func cmdImpactMark(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("impact mark")
	var m store.ImpactMark
	fs.StringVar(&m.ExportID, "export", "", "the `EXPORT` id")
	fs.StringVar(&m.Subject, "subject", "", "the `SUBJECT` id")
	fs.StringVar(&m.Status, "status", "", "`STATUS`: "+strings.Join(impact.Statuses, ", "))
	fs.StringVar(&m.Note, "note", "", "a `NOTE` for the record (who was told, which model was retrained)")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if m.ExportID == "" || m.Subject == "" || m.Status == "" || len(pos) > 0 {
		return usagef("--export, --subject and --status are required")
	}
	if !impact.ValidStatus(m.Status) {
		return usagef("--status %q: expected one of %s", m.Status, strings.Join(impact.Statuses, ", "))
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	m.At = timestamp.Now()
	if err := impact.Mark(ctx, st, m); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "marked %s / %s %s\n", m.ExportID, m.Subject, m.Status)
	return nil
}
