package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/lineage"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// demoNotices is the tour's seventh step: what the platform owes the
// recipient after the opt-outs, replayed on the story's calendar (the
// gate's story clock, storyNow): the recipient's training job reports what
// it trained on, a first notice goes out and is answered, a second goes
// out and is never answered, and today it is overdue. It returns the
// notices' ids.
func demoNotices(ctx context.Context, g *gate.Gate, w io.Writer, storyNow *timestamp.Time, output string) ([]string, error) {
	defer func() { *storyNow = 0 }()
	day := func(t timestamp.Time) string { return t.Time().Format("2 Jan 2006") }
	at := func(s string) timestamp.Time {
		t, _ := time.Parse(time.RFC3339, s)
		return timestamp.FromTime(t)
	}
	partner := access.Principal{Role: access.Recipient, Recipient: demo.ExportRecipient}
	fmt.Fprintf(w, "\n7. Notices to %s (consentgate notices send), replayed on the story's calendar:\n", demo.ExportRecipient)

	abs, err := filepath.Abs(output)
	if err != nil {
		return nil, err
	}
	*storyNow = at("2025-02-10T06:00:00Z")
	run := lineage.RunEvent{EventType: "COMPLETE", EventTime: storyNow.Time(), Producer: "https://partner-x.example/trainer",
		RunID: "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e0f", Namespace: "partner-x", Job: "llm-v3.fine-tune",
		Inputs: []lineage.DatasetName{lineage.OutputName(abs)}}
	if _, err := g.RecordLineage(ctx, partner, []lineage.RunEvent{run}); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "   %-12s %s's job %s/%s reports (OpenLineage, POST /api/v1/lineage) that it trained on the export\n",
		day(*storyNow), demo.ExportRecipient, run.Namespace, run.Job)

	var ids []string
	send := func(when string) error {
		*storyNow = at(when)
		res, err := g.SendNotices(ctx, access.Local)
		if err != nil {
			return err
		}
		if len(res.Sent) == 0 {
			fmt.Fprintf(w, "   %-12s nothing owed: no member had withdrawn since the last notice\n", day(*storyNow))
		}
		for _, n := range res.Sent {
			ids = append(ids, n.ID)
			fmt.Fprintf(w, "   %-12s notice %s: %s to delete and keep out of training, each with its proof in the\n", day(n.IssuedAt), n.ID,
				countOf(n.Records, "record", "records"))
			fmt.Fprintf(w, "   %-12s export's records_root, naming the job; signed, log index %d, due %s\n", "", n.LogIndex, day(n.Deadline))
		}
		return nil
	}
	if err := send("2025-03-15T09:00:00Z"); err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		*storyNow = at("2025-03-28T16:30:00Z")
		note := "deleted from our copy; llm-v3 is retrained without them in the April run"
		if _, err := g.AnswerNotice(ctx, partner, ids[0], "deleted", note); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "   %-12s %s answers with its own token (POST /v1/notices/ID/answers): deleted —\n", day(*storyNow), demo.ExportRecipient)
		fmt.Fprintf(w, "   %-12s %q\n", "", note)
	}
	if err := send("2025-05-20T09:00:00Z"); err != nil {
		return nil, err
	}
	*storyNow = 0

	ns, err := g.Notices(ctx, access.Local, gate.NoticeFilter{})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "   Today (consentgate notices):\n")
	if len(ns) == 0 {
		fmt.Fprintf(w, "     none was sent: none was owed\n")
	}
	for _, n := range ns {
		switch {
		case n.Overdue:
			fmt.Fprintf(w, "     %s OVERDUE: no answer since its deadline, %s (consentgate notices --overdue; the console and /metrics show it)\n", n.ID, day(n.Deadline))
		case len(n.Answers) > 0:
			fmt.Fprintf(w, "     %s %s on %s\n", n.ID, n.Status, day(n.Answers[len(n.Answers)-1].At))
		default:
			fmt.Fprintf(w, "     %s %s\n", n.ID, n.Status)
		}
	}
	items, err := g.Impact(ctx, access.Local, timestamp.Min)
	if err != nil {
		return nil, err
	}
	owed := 0
	for _, it := range items {
		if it.Status == impact.Open {
			owed++
		}
	}
	if owed > 0 {
		fmt.Fprintf(w, "   %d more %s withdrew or moved since: their notice is owed (consentgate notices send).\n", owed, plural(owed, "member", "members"))
	}
	fmt.Fprintf(w, "   Each member sees it in the privacy centre: who was told, when, what they answered, and which job had trained on it.\n")
	return ids, nil
}
