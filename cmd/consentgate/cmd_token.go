package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdTokenCreate(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("token create")
	role := fs.String("role", "", "`ROLE`: admin, operator, auditor or subject")
	subject := fs.String("subject", "", "the `SUBJECT` a subject token reaches")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	r, err := access.ParseRole(*role)
	if err != nil {
		return usagef("--role: %v", err)
	}
	secret, t, err := access.NewToken(r, *subject, timestamp.Now())
	if err != nil {
		return usagef("%v", err)
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.AddToken(ctx, t); err != nil {
		return err
	}
	// The token alone on stdout, for scripts; it is not shown again.
	fmt.Fprintln(a.stdout, secret)
	return nil
}

func cmdTokenRevoke(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("token revoke")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("expected one TOKEN (the token, or its SHA-256 as token list shows it)")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	hash := pos[0]
	if strings.HasPrefix(hash, "cgt_") {
		hash = access.Hash(hash)
	}
	if err := st.RevokeToken(ctx, hash, timestamp.Now()); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no such token")
	} else if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "revoked token %s…\n", hash[:12])
	return nil
}

func cmdTokenList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("token list")
	asJSON := fs.Bool("json", false, "print as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := st.Tokens(ctx)
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
