package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/lineage"
)

// cmdNotices lists the notices to recipients and where each stands.
func cmdNotices(a *app, fs *pflag.FlagSet) runFunc {
	overdue := fs.Bool("overdue", false, "only the notices past their deadline without a closing answer")
	recipient := fs.String("recipient", "", "only the notices to `RECIPIENT`")
	exportID := fs.String("export", "", "only the notices about `EXPORT`")
	asJSON := fs.Bool("json", false, "print the notices as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		ns, err := g.Notices(ctx, access.Local, gate.NoticeFilter{Overdue: *overdue, Recipient: *recipient, Export: *exportID})
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"notices": ns}) // the shape GET /v1/notices answers
		}
		if len(ns) == 0 {
			switch {
			case *recipient != "" || *exportID != "":
				fmt.Fprintln(a.stdout, "no notice matches (`consentgate notices` lists them all)")
			case *overdue:
				fmt.Fprintln(a.stdout, "no notice is overdue")
			default:
				fmt.Fprintln(a.stdout, "no notice was sent: `consentgate notices send` sends the ones impact calls for")
			}
			return nil
		}
		for _, n := range ns {
			fmt.Fprintln(a.stdout, noticeLine(&n))
			for _, an := range n.Answers {
				note := ""
				if an.Note != "" {
					note = ": " + an.Note
				}
				late := ""
				if an.Late {
					late = " (after its deadline)"
				}
				fmt.Fprintf(a.stdout, "    %s %s by %s%s%s\n", an.At, an.Status, an.By, late, note)
			}
		}
		return nil
	}
}

// noticeLine is one notice in a line.
func noticeLine(n *gate.Notice) string {
	deadline := "no deadline"
	if n.Deadline != 0 {
		deadline = "due " + n.Deadline.String()
	}
	status := n.Status
	if n.Overdue {
		status += ", OVERDUE"
	}
	jobs := ""
	if js := gate.NoticeJobs(n); len(js) > 0 {
		names := make([]string, len(js))
		for i, j := range js {
			names[i] = j.Namespace + "/" + j.Job
			if j.Runs > 1 {
				names[i] += fmt.Sprintf(" (%d runs)", j.Runs)
			}
		}
		jobs = "; trained on by " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s to %s about export %s: %d %s, issued %s, %s [%s] (log index %d)%s",
		n.ID, n.Recipient, n.ExportID, n.Records, plural(n.Records, "record", "records"), n.IssuedAt, deadline, status, n.LogIndex, jobs)
}

// cmdNoticesSend creates the notices the open impact items call for.
func cmdNoticesSend(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the notices sent as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		res, err := g.SendNotices(ctx, access.Local)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(res)
		}
		for _, n := range res.Sent {
			fmt.Fprintln(a.stdout, "sent "+noticeLine(&n))
		}
		if len(res.Sent) == 0 {
			fmt.Fprintf(a.stdout, "nothing to send: no open impact item names a record that a notice has not named already (%d %s already notified)\n",
				res.Waiting, plural(res.Waiting, "item", "items"))
		} else {
			fmt.Fprintln(a.stdout, "queued for `consentgate deliver --notices RECIPIENT=URL`; recipients read them at GET /v1/notices with their token")
		}
		return nil
	}
}

// cmdNoticesShow prints a notice with its log evidence: the file a
// recipient checks with `notice verify`.
func cmdNoticesShow(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		if _, err := g.Checkpoint(ctx); err != nil { // so that the evidence covers the latest notice
			return err
		}
		b, err := g.NoticeByID(ctx, access.Local, args[0])
		if err != nil {
			return err
		}
		return a.printJSON(b)
	}
}

// cmdNoticesAnswer records an answer to a notice on the recipient's
// behalf (an answer received another way), or closes a refused one.
func cmdNoticesAnswer(a *app, fs *pflag.FlagSet) runFunc {
	status := fs.String("status", "", "`ANSWER`: "+strings.Join(gate.AnswerStatuses, ", ")+", or wontfix to close a refusal")
	note := fs.String("note", "", "a `NOTE` (required for refused and wontfix)")
	return func(ctx context.Context, args []string) error {
		if !slices.Contains(gate.AnswerStatuses, *status) && *status != gate.NoticeWontFix {
			return usagef("--status %q: expected one of %s, or wontfix", *status, strings.Join(gate.AnswerStatuses, ", "))
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		n, err := g.AnswerNotice(ctx, access.Local, args[0], *status, *note)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "answered "+noticeLine(n))
		return nil
	}
}

// cmdLineageImport links training jobs to the exports they read, from a
// file of OpenLineage run events.
func cmdLineageImport(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print what was linked as JSON")
	return func(ctx context.Context, args []string) error {
		f, err := os.Open(args[0])
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], errors.Unwrap(err))
		}
		evs, err := lineage.ReadRunEvents(f, args[0])
		f.Close()
		if err != nil {
			return gate.Errorf(gate.Invalid, gate.NoHint, "%s", err)
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		res, err := g.RecordLineage(ctx, access.Local, evs)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(res)
		}
		for _, l := range res.Linked {
			fmt.Fprintf(a.stdout, "linked %s/%s (run %s, %s) to export %s\n", l.Namespace, l.Job, l.RunID, l.At, l.ExportID)
		}
		fmt.Fprintf(a.stdout, "%d %s read, %d COMPLETE; %d %s linked, %d already known, %d %s naming no export's output\n",
			res.Events, plural(res.Events, "event", "events"), res.Complete, len(res.Linked), plural(len(res.Linked), "run", "runs"),
			res.Known, res.Unmatched, plural(res.Unmatched, "input", "inputs"))
		return nil
	}
}
