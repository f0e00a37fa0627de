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
	role := fs.String("role", "", "`ROLE`: admin, operator, auditor, subject or recipient")
	subject := fs.String("subject", "", "the `SUBJECT` a subject token reaches")
	recipient := fs.String("recipient", "", "the `RECIPIENT` id whose notices a recipient token reaches")
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
		if r.ForRecipient() != (*recipient != "") {
			if r.ForRecipient() {
				return usagef("a recipient token needs --recipient")
			}
			return usagef("--recipient is only for recipient tokens")
		}
		g, err := a.open(ctx, gate.Create)
		if err != nil {
			return err
		}
		defer a.done(g)
		secret, err := g.CreateToken(ctx, r, *subject+*recipient)
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
		fmt.Fprintln(tw, "SHA-256\tROLE\tREACHES\tCREATED\tREVOKED")
		for _, t := range ts {
			rev := "-"
			if t.RevokedAt != 0 {
				rev = t.RevokedAt.String()
			}
			reaches := "-"
			switch {
			case t.Subject != "":
				reaches = "subject " + t.Subject
			case t.Recipient != "":
				reaches = "notices to " + t.Recipient
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Hash, t.Role, reaches, t.CreatedAt, rev)
		}
		return tw.Flush()
	}
}
