package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/gate"
)

// cmdExportFinalize assembles a sharded export (the Beam pipeline's
// folder) into the output, rejects and manifest `export` writes, logging
// the manifest and recording the export, atomically.
func cmdExportFinalize(a *app, fs *pflag.FlagSet) runFunc {
	var req gate.FinalizeRequest
	fs.StringVar(&req.Dir, "dir", "", "the pipeline's shard `DIR` (a folder, or an object-store prefix: s3://bucket/shards/)")
	fs.StringVar(&req.Out, "out", "", "the output `FILE` (a path or an object-store URL, committed after the manifest is logged)")
	fs.StringVar(&req.Rejects, "rejects", "", "the rejects `FILE` (when the pipeline wrote rejects)")
	fs.StringVar(&req.Manifest, "manifest", "", "the manifest `FILE` (default OUT.manifest.json)")
	return func(ctx context.Context, args []string) error {
		if req.Dir == "" || req.Out == "" {
			return usagef("--dir and --out are required")
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		m, err := g.Finalize(ctx, req)
		if err != nil {
			return err
		}
		printExportSummary(a, m, &export.Options{Out: req.Out, Manifest: req.Manifest})
		return nil
	}
}
