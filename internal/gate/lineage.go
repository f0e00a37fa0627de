package gate

import (
	"context"
	"errors"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/lineage"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// LineageResult is what RecordLineage did with a batch of run events.
type LineageResult struct {
	Events   int `json:"events"`   // read
	Complete int `json:"complete"` // of them COMPLETE, the only ones that link
	// Linked are the links added (a job's run to an export), Known those
	// already stored.
	Linked []LineageLink `json:"linked"`
	Known  int           `json:"known"`
	// Unmatched counts the inputs of COMPLETE events that name no export's
	// output the principal may report on.
	Unmatched int `json:"unmatched"`
}

// LineageLink is a job's run linked to an export it read.
type LineageLink struct {
	ExportID  string         `json:"export_id"`
	Namespace string         `json:"namespace"`
	Job       string         `json:"job"`
	RunID     string         `json:"run_id"`
	At        timestamp.Time `json:"at"`
	// AfterNotice, in a member's aftermath, is the first notice naming
	// their records that the run finished after: training on the data
	// after the recipient was told.
	AfterNotice string `json:"after_notice,omitempty"`
}

// RecordLineage links the jobs of OpenLineage run events to the exports
// they read (SPEC §11): a COMPLETE event one of whose inputs is an
// export's output — namespace "file" and the output's absolute path, as
// consentgate's own lineage events name it — links its job and run to
// that export. Operators and admins may report on any export, a
// recipient's token on the exports to that recipient only. Other events
// are accepted and change nothing.
func (g *Gate) RecordLineage(ctx context.Context, p access.Principal, events []lineage.RunEvent) (*LineageResult, error) {
	if !p.Can(access.MarkImpact, "") && p.Role != access.Recipient {
		return nil, errForbidden
	}
	if err := g.writable(); err != nil {
		return nil, err
	}
	es, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	type output struct {
		id, recipient, path string
	}
	var outs []output
	for i := range es {
		e := &es[i]
		if e.Status != store.ExportComplete {
			continue
		}
		m, err := manifestOf(e)
		if err != nil {
			return nil, err
		}
		outs = append(outs, output{e.ID, e.Recipient, resolveFile(e.Dir, m.Output.File)})
	}
	res := &LineageResult{Events: len(events), Linked: []LineageLink{}}
	for _, ev := range events {
		if ev.EventType != "COMPLETE" {
			continue
		}
		res.Complete++
		for _, in := range ev.Inputs {
			matched := false
			for _, o := range outs {
				if !lineage.SameFile(in, o.path) || !p.Can(access.ReportLineage, o.recipient) && !p.Can(access.MarkImpact, "") {
					continue
				}
				matched = true
				r := store.LineageRun{ExportID: o.id, Namespace: ev.Namespace, Job: ev.Job, RunID: ev.RunID,
					At: timestamp.FromTime(ev.EventTime), Producer: ev.Producer}
				added, err := g.st.AddLineageRun(ctx, r)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				if added {
					res.Linked = append(res.Linked, LineageLink{ExportID: o.id, Namespace: r.Namespace, Job: r.Job, RunID: r.RunID, At: r.At})
				} else {
					res.Known++
				}
			}
			if !matched {
				res.Unmatched++
			}
		}
	}
	return res, nil
}

// lineageByExport lists the jobs known to have run on each export's
// output, by export id.
func (g *Gate) lineageByExport(ctx context.Context) (map[string][]LineageLink, error) {
	runs, err := g.st.LineageRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]LineageLink{}
	for _, r := range runs {
		out[r.ExportID] = append(out[r.ExportID], LineageLink{ExportID: r.ExportID, Namespace: r.Namespace, Job: r.Job, RunID: r.RunID, At: r.At})
	}
	return out, nil
}

// JobRuns is one job's runs on an export's output, as the front ends list
// it: one line per job, not per run.
type JobRuns struct {
	Namespace string
	Job       string
	Runs      int
	Last      timestamp.Time // the latest run's finish
	// AfterNotice is the first notice that one of its runs finished after
	// (LineageLink.AfterNotice), "" for none.
	AfterNotice string
}

// GroupJobs groups runs by job, in the order the jobs first appear.
func GroupJobs(links []LineageLink) []JobRuns {
	var out []JobRuns
	at := map[[2]string]int{}
	for _, l := range links {
		k := [2]string{l.Namespace, l.Job}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, JobRuns{Namespace: l.Namespace, Job: l.Job})
		}
		j := &out[i]
		j.Runs++
		j.Last = max(j.Last, l.At)
		if j.AfterNotice == "" {
			j.AfterNotice = l.AfterNotice
		}
	}
	return out
}

// NoticeJobs groups a notice's jobs by job.
func NoticeJobs(n *Notice) []JobRuns {
	links := make([]LineageLink, len(n.Jobs))
	for i, j := range n.Jobs {
		links[i] = LineageLink{ExportID: n.ExportID, Namespace: j.Namespace, Job: j.Name, RunID: j.RunID, At: j.At}
	}
	return GroupJobs(links)
}
