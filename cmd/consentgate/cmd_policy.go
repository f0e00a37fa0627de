package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

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
	msg, err := publish(ctx, st, t, *force, timestamp.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, msg)
	return nil
}

// publish stores a compiled version after the publication checks: a label
// already published with other content is always refused; an
// effective_from at or before a published version's is refused unless
// forced. (The notice check of SPEC §2.5 needs the policy diff and is added
// with it.)
func publish(ctx context.Context, st store.Store, t *policy.Table, force bool, now timestamp.Time) (string, error) {
	d := t.Doc
	existing, err := st.Policies(ctx)
	if err != nil {
		return "", err
	}
	forced := false
	for _, p := range existing {
		if p.Version == d.Version {
			if p.Digest == d.Digest() {
				return fmt.Sprintf("policy %s is already published (same content); nothing to do", d.Version), nil
			}
			return "", fmt.Errorf("policy version %q is already published with different content: published versions are immutable, give this one a new version label", d.Version)
		}
		if d.EffectiveFrom <= p.EffectiveFrom {
			if !force {
				return "", fmt.Errorf("policy %s takes effect at %s, not after published version %s (%s): a new version must take effect after every published one; --force publishes it anyway",
					d.Version, d.EffectiveFrom, p.Version, p.EffectiveFrom)
			}
			forced = true
		}
	}
	_, err = st.PublishPolicy(ctx, store.Policy{Version: d.Version, EffectiveFrom: d.EffectiveFrom, Source: d.Source,
		Digest: d.Digest(), PublishedAt: now, Forced: forced})
	if err != nil {
		return "", err
	}
	note := ""
	if forced {
		note = " (forced)"
	}
	return fmt.Sprintf("published policy %s, effective from %s%s", d.Version, d.EffectiveFrom, note), nil
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
