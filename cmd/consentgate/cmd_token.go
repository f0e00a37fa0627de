package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

func cmdTokenCreate(a *app, fs *pflag.FlagSet) runFunc {
	role := fs.String("role", "", "`ROLE`: admin, operator, auditor or subject")
	subject := fs.String("subject", "", "the `SUBJECT` a subject token reaches")
	return func(ctx context.Context, args []string) error {
		r, err := access.ParseRole(*role)
		if err != nil {
			return usagef("--role: %v", err)
		}
		if r.ForSubject() != (*subject != "") {
			if r.ForSubject() {
				return usagef("a subject token needs --subject")
			}
			return usagef("--subject is only for subject tokens")
		}
		g, err := a.open(ctx, gate.Create)
		if err != nil {
			return err
		}
		defer a.done(g)
		secret, err := g.CreateToken(ctx, r, *subject)
		if err != nil {
			return err
		}
		// The token alone on stdout, for scripts; it is not shown again.
		fmt.Fprintln(a.stdout, secret)
		return nil
	}
}

func cmdTokenRevoke(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		token := args[0]
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		hash, err := g.RevokeToken(ctx, token)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "revoked token %s…\n", hash[:min(12, len(hash))])
		return nil
	}
}

func cmdTokenList(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		ts, err := g.Tokens(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(ts)
		}
		tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SHA-256\tROLE\tSUBJECT\tCREATED\tREVOKED")
		for _, t := range ts {
			rev := "-"
			if t.RevokedAt != 0 {
				rev = t.RevokedAt.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Hash, t.Role, t.Subject, t.CreatedAt, rev)
		}
		return tw.Flush()
	}
}
