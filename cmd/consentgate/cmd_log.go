package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/translog"
)

func cmdLogCheckpoint(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		note, err := g.Checkpoint(ctx)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(note)
		return err
	}
}

// cmdLogKey prints the verifier key alone, one line in the signed-note
// format (as log checkpoint prints the note alone: the artefact, for a
// file or a pipe; --json would only wrap it).
func cmdLogKey(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		key, err := g.VerifierKey()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(a.stdout, key)
		return err
	}
}

func cmdLogVerify(a *app, fs *pflag.FlagSet) runFunc {
	external := fs.String("checkpoint", "", "also check a signed checkpoint `FILE` kept outside the store")
	asJSON := fs.Bool("json", false, "print the report (or the evidence) as JSON")
	return func(ctx context.Context, args []string) error {
		var ext []byte
		if *external != "" {
			var err error
			if ext, err = os.ReadFile(*external); err != nil {
				return err
			}
		}
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		rep, err := g.VerifyLog(ctx, ext)
		var ve *translog.VerifyError
		if errors.As(err, &ve) {
			if *asJSON {
				out := map[string]any{"ok": false, "error": ve.Error(), "index": ve.Index, "checkpoint": ve.Checkpoint,
					"ref": ve.Ref, "row": ve.Row, "problem": ve.Problem, "stored": ve.Stored, "derived": ve.Derived}
				if ve.Kind != 0 {
					out["kind"] = ve.Kind.String()
				}
				a.printJSON(out)
			}
			return err
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"ok": true, "report": rep})
		}
		root, _ := hex.DecodeString(rep.Root)
		fmt.Fprintf(a.stdout, "log verified: %d %s, root %s (%s in the checkpoint)\n", rep.Size, plural64(rep.Size, "leaf", "leaves"), rep.Root, base64.StdEncoding.EncodeToString(root))
		line := func(n int, one, many string) {
			if n > 0 {
				fmt.Fprintf(a.stdout, "  %8d  %s\n", n, plural(n, one, many))
			}
		}
		for _, k := range []string{"policy", "subject", "consent", "manifest", "export", "impact", "erasure", "checkpoint", "notice", "answer", "lineage"} {
			line(rep.Leaves[k], k+" leaf re-derived from its row", k+" leaves re-derived from their rows")
		}
		line(rep.Exports, "export agrees with its logged state (status, subject set, kept records) and manifest",
			"exports agree with their logged state (status, subject set, kept records) and manifests")
		line(rep.PackedRows, "packed event (what views are read from) matches its row", "packed events (what views are read from) match their rows")
		line(rep.SubjectSets, "export's stored subject set matches its subjects_root", "exports' stored subject sets match their subjects_root")
		line(rep.SubjectSetsSkipped, "export's subject set not re-derivable (a subject erased, or without subject events)",
			"exports' subject sets not re-derivable (a subject erased, or without subject events)")
		line(rep.Erased, "entry of an erased subject (its key gone: in the tree, its rows as they were when erased, not re-derivable)",
			"entries of erased subjects (their keys gone: in the tree, their rows as they were when erased, not re-derivable)")
		line(rep.ErasuresPending, "erasure logged whose key is still there: run log erase for it again to finish",
			"erasures logged whose keys are still there: run log erase for each again to finish")
		fmt.Fprintf(a.stdout, "  %8d  kept %s checked (signature, root, consistency)", rep.Checkpoints, plural(rep.Checkpoints, "checkpoint", "checkpoints"))
		if unrecorded := rep.Checkpoints - rep.RecordedCheckpoints; unrecorded > 0 {
			fmt.Fprintf(a.stdout, "; %d recorded in the log, %d issued since its last append", rep.RecordedCheckpoints, unrecorded)
		}
		fmt.Fprintln(a.stdout)
		if rep.Unsigned > 0 {
			fmt.Fprintf(a.stdout, "  %8d  %s after the newest checkpoint not signed yet (the next writing command signs them)\n", rep.Unsigned, plural64(rep.Unsigned, "leaf", "leaves"))
		}
		if rep.External {
			fmt.Fprintf(a.stdout, "  the checkpoint in %s is consistent with the log\n", *external)
		}
		return nil
	}
}

func cmdLogProveInclusion(a *app, fs *pflag.FlagSet) runFunc {
	index := fs.Int64("index", -1, "the leaf `N`")
	size := fs.Int64("size", 0, "the tree size `M` (default: the latest checkpoint's)")
	asJSON := fs.Bool("json", false, "print the proof as JSON")
	return func(ctx context.Context, args []string) error {
		if *index < 0 {
			return usagef("--index %d: expected a leaf number, 0 or more", *index)
		}
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		e, err := g.ProveInclusion(ctx, *index, *size)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(e)
		}
		fmt.Fprintf(a.stdout, "index %d\nsize %d\nleaf %s\nleaf_hash %s\nroot %s\n", e.Index, e.Size, b64(e.Leaf), b64(e.LeafHash), b64(e.Root))
		printProof(a, e.Proof)
		if e.Checkpoint != "" {
			fmt.Fprintf(a.stdout, "\n%s", e.Checkpoint)
		}
		return nil
	}
}

func printProof(a *app, proof [][]byte) {
	for _, h := range proof {
		fmt.Fprintf(a.stdout, "proof %s\n", b64(h))
	}
}

func cmdLogProveConsistency(a *app, fs *pflag.FlagSet) runFunc {
	from := fs.Int64("from", -1, "the older tree size `A`")
	to := fs.Int64("to", 0, "the newer tree size `B` (default: the latest checkpoint's)")
	asJSON := fs.Bool("json", false, "print the proof as JSON")
	return func(ctx context.Context, args []string) error {
		if *from < 0 {
			return usagef("--from %d: expected a tree size, 0 or more", *from)
		}
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		e, err := g.ProveConsistency(ctx, *from, *to)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(e)
		}
		fmt.Fprintf(a.stdout, "from %d\nto %d\nfrom_root %s\nto_root %s\n", e.From, e.To, b64(e.FromRoot), b64(e.ToRoot))
		printProof(a, e.Proof)
		return nil
	}
}

func cmdLogOpen(a *app, fs *pflag.FlagSet) runFunc {
	var subject string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	asJSON := fs.Bool("json", false, "print as JSON")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		o, err := g.OpenLog(ctx, subject)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(o)
		}
		fmt.Fprintf(a.stdout, "%d log entries of %s (pseudonym = SHA-256(salt ‖ subject id)):\n", len(o.Entries), subject)
		for _, e := range o.Entries {
			fmt.Fprintf(a.stdout, "  %8d  %-8s %-10s salt %s\n", e.Index, e.Kind, e.Ref, e.Salt)
		}
		if len(o.Exports) > 0 {
			fmt.Fprintf(a.stdout, "%s included %s's data (pseudonym in subjects_root):\n", countOf(len(o.Exports), "export", "exports"), subject)
			for _, e := range o.Exports {
				idx := "-"
				if e.LogIndex != nil {
					idx = strconv.FormatUint(*e.LogIndex, 10)
				}
				fmt.Fprintf(a.stdout, "  %s  log index %s  salt %s  pseudonym %s\n", e.ExportID, idx, e.Salt, e.Pseudonym)
				if e.SubjectsIndex != nil {
					fmt.Fprintf(a.stdout, "    leaf %d of %d under subjects_root %s; proof (--json) has %d hashes\n", *e.SubjectsIndex, e.SubjectsSize, e.SubjectsRoot, len(e.Proof))
				}
			}
		}
		return nil
	}
}

func cmdLogErase(a *app, fs *pflag.FlagSet) runFunc {
	var subject string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		if err := g.Erase(ctx, subject); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "erased the log key of %s: the log still verifies; its entries can no longer be linked to %s\n", subject, subject)
		return nil
	}
}

func cmdLogTiles(a *app, fs *pflag.FlagSet) runFunc {
	out := fs.String("out", "", "the `DIR` (or object-store prefix, s3://bucket/log/) to write the checkpoint, tiles and entry bundles to")
	return func(ctx context.Context, args []string) error {
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		t, err := g.WriteTiles(ctx, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "wrote %d tiles and entry bundles (those already there are kept: a tile never changes) for %d leaves, with the partial tiles of %s, and the checkpoint to %s\n",
			t.Written, t.Size, countOf(t.Checkpoints, "kept checkpoint", "kept checkpoints"), *out)
		return nil
	}
}

func cmdManifestVerify(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	keyFile := fs.String("key", "", "the log's verifier key `FILE` (signed-note format; default the store's)")
	base := fs.String("base", "", "the `DIR` the export ran in, against which the relative paths the manifest records are resolved (default: the current directory; a file beside the manifest is taken first)")
	outputOnly := fs.Bool("only-output", false, "check the signature, the output and the log only (what a dataset's recipient holds), not the inputs and the rejects file")
	return func(ctx context.Context, args []string) error {
		path := args[0]
		if *base != "" {
			if st, err := os.Stat(*base); err != nil || !st.IsDir() {
				return usagef("--base %s: expected the directory the export ran in", *base)
			}
		}
		var vkey string
		if *keyFile != "" {
			b, err := os.ReadFile(*keyFile)
			if err != nil {
				return fmt.Errorf("--key %s: %w", *keyFile, errors.Unwrap(err))
			}
			vkey = string(b)
			if err := gate.CheckVerifierKey(vkey); err != nil {
				return fmt.Errorf("--key %s: %s", *keyFile, message(err))
			}
		}
		// The store, when there is one, for the log inclusion (and the key;
		// a key given is the one trusted, for the checkpoint too, and the
		// store's secrets need not be at hand).
		g, err := a.openWith(ctx, gate.Config{Mode: gate.ReadOnly, Verifier: vkey, Warn: a.warn})
		if err != nil {
			if gate.CodeOf(err) != gate.NoStore || a.storeGiven || vkey == "" {
				return err
			}
			g = nil
		} else {
			defer a.done(g)
		}
		rep, err := gate.VerifyManifest(ctx, g, path, vkey, gate.ManifestOptions{Base: *base, OutputOnly: *outputOnly})
		if e := gate.As(err); e != nil && e.Hint == gate.KeysDir {
			return fmt.Errorf("%s; or give the log's public key with --key FILE", message(err))
		} else if err != nil {
			return err
		}
		if *asJSON {
			if err := a.printJSON(rep); err != nil {
				return err
			}
		} else {
			for _, c := range rep.Checks {
				mark := map[string]string{gate.CheckOK: "ok  ", gate.CheckFailed: "FAIL", gate.CheckSkipped: "SKIP"}[c.Result]
				fmt.Fprintf(a.stdout, "%s %-14s %s\n", mark, c.What, c.Detail)
			}
			if rep.OK && rep.Skipped > 0 {
				fmt.Fprintf(a.stdout, "%s: nothing failed; %d %s could not be made here\n", path, rep.Skipped, plural(rep.Skipped, "check", "checks"))
			}
		}
		if !rep.OK {
			for _, c := range rep.Checks {
				if c.Result == gate.CheckFailed && strings.HasPrefix(c.Detail, "not found") {
					return fmt.Errorf("%s does not verify: a file it names is not at hand; give --base DIR, the directory the export ran in, or --only-output to check what a recipient holds", path)
				}
			}
			return fmt.Errorf("%s does not verify", path)
		}
		return nil
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
