package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"time"

	"golang.org/x/term"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/lineage"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/redact"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdExport(a *app, fs *pflag.FlagSet) runFunc {
	var req gate.ExportRequest
	o := &req.Options
	var subjectFlags []string
	var asOf timestamp.Time
	var asOfSet bool
	fs.StringVar(&req.Purpose, "purpose", "", "the `PURPOSE` (a leaf of the policy's purpose tree)")
	fs.StringVar(&req.Recipient, "recipient", "", "the `RECIPIENT` id")
	fs.Var(timeFlag{&asOf, &asOfSet}, "as-of", "decide as of `TIME` (default now, or the snapshot's)")
	fs.StringVar(&req.Snapshot, "snapshot", "", "read the policy versions and the view from a snapshot `FILE` instead of the store")
	fs.Var(listFlag{&o.Inputs}, "in", "input `FILE` (JSON Lines, or Parquet by the .parquet extension; a path, or an object-store URL: s3://bucket/key, gs://, azblob://); repeat, or list several after it")
	fs.Var(choiceFlag{&o.InFormat, []string{"jsonl", "parquet"}}, "in-format", "read every input as `FORMAT`: jsonl or parquet (default: by extension)")
	fs.StringVar(&o.Out, "out", "", "output `FILE` (a path or an object-store URL, committed only once the export is logged)")
	fs.StringVar(&o.Rejects, "rejects", "", "rejects `FILE` (one line per excluded record; a path or an object-store URL)")
	fs.StringVar(&o.Manifest, "manifest", "", "manifest `FILE` (default OUT.manifest.json; a path or an object-store URL)")
	o.Format = "jsonl"
	fs.Var(choiceFlag{&o.Format, []string{"jsonl", "parquet"}}, "format", "output `FORMAT`: jsonl or parquet")
	fs.Var(countFlag{&o.Workers, 1, "a whole number of at least 1 (leave it out for one per CPU)"}, "workers", "`N` decision workers, at least 1 (default: one per CPU)")
	fs.StringVar(&o.Fields.ID, "id", "", "`FIELD` holding the record id (dotted path)")
	fs.StringVar(&o.Fields.Time, "time", "", "`FIELD` holding the creation time (dotted path)")
	fs.StringVar(&o.Fields.Category, "category-field", "", "`FIELD` holding the category (dotted path)")
	fs.StringVar(&o.Fields.FixedCategory, "category", "", "one `CATEGORY` for every record")
	lineageFile := fs.String("lineage", "", "append OpenLineage run events (START, COMPLETE or FAIL) to `FILE`")
	lineageURL := fs.String("lineage-url", "", "post OpenLineage run events to `URL` (e.g. Marquez's /api/v1/lineage)")
	redactFile := fs.String("redact", "", "redaction `CONFIG` (YAML): text fields to scan and what to do with what the detectors find")
	fs.Var(listFlag{&subjectFlags}, "subject", "`ROLE=FIELD`: a field holding a subject id or a list of them; repeat")
	return func(ctx context.Context, args []string) error {
		o.Inputs = append(o.Inputs, args...)
		if req.Purpose == "" || req.Recipient == "" || o.Out == "" {
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
		if asOfSet {
			req.AsOf = &asOf
		}
		switch {
		case *lineageFile != "" && *lineageURL != "":
			return usagef("give --lineage or --lineage-url, not both")
		case *lineageFile != "":
			req.Lineage = lineage.FileSink{Path: *lineageFile}
		case *lineageURL != "":
			req.Lineage = lineage.HTTPSink{URL: *lineageURL}
		}
		if *redactFile != "" {
			src, err := os.ReadFile(*redactFile)
			if err != nil {
				return err
			}
			if o.Redact, err = redact.ParseConfig(*redactFile, src); err != nil {
				return err
			}
		}
		if a.onTerminal() {
			o.Progress = a.stderr
		}
		// $CONSENTGATE_CPUPROFILE=FILE (not documented for users) writes a
		// CPU profile of the whole export, the store's opening included:
		// how the end-to-end benchmark's profile is taken.
		if f := os.Getenv("CONSENTGATE_CPUPROFILE"); f != "" {
			stop, err := startCPUProfile(f)
			if err != nil {
				return err
			}
			defer stop()
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		m, err := g.Export(ctx, req)
		if err != nil {
			return err
		}
		printExportSummary(a, m, o)
		return nil
	}
}

func printExportSummary(a *app, m *export.Manifest, o *export.Options) {
	w := a.stdout
	fmt.Fprintf(w, "export %s: purpose %s, recipient %s (%s), as of %s\n", m.ExportID, m.Purpose, m.Recipient, m.RecipientClass, m.AsOf)
	fmt.Fprintf(w, "  read %s: %d included (%s), %d excluded\n", countOf(int(m.Counts.Read), "record", "records"), m.Counts.Included, countOf(int(m.Subjects), "subject", "subjects"), m.Counts.Excluded)
	for _, r := range sortedReasons(m.Counts.ExcludedByReason) {
		fmt.Fprintf(w, "    %8d  %s\n", m.Counts.ExcludedByReason[r], r)
	}
	fmt.Fprintf(w, "  output   %s (sha256 %s)\n", m.Output.File, m.Output.SHA256)
	if m.Rejects != nil {
		fmt.Fprintf(w, "  rejects  %s\n", m.Rejects.File)
	}
	fmt.Fprintf(w, "  manifest %s (records_root %s)\n", o.ManifestPath(), m.RecordsRoot)
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
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
