package main

import (
	"context"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// cmdExportFinalize assembles a sharded export (the Beam pipeline's
// folder) into the output, rejects and manifest `export` writes, logging
// the manifest and recording the export, atomically.
func cmdExportFinalize(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("export finalize")
	dir := fs.String("dir", "", "the pipeline's shard `DIR`")
	out := fs.String("out", "", "the output `FILE`")
	rejects := fs.String("rejects", "", "the rejects `FILE` (when the pipeline wrote rejects)")
	manifest := fs.String("manifest", "", "the manifest `FILE` (default OUT.manifest.json)")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if *dir == "" || *out == "" || len(pos) > 0 {
		return usagef("--dir and --out are required and there are no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	signer, err := a.signer()
	if err != nil {
		return err
	}
	logAt, err := logState(ctx, st)
	if err != nil {
		return err
	}
	m, err := export.Finalize(ctx, export.FinalizeOptions{Dir: *dir, Out: *out, Rejects: *rejects, Manifest: *manifest,
		Now: timestamp.Now(), Log: logAt, BeforeRename: a.logExport(ctx, st, signer)})
	if err != nil {
		return err
	}
	if err := st.SetExportStatus(ctx, m.ExportID, store.ExportComplete); err != nil {
		return err
	}
	o := &export.Options{Out: *out, Manifest: *manifest}
	printExportSummary(a, m, o)
	return nil
}
