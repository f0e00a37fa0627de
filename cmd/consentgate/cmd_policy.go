package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/policy"
)

// readPolicy reads a policy file, printing its warnings and, when it is
// refused for several problems, each problem.
func (a *app) readPolicy(file string) (*gate.PolicyFile, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pf, err := gate.ReadPolicy(file, src)
	if err != nil {
		var inv *policy.InvalidError
		if errors.As(err, &inv) && len(inv.Problems) > 1 {
			for _, p := range inv.Problems {
				fmt.Fprintln(a.stderr, p)
			}
			return nil, fmt.Errorf("%s: %d problems (listed above)", file, len(inv.Problems))
		}
		return nil, err
	}
	for _, w := range pf.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	return pf, nil
}

func cmdPolicyCheck(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		file := args[0]
		pf, err := a.readPolicy(file)
		if err != nil {
			return err
		}
		t := pf.Table
		d := t.Doc
		fmt.Fprintf(a.stdout, "%s: policy %s is valid: effective from %s, %s, %s, %s, %s (%s)\n",
			file, d.Version, d.EffectiveFrom, countOf(len(d.Purposes), "purpose", "purposes"), countOf(len(d.Categories), "category", "categories"),
			countOf(len(d.Recipients), "recipient", "recipients"), countOf(len(d.Rules), "rule", "rules"), countOf(t.Cells(), "table cell", "table cells"))
		return nil
	}
}

func cmdPolicyPublish(a *app, fs *pflag.FlagSet) runFunc {
	force := fs.Bool("force", false, "publish even when the checks of SPEC §2.5 refuse")
	return func(ctx context.Context, args []string) error {
		file := args[0]
		pf, err := a.readPolicy(file)
		if err != nil {
			return err
		}
		g, err := a.open(ctx, gate.Create)
		if err != nil {
			return err
		}
		defer a.done(g)
		p, err := g.Publish(ctx, access.Local, pf, *force)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, publishedLine(p))
		return nil
	}
}

// publishedLine says what a publication did.
func publishedLine(p *gate.Published) string {
	if p.Already {
		return fmt.Sprintf("policy %s is already published (same content); nothing to do", p.Version)
	}
	note := ""
	if p.Forced {
		note = " (forced)"
	}
	return fmt.Sprintf("published policy %s, effective from %s%s", p.Version, p.EffectiveFrom, note)
}

func cmdPolicyList(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the versions as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		ps, err := g.Policies(ctx, access.Local)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(ps)
		}
		if len(ps) == 0 {
			fmt.Fprintln(a.stdout, "no policy is published yet: consentgate policy publish FILE")
			return nil
		}
		fmt.Fprintf(a.stdout, "%-14s %-22s %-22s %-8s %s\n", "VERSION", "EFFECTIVE FROM", "PUBLISHED AT", "FORCED", "SHA-256")
		for _, p := range ps {
			forced := ""
			if p.Forced {
				forced = "forced"
			}
			fmt.Fprintf(a.stdout, "%-14s %-22s %-22s %-8s %s\n", p.Version, p.EffectiveFrom, p.PublishedAt.Time().Format("2006-01-02T15:04:05Z"), forced, p.SHA256)
		}
		return nil
	}
}

func cmdPolicyShow(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		version := args[0]
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		_, src, err := g.Policy(ctx, access.Local, version)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(src)
		return err
	}
}

// policyArg reads a diff argument: a file when one exists at that path,
// else a published version's label.
func (a *app) policyArg(arg string) (gate.PolicyArg, error) {
	if fi, err := os.Stat(arg); err == nil && !fi.IsDir() {
		pf, err := a.readPolicy(arg)
		return gate.PolicyArg{File: pf}, err
	}
	return gate.PolicyArg{Label: arg}, nil
}

func cmdPolicyDiff(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the diff as JSON")
	return func(ctx context.Context, args []string) error {
		pos := args
		if len(pos) != 2 {
			return usagef("expected OLD and NEW, each a policy file or a published version")
		}
		oldArg, err := a.policyArg(pos[0])
		if err != nil {
			return err
		}
		newArg, err := a.policyArg(pos[1])
		if err != nil {
			return err
		}
		// With a store (named, the default one when it exists, or needed for
		// a published version), the diff also counts the subjects exposed.
		var g *gate.Gate
		if g, err = a.open(ctx, gate.ReadOnly); err != nil {
			needed := oldArg.Label != "" || newArg.Label != "" || a.storeGiven
			if gate.CodeOf(err) != gate.NoStore || needed {
				return err
			}
			g = nil
		} else {
			defer a.done(g)
		}
		d, err := g.Diff(ctx, access.Local, oldArg, newArg)
		if gate.CodeOf(err) == gate.NotFound {
			return fmt.Errorf("%w, and there is no policy file of that name", err)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			if err := a.printJSON(d); err != nil {
				return err
			}
		} else {
			printDiff(a.stdout, d)
		}
		if n := d.Notice; n.Violation {
			return &exitError{3, fmt.Errorf("notice violation: %s widens what %s allowed and takes effect at %s, before %s", d.New, d.Old, n.EffectiveFrom, n.Due)}
		}
		return nil
	}
}

// printDiff writes a diff for an engineer: one line per change, the region
// groups those lines name, the notice check and, with a store, the subjects
// the widening exposes.
func printDiff(w io.Writer, d *gate.Diff) {
	printDiffLines(w, d)
	if d.Exposed != nil {
		fmt.Fprintf(w, "  subjects whose current region, attributes and consent fall in a widened combination: %d\n", *d.Exposed)
	}
}

// printDiffLines is printDiff without the count of exposed subjects.
func printDiffLines(w io.Writer, d *gate.Diff) {
	lines := fmt.Sprintf("in %d lines", len(d.Changes))
	if len(d.Changes) == 1 {
		lines = "in 1 line"
	}
	fmt.Fprintf(w, "policy %s → %s: %d of %d cells change, %d widening (deny → allow) and %d narrowing (allow → deny)", d.Old, d.New, d.Widening+d.Narrowing, d.Cells, d.Widening, d.Narrowing)
	if len(d.Changes) > 0 {
		fmt.Fprintf(w, ", %s:", lines)
	}
	fmt.Fprintln(w)
	for _, c := range d.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	for _, g := range d.RegionGroups {
		if !strings.HasPrefix(g.Name, "@") {
			fmt.Fprintf(w, "  where %s\n", g)
		}
	}
	if g := d.GPC; g != nil {
		fmt.Fprintf(w, "  and what a Global Privacy Control signal refuses changes: %s (no decision shows it: it changes the events a signal records)\n", g)
	}
	n := d.Notice
	switch {
	case !n.Required:
		fmt.Fprintln(w, "  notice: nothing widens, no notice is owed")
	case n.Violation:
		fmt.Fprintf(w, "  NOTICE VIOLATION: widening changes take effect at %s; announced %s with min_notice %s, they may not before %s\n", n.EffectiveFrom, n.AnnouncedAt, n.MinNotice, n.Due)
	default:
		fmt.Fprintf(w, "  notice: announced %s, min_notice %s, due %s — effective %s is in time\n", n.AnnouncedAt, n.MinNotice, n.Due, n.EffectiveFrom)
	}
}
