package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"golang.org/x/term"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/lineage"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/redact"
	"github.com/consentgate/consentgate/internal/snapshot"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// exportRequest is an export as the command line describes it.
type exportRequest struct {
	purpose, recipient string
	asOf               timestamp.Time
	asOfSet            bool
	snapshot           string // "" to read the store
	opts               export.Options
	lineage            lineage.Sink // nil for none
	warn               io.Writer
}

func cmdExport(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("export")
	var req exportRequest
	o := &req.opts
	var subjectFlags []string
	fs.StringVar(&req.purpose, "purpose", "", "the `PURPOSE` (a leaf of the policy's purpose tree)")
	fs.StringVar(&req.recipient, "recipient", "", "the `RECIPIENT` id")
	fs.Var(timeFlag{&req.asOf, &req.asOfSet}, "as-of", "decide as of `TIME` (default now, or the snapshot's)")
	fs.StringVar(&req.snapshot, "snapshot", "", "read the policy versions and the view from a snapshot `FILE` instead of the store")
	fs.Var(listFlag{&o.Inputs}, "in", "input JSON Lines `FILE`; repeat, or list several after it")
	fs.StringVar(&o.Out, "out", "", "output `FILE`")
	fs.StringVar(&o.Rejects, "rejects", "", "rejects `FILE` (one line per excluded record)")
	fs.StringVar(&o.Manifest, "manifest", "", "manifest `FILE` (default OUT.manifest.json)")
	fs.StringVar(&o.Format, "format", "jsonl", "output `FORMAT`: jsonl or parquet")
	fs.IntVar(&o.Workers, "workers", 0, "`N` decision workers (default the number of CPUs)")
	fs.StringVar(&o.Fields.ID, "id", "", "`FIELD` holding the record id (dotted path)")
	fs.StringVar(&o.Fields.Time, "time", "", "`FIELD` holding the creation time (dotted path)")
	fs.StringVar(&o.Fields.Category, "category-field", "", "`FIELD` holding the category (dotted path)")
	fs.StringVar(&o.Fields.FixedCategory, "category", "", "one `CATEGORY` for every record")
	lineageFile := fs.String("lineage", "", "append OpenLineage run events (START, COMPLETE or FAIL) to `FILE`")
	lineageURL := fs.String("lineage-url", "", "post OpenLineage run events to `URL` (e.g. Marquez's /api/v1/lineage)")
	redactFile := fs.String("redact", "", "redaction `CONFIG` (YAML): text fields to scan and what to do with what the detectors find")
	fs.Var(listFlag{&subjectFlags}, "subject", "`ROLE=FIELD`: a field holding a subject id or a list of them; repeat")
	if err := a.parse(fs, args, positionals(&o.Inputs)); err != nil {
		return err
	}
	if req.purpose == "" || req.recipient == "" || o.Out == "" {
		return usagef("--purpose, --recipient and --out are required")
	}
	for _, s := range subjectFlags {
		sf, err := record.ParseSubjectFlag(s)
		if err != nil {
			return usagef("%v", err)
		}
		o.Fields.Subjects = append(o.Fields.Subjects, sf)
	}
	if err := o.Fields.Validate(); err != nil {
		return usagef("%v", err)
	}
	if len(o.Inputs) == 0 {
		return usagef("at least one --in FILE is required")
	}
	if !req.asOfSet && req.snapshot == "" {
		req.asOf = timestamp.Now()
	}
	switch {
	case *lineageFile != "" && *lineageURL != "":
		return usagef("give --lineage or --lineage-url, not both")
	case *lineageFile != "":
		req.lineage = lineage.FileSink{Path: *lineageFile}
	case *lineageURL != "":
		req.lineage = lineage.HTTPSink{URL: *lineageURL}
	}
	req.warn = a.stderr
	if *redactFile != "" {
		src, err := os.ReadFile(*redactFile)
		if err != nil {
			return err
		}
		if o.Redact, err = redact.ParseConfig(*redactFile, src); err != nil {
			return err
		}
		secret, err := a.secret("redaction.key")
		if err != nil {
			return err
		}
		// The hash operator's key is derived for this use alone.
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("consentgate/redaction/hash/v1"))
		o.RedactKey = mac.Sum(nil)
	}
	if a.onTerminal() {
		o.Progress = a.stderr
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := runExport(ctx, a, st, &req)
	if err != nil {
		return err
	}
	printExportSummary(a, m, o)
	return nil
}

// runExport loads the view, plans and runs the export, and records it in
// the store before its files are renamed into place.
func runExport(ctx context.Context, a *app, st *cmdStore, req *exportRequest) (*export.Manifest, error) {
	var snap *snapshot.File
	var vs *decision.Versions
	var err error
	if req.snapshot != "" {
		if snap, err = snapshot.Open(req.snapshot); err != nil {
			return nil, err
		}
		defer snap.Close()
		if !req.asOfSet {
			req.asOf = snap.AsOf
		} else if req.asOf != snap.AsOf {
			return nil, usagef("--as-of %s differs from the snapshot's as-of time %s", req.asOf, snap.AsOf)
		}
		vs, err = snap.Versions()
	} else {
		vs, _, err = loadVersions(ctx, st)
	}
	if err != nil {
		return nil, err
	}
	// Refuse a bad purpose or recipient before the (longer) view load.
	if _, err := decision.NewPlan(vs, emptyView(req.asOf, vs), req.purpose, req.recipient); err != nil {
		return nil, err
	}
	attrs := vs.Attributes()
	if o := req.opts.Redact; o != nil && o.Operators[redact.Member] != redact.Off {
		for _, a := range export.MemberAttributes {
			if !slices.Contains(attrs, a) {
				attrs = append(attrs, a)
			}
		}
	}
	var view *consent.View
	if snap != nil {
		view, _, err = snap.LoadView(attrs)
	} else {
		view, err = store.LoadView(ctx, st, req.asOf, attrs, nil)
	}
	if err != nil {
		return nil, err
	}
	plan, err := decision.NewPlan(vs, view, req.purpose, req.recipient)
	if err != nil {
		return nil, err
	}
	o := req.opts
	o.Plan = plan
	o.Now = timestamp.Now()
	if req.lineage != nil {
		run := &lineage.Export{RunID: lineage.NewRunID(), Purpose: req.purpose, Recipient: req.recipient, AsOf: req.asOf.Time(),
			Inputs: o.Inputs, Output: o.Out, Rejects: o.Rejects}
		if err := req.lineage.Emit(ctx, run.Start(o.Now.Time())); err != nil {
			return nil, fmt.Errorf("the lineage START event could not be delivered, so nothing was exported: %w", err)
		}
		m, err := runPlanned(ctx, a, st, o)
		var ev *lineage.Event
		if err != nil {
			ev = run.Fail(time.Now(), err)
		} else {
			ev = run.Complete(time.Now(), m)
		}
		if lerr := req.lineage.Emit(ctx, ev); lerr != nil {
			fmt.Fprintf(req.warn, "warning: the lineage %s event could not be delivered: %v\n", ev.EventType, lerr)
		}
		return m, err
	}
	return runPlanned(ctx, a, st, o)
}

// runPlanned runs a planned export: its manifest is appended to the log
// and the export recorded before its files are renamed into place, and
// marked complete after.
func runPlanned(ctx context.Context, a *app, st *cmdStore, o export.Options) (*export.Manifest, error) {
	signer, err := a.signer()
	if err != nil {
		return nil, err
	}
	if o.Log, err = logState(ctx, st); err != nil {
		return nil, err
	}
	o.BeforeRename = a.logExport(ctx, st, signer)
	m, err := export.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	return m, st.SetExportStatus(ctx, m.ExportID, store.ExportComplete)
}

func printExportSummary(a *app, m *export.Manifest, o *export.Options) {
	w := a.stdout
	fmt.Fprintf(w, "export %s: purpose %s, recipient %s (%s), as of %s\n", m.ExportID, m.Purpose, m.Recipient, m.RecipientClass, m.AsOf)
	fmt.Fprintf(w, "  read %d records: %d included (%d subjects), %d excluded\n", m.Counts.Read, m.Counts.Included, m.Subjects, m.Counts.Excluded)
	for _, r := range sortedReasons(m.Counts.ExcludedByReason) {
		fmt.Fprintf(w, "    %8d  %s\n", m.Counts.ExcludedByReason[r], r)
	}
	fmt.Fprintf(w, "  output   %s (sha256 %s)\n", m.Output.File, m.Output.SHA256)
	if m.Rejects != nil {
		fmt.Fprintf(w, "  rejects  %s\n", m.Rejects.File)
	}
	fmt.Fprintf(w, "  manifest %s (records_root %s)\n", o.ManifestPath(), m.RecordsRoot)
}

// sortedReasons orders reasons by count, then name.
func sortedReasons(m map[string]int64) []string {
	var rs []string
	for r := range m {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
		if m[rs[i]] != m[rs[j]] {
			return m[rs[i]] > m[rs[j]]
		}
		return rs[i] < rs[j]
	})
	return rs
}

func emptyView(asOf timestamp.Time, vs *decision.Versions) *consent.View {
	return consent.EmptyView(asOf, vs.Attributes())
}

// onTerminal reports whether stderr is a terminal, where progress is shown.
func (a *app) onTerminal() bool {
	return a.stderr == os.Stderr && term.IsTerminal(int(os.Stderr.Fd()))
}

// spinner shows what a long command is doing, with the seconds it has
// taken, on a terminal; the returned function clears it.
func (a *app) spinner(what string) (stop func()) {
	if !a.onTerminal() {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(a.stderr, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprintf(a.stderr, "\r%s… %.0fs", what, time.Since(start).Seconds())
			}
		}
	}()
	return func() { close(done); <-finished }
}
