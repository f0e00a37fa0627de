package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdConsentSet(a *app, fs *pflag.FlagSet) runFunc {
	var subject, purpose, recipient, state, at, source string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	fs.StringVar(&purpose, "purpose", "", "the `PURPOSE`")
	fs.StringVar(&recipient, "recipient", "", "a `RECIPIENT` id or class (default: every recipient)")
	fs.StringVar(&state, "state", "", "`STATE`: granted or denied")
	fs.StringVar(&at, "at", "", "`TIME` of the choice, RFC 3339 (default now)")
	fs.StringVar(&source, "source", "support", "`SOURCE` of the choice: "+strings.Join(consent.Sources, ", "))
	return func(ctx context.Context, args []string) error {
		if subject == "" || purpose == "" || state == "" {
			return usagef("--subject, --purpose and --state are required")
		}
		if state != "granted" && state != "denied" {
			return usagef("--state %q: expected granted or denied", state)
		}
		if !consent.ValidSource(source) {
			return usagef("--source %q: expected one of %s", source, strings.Join(consent.Sources, ", "))
		}
		c := consent.Choice{Subject: &subject, Purpose: &purpose, State: &state, Source: &source}
		fs.Visit(func(f *pflag.Flag) {
			if f.Name == "recipient" { // given, even empty: the gate judges it
				c.Recipient = &recipient
			}
		})
		if at != "" {
			if _, err := timestamp.Parse(at); err != nil {
				return usagef("--at %q: %v", at, err)
			}
			c.At = &at
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		rec, err := g.RecordConsent(ctx, access.Local, c, false)
		if err != nil {
			return err
		}
		e := rec[len(rec)-1]
		if !e.Added {
			fmt.Fprintf(a.stdout, "the same event is already recorded for %s\n", subject)
			return nil
		}
		fmt.Fprintf(a.stdout, "recorded: %s %s purpose %s, recipient %s, at %s (source %s)\n", subject, e.State, e.Purpose, e.Recipient, e.At, e.Source)
		return nil
	}
}

func cmdConsentShow(a *app, fs *pflag.FlagSet) runFunc {
	var subject string
	var asOf timestamp.Time
	var asOfSet bool
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	fs.Var(timeFlag{&asOf, &asOfSet}, "as-of", "the `TIME` to show the state at (default now)")
	asJSON := fs.Bool("json", false, "print the state, consent, effective state and history as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		var at *timestamp.Time
		if asOfSet {
			at = &asOf
		}
		cs, err := g.Consents(ctx, access.Local, subject, at)
		if err != nil {
			return err
		}
		state, err := g.Subject(ctx, access.Local, subject, &cs.AsOf)
		if gate.CodeOf(err) == gate.NotFound {
			state, err = nil, nil
		}
		if err != nil {
			return err
		}
		subjHist, err := g.SubjectHistory(ctx, access.Local, subject)
		if err != nil {
			return err
		}
		consHist, err := g.ConsentHistory(ctx, access.Local, subject)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"state": state, "consents": cs, "subject_history": subjHist, "consent_history": consHist})
		}
		w := a.stdout
		fmt.Fprintf(w, "subject %s as of %s\n", subject, cs.AsOf)
		if state == nil {
			fmt.Fprintln(w, "  not known at that time: no subject event at or before it")
		} else {
			region := "(none)"
			if state.Region != nil {
				region = *state.Region
			}
			fmt.Fprintf(w, "  region %s", region)
			if len(state.Attributes) > 0 {
				var parts []string
				for k, v := range state.Attributes {
					parts = append(parts, k+"="+v)
				}
				sort.Strings(parts)
				fmt.Fprintf(w, ", %s", strings.Join(parts, " "))
			}
			fmt.Fprintln(w)
			if cs.Policy == "" {
				fmt.Fprintln(w, "  no policy version is in force at that time")
			} else {
				fmt.Fprintf(w, "\n  consent under policy %s (purpose × recipient; 'none' means the subject never chose):\n", cs.Policy)
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "    PURPOSE\tRECIPIENT\tSTATE\tDECIDED BY")
				for _, c := range cs.Consent {
					by := "-"
					if e := c.DecidedBy; e != nil {
						by = fmt.Sprintf("%s %s (purpose %s, recipient %s)", e.At, e.Source, e.Purpose, e.Recipient)
					}
					fmt.Fprintf(tw, "    %s\t%s (%s)\t%s\t%s\n", c.Purpose, c.Recipient, c.RecipientClass, c.State, by)
				}
				tw.Flush()
				fmt.Fprintf(w, "\n  what is shared (a record of each kind created now, the subject its author; as decide gives it):\n")
				tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "    PURPOSE\tRECIPIENT\tCATEGORY\tDECISION\tREASON")
				for _, e := range cs.Effective {
					fmt.Fprintf(tw, "    %s\t%s (%s)\t%s\t%s\t%s\n", e.Purpose, e.Recipient, e.RecipientClass, e.Category, e.Decision, e.Reason)
				}
				tw.Flush()
			}
		}
		fmt.Fprintln(w, "\n  subject history:")
		if len(subjHist) == 0 {
			fmt.Fprintln(w, "    (no subject events)")
		}
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
			under := ""
			if e.Policy != "" {
				under = ", under policy " + e.Policy
			}
			fmt.Fprintf(w, "    %s  %-7s purpose %s, recipient %s, source %s%s\n", e.At, e.State, e.Purpose, e.Recipient, e.Source, under)
		}
		return nil
	}
}

func cmdConsentExport(a *app, fs *pflag.FlagSet) runFunc {
	var subject, format string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	fs.StringVar(&format, "format", "iso27560", "`FORMAT`: iso27560 (ISO/IEC TS 27560 records, JSON) or iso27560-jsonld (the same as JSON-LD with W3C DPV terms)")
	return func(ctx context.Context, args []string) error {
		if format != "iso27560" && format != "iso27560-jsonld" {
			return usagef("--format %q: expected iso27560 or iso27560-jsonld", format)
		}
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		recs, err := g.ConsentRecords(ctx, access.Local, subject)
		if err != nil {
			return err
		}
		if format == "iso27560-jsonld" {
			return a.printJSON(recs.JSONLD())
		}
		return a.printJSON(recs)
	}
}
