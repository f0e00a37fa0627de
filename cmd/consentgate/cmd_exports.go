package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

// cmdExports lists the exports with where each stands (logged, complete,
// abandoned): gate.Exports, as GET /v1/exports answers.
func cmdExports(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the exports as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		es, err := g.Exports(ctx, access.Local)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"exports": es}) // the shape GET /v1/exports answers
		}
		if len(es) == 0 {
			fmt.Fprintln(a.stdout, "no export yet: `consentgate export` builds one")
			return nil
		}
		for _, e := range es {
			fmt.Fprintf(a.stdout, "%s  %-9s  %s  purpose %s, recipient %s, as of %s\n", e.ID, e.Status, e.CreatedAt, e.Purpose, e.Recipient, e.AsOf)
		}
		return nil
	}
}

// cmdExportsShow prints an export with its stored manifest: gate.ExportManifest,
// as GET /v1/exports/{id} answers.
func cmdExportsShow(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		info, manifest, err := g.ExportManifest(ctx, access.Local, args[0])
		if err != nil {
			return err
		}
		return a.printJSON(map[string]any{"export": info, "manifest": json.RawMessage(manifest)})
	}
}
