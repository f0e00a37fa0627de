package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/snapshot"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdSnapshot(a *app, fs *pflag.FlagSet) runFunc {
	var asOf timestamp.Time
	var asOfSet bool
	fs.Var(timeFlag{&asOf, &asOfSet}, "as-of", "the view as of `TIME` (default now)")
	out := fs.String("out", "", "snapshot `FILE` to write (a path, or an object-store URL: s3://bucket/key, gs://, azblob://)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	return func(ctx context.Context, args []string) error {
		if !asOfSet {
			asOf = timestamp.Now()
		}
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		sum, err := g.Snapshot(ctx, asOf, *out)
		if err != nil {
			return err
		}
		return a.printSnapshot(sum, *out, "wrote", *asJSON)
	}
}

func cmdSnapshotVerify(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	return func(ctx context.Context, args []string) error {
		pos := args
		if len(pos) != 1 {
			return usagef("expected one snapshot FILE")
		}
		sum, err := gate.VerifySnapshot(pos[0])
		if err != nil {
			return err
		}
		return a.printSnapshot(sum, pos[0], "verified", *asJSON)
	}
}

func (a *app) printSnapshot(sum *snapshot.Summary, path, verb string, asJSON bool) error {
	if asJSON {
		return a.printJSON(sum)
	}
	fmt.Fprintf(a.stdout, "%s %s: as of %s, %d policy versions, %d subject events (+%d later, kept as ids), %d consent events, %d bytes\nsha256 %s\n",
		verb, path, sum.AsOf, len(sum.Policies), sum.SubjectEvents, sum.LaterSubjects, sum.ConsentEvents, sum.Bytes, sum.SHA256)
	return nil
}
