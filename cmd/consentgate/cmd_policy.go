package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// readPolicy parses and compiles a policy file, printing its warnings.
func (a *app) readPolicy(file string) (*policy.Table, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	doc, warnings, err := policy.Parse(file, src)
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
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	return policy.Compile(doc)
}

// oneArg parses a command's flags and its single positional argument.
func (a *app) oneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("expected one %s, got %d arguments", what, len(pos))
	}
	return pos[0], nil
}

func cmdPolicyCheck(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("policy check")
	file, err := a.oneArg(fs, args, "policy file")
	if err != nil {
		return err
	}
	t, err := a.readPolicy(file)
	if err != nil {
		return err
	}
	d := t.Doc
	fmt.Fprintf(a.stdout, "%s: policy %s is valid: effective from %s, %d purposes, %d categories, %d recipients, %d rules (%d table cells)\n",
		file, d.Version, d.EffectiveFrom, len(d.Purposes), len(d.Categories), len(d.Recipients), len(d.Rules), t.Cells())
	return nil
}

func cmdPolicyPublish(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("policy publish")
	force := fs.Bool("force", false, "publish even when the checks of SPEC §2.5 refuse")
	file, err := a.oneArg(fs, args, "policy file")
	if err != nil {
		return err
	}
	t, err := a.readPolicy(file)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	msg, err := store.Publish(ctx, st, t, *force, timestamp.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, msg)
	return nil
}

func cmdPolicyList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("policy list")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("policy list takes no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ps, err := st.Policies(ctx)
	if err != nil {
		return err
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
		fmt.Fprintf(a.stdout, "%-14s %-22s %-22s %-8s %s\n", p.Version, p.EffectiveFrom, p.PublishedAt.Time().Format("2006-01-02T15:04:05Z"), forced, p.Digest)
	}
	return nil
}

func cmdPolicyShow(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("policy show")
	version, err := a.oneArg(fs, args, "version")
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ps, err := st.Policies(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Version == version {
			a.stdout.Write(p.Source)
			return nil
		}
	}
	return fmt.Errorf("policy version %q: %w (see consentgate policy list)", version, store.ErrNotFound)
}

// loadPolicyArg reads a diff argument: a file when one exists at that
// path, else a published version.
// The second result is the publication time of a published version, and
// the version's effective_from for a file.
func (a *app) loadPolicyArg(ctx context.Context, arg string, st func() (store.Store, error)) (*policy.Table, timestamp.Time, error) {
	if _, err := os.Stat(arg); err == nil {
		t, err := a.readPolicy(arg)
		if err != nil {
			return nil, 0, err
		}
		return t, t.Doc.EffectiveFrom, nil
	}
	s, err := st()
	if err != nil {
		return nil, 0, err
	}
	ps, err := s.Policies(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, p := range ps {
		if p.Version == arg {
			doc, _, err := policy.Parse("policy "+p.Version, p.Source)
			if err != nil {
				return nil, 0, err
			}
			t, err := policy.Compile(doc)
			return t, p.PublishedAt, err
		}
	}
	return nil, 0, fmt.Errorf("%q is neither a policy file nor a published version (see consentgate policy list)", arg)
}

func cmdPolicyDiff(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("policy diff")
	asJSON := fs.Bool("json", false, "print the diff as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("expected OLD and NEW, each a policy file or a published version")
	}
	var st store.Store
	open := func() (store.Store, error) {
		if st == nil {
			var err error
			if st, err = a.openStore(ctx); err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	oldT, _, err := a.loadPolicyArg(ctx, pos[0], open)
	if err != nil {
		return err
	}
	newT, published, err := a.loadPolicyArg(ctx, pos[1], open)
	if err != nil {
		return err
	}
	d, err := policy.Compare(oldT, newT, published)
	if err != nil {
		return err
	}
	// With a store (named, or the default one when it exists), count the
	// subjects the change newly allows.
	var affected *int
	if st != nil || a.storeExists() {
		s, err := open()
		if err != nil {
			return err
		}
		n, err := countNewlyAllowed(ctx, s, d, oldT, newT, timestamp.Now())
		if err != nil {
			return err
		}
		affected = &n
	}
	if *asJSON {
		if err := a.printJSON(struct {
			Old, New string
			*policy.Diff
			Subjects *int `json:"subjects_newly_allowed,omitempty"`
		}{oldT.Doc.Version, newT.Doc.Version, d, affected}); err != nil {
			return err
		}
	} else {
		printDiff(a.stdout, oldT.Doc.Version, newT.Doc.Version, d)
		if affected != nil {
			fmt.Fprintf(a.stdout, "  subjects whose current region, attributes and consent fall in a widened combination: %d\n", *affected)
		}
	}
	if d.Notice.Violation {
		return &exitError{3, fmt.Errorf("notice violation: %s widens what %s allowed and takes effect at %s, before %s", newT.Doc.Version, oldT.Doc.Version, d.Notice.EffectiveFrom, d.Notice.Due)}
	}
	return nil
}

// printDiff writes a diff for a person.
func printDiff(w io.Writer, oldV, newV string, d *policy.Diff) {
	fmt.Fprintf(w, "policy %s → %s: %d of %d cells change (%d widening, %d narrowing)\n", oldV, newV, d.Widening+d.Narrowing, d.Cells, d.Widening, d.Narrowing)
	for _, c := range d.Changes {
		fmt.Fprintf(w, "  %s\n", c)
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

// countNewlyAllowed counts the subjects whose state now (region,
// attributes, consent) falls in at least one widened combination of a diff.
func countNewlyAllowed(ctx context.Context, st store.Store, d *policy.Diff, oldT, newT *policy.Table, now timestamp.Time) (int, error) {
	vs, _, err := loadVersions(ctx, st)
	if err != nil {
		return 0, err
	}
	var attrs []string
	for _, t := range []*policy.Table{oldT, newT} {
		for _, a := range t.Doc.Attributes {
			if !slices.Contains(attrs, a.Name) {
				attrs = append(attrs, a.Name)
			}
		}
	}
	view, err := store.LoadView(ctx, st, now, attrs, nil)
	if err != nil {
		return 0, err
	}
	type use struct {
		p string
		r policy.Recipient
	}
	states := map[use][]policy.State{}
	n := 0
	for i := 0; i < view.Len(); i++ {
		s := view.StateAt(i, now)
		code := view.Regions[view.StateRegion(s)]
		if d.SubjectInWidening(code, view.Attrs(s), func(p string, r policy.Recipient) policy.State {
			u := use{p, r}
			if states[u] == nil {
				states[u] = decision.ConsentAll(vs, view, decision.Target{Purpose: p, Recipient: r.ID, Class: r.Class})
			}
			return states[u][i]
		}) {
			n++
		}
	}
	return n, nil
}
