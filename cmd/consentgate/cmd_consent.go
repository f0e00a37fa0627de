package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdConsentSet(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("consent set")
	var e consent.Event
	var state string
	var atSet bool
	fs.StringVar(&e.Subject, "subject", "", "the `SUBJECT` id")
	fs.StringVar(&e.Purpose, "purpose", "", "the `PURPOSE`")
	fs.StringVar(&e.Recipient, "recipient", "", "a `RECIPIENT` id or class (default: every recipient)")
	fs.StringVar(&state, "state", "", "`STATE`: granted or denied")
	fs.Var(timeFlag{&e.At, &atSet}, "at", "`TIME` of the choice (default now)")
	fs.StringVar(&e.Source, "source", "support", "`SOURCE` of the choice: "+strings.Join(consent.Sources, ", "))
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if e.Subject == "" || e.Purpose == "" || state == "" {
		return usagef("--subject, --purpose and --state are required")
	}
	if e.Recipient == "*" {
		e.Recipient = ""
	}
	st, err := consent.ParseState(&state)
	if err != nil {
		return usagef("--state %q: expected granted or denied", state)
	}
	e.State = st
	if !consent.ValidSource(e.Source) {
		return usagef("--source %q: expected one of %s", e.Source, strings.Join(consent.Sources, ", "))
	}
	now := timestamp.Now()
	if !atSet {
		e.At = now
	} else if e.At > now {
		return fmt.Errorf("--at %s is in the future", e.At)
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	vs, _, err := loadVersions(ctx, s)
	if err != nil {
		return err
	}
	if err := vs.CheckDeclared(e.Purpose, e.Recipient); err != nil {
		return err
	}
	added, err := s.AddConsentEvents(ctx, []consent.Event{e})
	if err != nil {
		return err
	}
	if added == 0 {
		fmt.Fprintf(a.stdout, "the same event is already recorded for %s\n", e.Subject)
		return nil
	}
	fmt.Fprintf(a.stdout, "recorded: %s %s purpose %s, recipient %s, at %s (source %s)\n",
		e.Subject, e.State, e.Purpose, e.RecipientLabel(), e.At, e.Source)
	return nil
}

func cmdConsentShow(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("consent show")
	var subject string
	var asOf timestamp.Time
	var asOfSet bool
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	fs.Var(timeFlag{&asOf, &asOfSet}, "as-of", "the `TIME` to show the state at (default now)")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if subject == "" || len(pos) > 0 {
		return usagef("--subject is required and there are no arguments")
	}
	if !asOfSet {
		asOf = timestamp.Now()
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	vs, _, err := loadVersions(ctx, s)
	if err != nil {
		return err
	}
	view, err := store.LoadView(ctx, s, asOf, vs.Attributes(), []string{subject})
	if err != nil {
		return err
	}
	subjHist, err := s.SubjectHistory(ctx, subject)
	if err != nil {
		return err
	}
	consHist, err := s.ConsentHistory(ctx, subject)
	if err != nil {
		return err
	}
	w := a.stdout
	fmt.Fprintf(w, "subject %s as of %s\n", subject, asOf)
	idx, known := view.Lookup(subject)
	if !known {
		fmt.Fprintln(w, "  not known at that time: no subject event at or before it")
	} else {
		stt := view.StateAt(idx, asOf)
		region := view.Regions[view.StateRegion(stt)]
		if region == "" {
			region = "(none)"
		}
		fmt.Fprintf(w, "  region %s", region)
		if attrs := view.Attrs(stt); len(attrs) > 0 {
			var parts []string
			for k, v := range attrs {
				parts = append(parts, k+"="+v)
			}
			sort.Strings(parts)
			fmt.Fprintf(w, ", %s", strings.Join(parts, " "))
		}
		fmt.Fprintln(w)
		t := vs.At(asOf)
		if vs.IndexAt(asOf) == 0 {
			fmt.Fprintln(w, "  no policy version is in force at that time")
		} else {
			fmt.Fprintf(w, "\n  consent under policy %s (purpose × recipient; 'none' means the subject never chose):\n", t.Doc.Version)
			tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "    PURPOSE\tRECIPIENT\tSTATE\tDECIDED BY")
			for _, p := range t.Doc.Purposes {
				for _, r := range t.Doc.Recipients {
					cs, ev := decision.ConsentState(vs, view, idx, decision.Target{Purpose: p, Recipient: r.ID, Class: r.Class})
					by := "-"
					if ev != nil {
						by = fmt.Sprintf("%s %s (purpose %s, recipient %s)", ev.At, ev.Source, ev.Purpose, ev.RecipientLabel())
					}
					fmt.Fprintf(tw, "    %s\t%s (%s)\t%s\t%s\n", p, r.ID, r.Class, cs, by)
				}
			}
			tw.Flush()
		}
	}
	fmt.Fprintln(w, "\n  subject history:")
	for _, e := range subjHist {
		var parts []string
		if e.RegionSet {
			r := e.Region
			if r == "" {
				r = "null"
			}
			parts = append(parts, "region="+r)
		}
		keys := make([]string, 0, len(e.Attributes))
		for k := range e.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := "null"
			if e.Attributes[k] != nil {
				v = *e.Attributes[k]
			}
			parts = append(parts, k+"="+v)
		}
		fmt.Fprintf(w, "    %s  %s\n", e.At, strings.Join(parts, " "))
	}
	fmt.Fprintln(w, "\n  consent history:")
	if len(consHist) == 0 {
		fmt.Fprintln(w, "    (no consent events)")
	}
	for _, e := range consHist {
		fmt.Fprintf(w, "    %s  %-7s purpose %s, recipient %s, source %s\n", e.At, e.State, e.Purpose, e.RecipientLabel(), e.Source)
	}
	return nil
}

func cmdConsentExport(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("consent export")
	var subject, format string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	fs.StringVar(&format, "format", "iso27560", "`FORMAT`: iso27560")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if subject == "" || len(pos) > 0 {
		return usagef("--subject is required and there are no arguments")
	}
	if format != "iso27560" {
		return usagef("--format %q: the only format is iso27560", format)
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	vs, _, err := loadVersions(ctx, s)
	if err != nil {
		return err
	}
	evs, err := s.ConsentHistory(ctx, subject)
	if err != nil {
		return err
	}
	view, err := store.LoadView(ctx, s, timestamp.Max, nil, []string{subject})
	if err != nil {
		return err
	}
	idx, known := view.Lookup(subject)
	regionAt := func(t timestamp.Time) string {
		if !known {
			return ""
		}
		return view.Regions[view.StateRegion(view.StateAt(idx, t))]
	}
	noticeAt := func(t timestamp.Time) *consent.ISONotice {
		if vs.IndexAt(t) == 0 {
			return nil
		}
		d := vs.At(t).Doc
		return &consent.ISONotice{Version: d.Version, SHA256: d.Digest()}
	}
	return a.printJSON(consent.ToISO27560(subject, evs, regionAt, noticeAt))
}
