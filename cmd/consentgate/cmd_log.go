package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

func cmdLogCheckpoint(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log checkpoint")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("no arguments expected")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	note, err := a.checkpoint(ctx, st)
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(note)
	return err
}

// verifierKey reads the log's verifier key (creating the signing key at
// first use).
func (a *app) verifierKey() (string, error) {
	s, err := a.signer()
	if err != nil {
		return "", err
	}
	return s.Verifier, nil
}

func cmdLogVerify(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log verify")
	external := fs.String("checkpoint", "", "also check a signed checkpoint `FILE` kept outside the store")
	asJSON := fs.Bool("json", false, "print the report (or the evidence) as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("no arguments expected")
	}
	var ext []byte
	if *external != "" {
		var err error
		if ext, err = os.ReadFile(*external); err != nil {
			return err
		}
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := a.verifyLog(ctx, st, ext)
	var ve *translog.VerifyError
	if errors.As(err, &ve) {
		if *asJSON {
			a.printJSON(map[string]any{"ok": false, "error": ve.Error(), "index": ve.Index, "checkpoint": ve.Checkpoint,
				"kind": ve.Kind.String(), "ref": ve.Ref, "problem": ve.Problem, "stored": ve.Stored, "derived": ve.Derived})
		}
		return fmt.Errorf("the log does not verify: %w", err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(map[string]any{"ok": true, "report": rep})
	}
	fmt.Fprintf(a.stdout, "log verified: %d leaves, root %s\n", rep.Size, rep.Root)
	for _, k := range []string{"policy", "subject", "consent", "manifest", "impact"} {
		if rep.Leaves[k] > 0 {
			fmt.Fprintf(a.stdout, "  %8d  %s leaves re-derived from their rows\n", rep.Leaves[k], k)
		}
	}
	if rep.SubjectSets > 0 {
		fmt.Fprintf(a.stdout, "  %8d  exports' stored subject sets match their subjects_root\n", rep.SubjectSets)
	}
	if rep.SubjectSetsSkipped > 0 {
		fmt.Fprintf(a.stdout, "  %8d  exports' subject sets not re-derivable (a subject erased, or without subject events)\n", rep.SubjectSetsSkipped)
	}
	if rep.Erased > 0 {
		fmt.Fprintf(a.stdout, "  %8d  entries of erased subjects (their keys are gone: in the tree, not re-derivable)\n", rep.Erased)
	}
	fmt.Fprintf(a.stdout, "  %d kept checkpoints checked (signature, root, consistency)\n", rep.Checkpoints)
	if rep.External {
		fmt.Fprintf(a.stdout, "  the checkpoint in %s is consistent with the log\n", *external)
	}
	return nil
}

// verifyLog runs translog.Verify on the store with every subject key and
// the log's verifier key.
func (a *app) verifyLog(ctx context.Context, st *cmdStore, external []byte) (*translog.Report, error) {
	vkey, err := a.verifierKey()
	if err != nil {
		return nil, err
	}
	keys, err := st.keys.All(ctx)
	if err != nil {
		return nil, err
	}
	return translog.Verify(ctx, st, keys, vkey, external)
}

// proofSize is the tree size a proof is for: the latest checkpoint's
// (issuing one if the log grew), or a smaller size asked for, with its kept
// checkpoint when there is one.
func (a *app) proofSize(ctx context.Context, st *cmdStore, flag string, asked int64) (int64, []byte, error) {
	n, note, err := signedSize(ctx, a, st)
	if err != nil || asked <= 0 {
		return n, note, err
	}
	if asked > n {
		return 0, nil, fmt.Errorf("%s %d: the latest checkpoint is of %d leaves", flag, asked, n)
	}
	note, err = checkpointAt(ctx, st, asked)
	return asked, note, err
}

// signedSize returns the size of the latest checkpoint (issuing one when
// the log has grown), so that proofs are against a signed root.
func signedSize(ctx context.Context, a *app, st *cmdStore) (int64, []byte, error) {
	note, err := a.checkpoint(ctx, st)
	if err != nil {
		return 0, nil, err
	}
	vkey, err := a.verifierKey()
	if err != nil {
		return 0, nil, err
	}
	cp, err := translog.OpenCheckpoint(note, vkey)
	if err != nil {
		return 0, nil, err
	}
	return cp.Size, note, nil
}

// checkpointAt returns the kept checkpoint of a size, if there is one.
func checkpointAt(ctx context.Context, st store.Store, size int64) ([]byte, error) {
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cps {
		if c.Size == size {
			return c.Note, nil
		}
	}
	return nil, nil
}

func cmdLogProveInclusion(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log prove inclusion")
	index := fs.Int64("index", -1, "the leaf `N`")
	size := fs.Int64("size", 0, "the tree size `M` (default: the latest checkpoint's)")
	asJSON := fs.Bool("json", false, "print the proof as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if *index < 0 || len(pos) > 0 {
		return usagef("--index N is required and there are no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	n, note, err := a.proofSize(ctx, st, "--size", *size)
	if err != nil {
		return err
	}
	if *index >= n {
		return fmt.Errorf("--index %d: the tree of size %d has leaves 0..%d", *index, n, n-1)
	}
	e, err := translog.ProveInclusion(ctx, st, *index, n)
	if err != nil {
		return err
	}
	e.Checkpoint = string(note)
	if *asJSON {
		return a.printJSON(e)
	}
	b64 := base64.StdEncoding.EncodeToString
	fmt.Fprintf(a.stdout, "index %d\nsize %d\nleaf %s\nleaf_hash %s\nroot %s\n", e.Index, e.Size, b64(e.Leaf), b64(e.LeafHash), b64(e.Root))
	printProof(a, e.Proof)
	if note != nil {
		fmt.Fprintf(a.stdout, "\n%s", note)
	}
	return nil
}

func printProof(a *app, proof [][]byte) {
	for _, h := range proof {
		fmt.Fprintf(a.stdout, "proof %s\n", base64.StdEncoding.EncodeToString(h))
	}
}

func cmdLogProveConsistency(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log prove consistency")
	from := fs.Int64("from", -1, "the older tree size `A`")
	to := fs.Int64("to", 0, "the newer tree size `B` (default: the latest checkpoint's)")
	asJSON := fs.Bool("json", false, "print the proof as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if *from < 0 || len(pos) > 0 {
		return usagef("--from A is required and there are no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	n, _, err := a.proofSize(ctx, st, "--to", *to)
	if err != nil {
		return err
	}
	if *from > n {
		return fmt.Errorf("--from %d is larger than --to %d", *from, n)
	}
	e, err := translog.ProveConsistency(ctx, st, *from, n)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(e)
	}
	b64 := base64.StdEncoding.EncodeToString
	fmt.Fprintf(a.stdout, "from %d\nto %d\nfrom_root %s\nto_root %s\n", e.From, e.To, b64(e.FromRoot), b64(e.ToRoot))
	printProof(a, e.Proof)
	return nil
}

// openedEntry is one of a subject's log entries, with what they need to
// check it: the salt, hence the pseudonym and the digest.
type openedEntry struct {
	Index     int64  `json:"index"`
	Kind      string `json:"kind"`
	Ref       string `json:"ref"`
	Salt      string `json:"salt"`
	Pseudonym string `json:"pseudonym"`
	LeafHash  string `json:"leaf_hash"`
}

// openedExport is a subject's pseudonym in one export's subjects_root.
type openedExport struct {
	ExportID  string `json:"export_id"`
	LogIndex  *int64 `json:"log_index"`
	Salt      string `json:"salt"`
	Pseudonym string `json:"pseudonym"`
	// The pseudonym's place in the export's subjects_root and the RFC 6962
	// inclusion proof (base64), when every included subject's key is kept.
	SubjectsRoot  string   `json:"subjects_root"`
	SubjectsIndex *int     `json:"subjects_index"`
	SubjectsSize  int      `json:"subjects_size"`
	Proof         [][]byte `json:"proof"` // base64 in JSON
}

func cmdLogOpen(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log open")
	var subject string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	asJSON := fs.Bool("json", false, "print as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if subject == "" || len(pos) > 0 {
		return usagef("--subject is required and there are no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ks, err := st.keys.SubjectKeys(ctx, []string{subject}, false)
	if err != nil {
		return err
	}
	key, ok := ks[subject]
	if !ok {
		return fmt.Errorf("subject %s has no log key: unknown, or erased (its entries can no longer be linked to it)", subject)
	}
	size, err := st.LogSize(ctx)
	if err != nil {
		return err
	}
	entries := []openedEntry{}
	err = st.LogLeaves(ctx, 0, size, func(i int64, d []byte) error {
		l, err := translog.DecodeLeaf(d)
		if err != nil || l.Pseudonym == nil {
			return nil
		}
		salt := translog.Salt(key, l.Kind, l.Ref)
		if p := translog.Pseudonym(salt, []byte(subject)); bytes.Equal(p[:], l.Pseudonym) {
			entries = append(entries, openedEntry{Index: i, Kind: l.Kind.String(), Ref: l.Ref, Salt: hex.EncodeToString(salt),
				Pseudonym: hex.EncodeToString(p[:]), LeafHash: hex.EncodeToString(translog.LeafHash(d))})
		}
		return nil
	})
	if err != nil {
		return err
	}
	exports := []openedExport{}
	if number, known, err := st.SubjectNumber(ctx, subject); err != nil {
		return err
	} else if known {
		es, err := st.Exports(ctx)
		if err != nil {
			return err
		}
		for _, e := range es {
			set, err := export.DecodeSubjectSet(e.Subjects)
			if err != nil || len(e.Subjects) == 0 {
				continue
			}
			if set.Count(number) == 0 {
				continue
			}
			var m struct {
				LogIndex     *int64  `json:"log_index"`
				SubjectsRoot *string `json:"subjects_root"`
			}
			json.Unmarshal(e.Manifest, &m)
			salt := translog.ExportSalt(key, e.ID)
			p := translog.Pseudonym(salt, []byte(subject))
			oe := openedExport{ExportID: e.ID, LogIndex: m.LogIndex, Salt: hex.EncodeToString(salt), Pseudonym: hex.EncodeToString(p[:]), Proof: [][]byte{}}
			if m.SubjectsRoot != nil {
				oe.SubjectsRoot = *m.SubjectsRoot
				if tree, err := translog.ExportSubjectsTree(ctx, st, st.keys, &e); err != nil {
					return err
				} else if tree != nil {
					if i, pr, ok := tree.Prove(p); ok {
						oe.SubjectsIndex, oe.SubjectsSize, oe.Proof = &i, len(tree.Leaves), pr
					}
				}
			}
			exports = append(exports, oe)
		}
	}
	if *asJSON {
		return a.printJSON(map[string]any{"subject": subject, "entries": entries, "exports": exports})
	}
	fmt.Fprintf(a.stdout, "%d log entries of %s (pseudonym = SHA-256(salt ‖ subject id)):\n", len(entries), subject)
	for _, e := range entries {
		fmt.Fprintf(a.stdout, "  %8d  %-8s %-10s salt %s\n", e.Index, e.Kind, e.Ref, e.Salt)
	}
	if len(exports) > 0 {
		fmt.Fprintf(a.stdout, "%d exports included %s's data (pseudonym in subjects_root):\n", len(exports), subject)
		for _, e := range exports {
			idx := "-"
			if e.LogIndex != nil {
				idx = strconv.FormatInt(*e.LogIndex, 10)
			}
			fmt.Fprintf(a.stdout, "  %s  log index %s  salt %s  pseudonym %s\n", e.ExportID, idx, e.Salt, e.Pseudonym)
			if e.SubjectsIndex != nil {
				fmt.Fprintf(a.stdout, "    leaf %d of %d under subjects_root %s; proof (--json) has %d hashes\n", *e.SubjectsIndex, e.SubjectsSize, e.SubjectsRoot, len(e.Proof))
			}
		}
	}
	return nil
}

func cmdLogErase(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log erase")
	var subject string
	fs.StringVar(&subject, "subject", "", "the `SUBJECT` id")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if subject == "" || len(pos) > 0 {
		return usagef("--subject is required and there are no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ok, err := st.keys.Erase(ctx, subject)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("subject %s has no log key (unknown, or already erased)", subject)
	}
	fmt.Fprintf(a.stdout, "erased the log key of %s: the log still verifies; its entries can no longer be linked to %s\n", subject, subject)
	return nil
}

func cmdLogTiles(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log tiles")
	out := fs.String("out", "", "the `DIR` to write the checkpoint, tiles and entry bundles to")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if *out == "" || len(pos) > 0 {
		return usagef("--out DIR is required and there are no arguments")
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	n, note, err := signedSize(ctx, a, st)
	if err != nil {
		return err
	}
	tiles, err := writeTiles(ctx, st, *out, n)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(*out, "checkpoint"), note); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "wrote %d tiles and entry bundles (full ones already there are kept) for %d leaves and the checkpoint to %s\n", tiles, n, *out)
	return nil
}

// writeTiles writes the C2SP tlog-tiles of the tree of size n under dir:
// hash tiles of every level and the entry bundles. Full tiles never change,
// so those already there are kept (a second run writes only what is new);
// partial ones are rewritten. Tiles are not synced one by one: they can be
// written again from the store.
func writeTiles(ctx context.Context, st store.Store, dir string, n int64) (int, error) {
	count := 0
	for _, t := range tlog.NewTiles(8, 0, n) {
		tiles := []tlog.Tile{t}
		if t.L == 0 {
			e := t
			e.L = -1 // the entry bundle beside each level-0 tile
			tiles = append(tiles, e)
		}
		for _, t := range tiles {
			path := filepath.Join(dir, translog.TilePath(t))
			if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && t.W == 1<<8 {
				continue
			}
			body, err := translog.TileData(ctx, st, t, n)
			if err != nil {
				return 0, err
			}
			if err := writeTile(path, body); err != nil {
				return 0, err
			}
			count++
		}
	}
	return count, nil
}

// writeTile writes a tile whole under a temporary name and renames it into
// place, so a reader never sees half of one.
func writeTile(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeFile writes a file whole, atomically.
func writeFile(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := atomicfile.Temp(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := atomicfile.SyncClose(f); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

func cmdManifestVerify(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("manifest verify")
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("expected one manifest FILE")
	}
	path := pos[0]
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m export.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%s: not a manifest: %v", path, err)
	}
	type check struct {
		What   string `json:"what"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	}
	var checks []check
	add := func(what string, ok bool, detail string) { checks = append(checks, check{what, ok, detail}) }

	vkey, err := a.verifierKey()
	if err != nil {
		return err
	}
	if err := translog.VerifyManifest(body, vkey); err != nil {
		add("signature", false, err.Error())
	} else {
		add("signature", true, "Ed25519 over the RFC 8785 canonical JSON, by "+strings.SplitN(vkey, "+", 2)[0])
	}
	files := []struct {
		role string
		d    *export.FileDigest
	}{{"output", &m.Output}}
	if m.Rejects != nil {
		files = append(files, struct {
			role string
			d    *export.FileDigest
		}{"rejects", m.Rejects})
	}
	for i := range m.Inputs {
		files = append(files, struct {
			role string
			d    *export.FileDigest
		}{"input", &m.Inputs[i]})
	}
	for _, f := range files {
		p := f.d.File
		if _, err := os.Stat(p); err != nil && !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), filepath.Base(p)) // beside the manifest
		}
		sum, size, err := fileSHA256(p)
		switch {
		case err != nil && f.role == "input":
			add(f.role+" "+f.d.File, true, "not checked: "+err.Error())
		case err != nil:
			add(f.role+" "+f.d.File, false, err.Error())
		case sum != f.d.SHA256 || size != f.d.Bytes:
			add(f.role+" "+f.d.File, false, fmt.Sprintf("sha256 %s (%d bytes), the manifest says %s (%d bytes)", sum, size, f.d.SHA256, f.d.Bytes))
		default:
			add(f.role+" "+f.d.File, true, "sha256 "+sum)
		}
	}
	if detail, err := manifestInclusion(ctx, a, body, &m); err != nil {
		add("log inclusion", false, err.Error())
	} else {
		add("log inclusion", true, detail)
	}
	ok := true
	for _, c := range checks {
		ok = ok && c.OK
	}
	if *asJSON {
		if err := a.printJSON(map[string]any{"manifest": path, "ok": ok, "checks": checks}); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(a.stdout, "%s %-14s %s\n", mark, c.What, c.Detail)
		}
	}
	if !ok {
		return fmt.Errorf("%s does not verify", path)
	}
	return nil
}

// manifestInclusion proves the manifest's leaf is at its log index, in the
// tree of the latest checkpoint, checking the proof with the merkle
// library's verifier against the checkpoint's signed root.
func manifestInclusion(ctx context.Context, a *app, body []byte, m *export.Manifest) (string, error) {
	if m.LogIndex == nil {
		return "", errors.New("the manifest carries no log index")
	}
	leaf, err := translog.ManifestLeaf(m.ExportID, body)
	if err != nil {
		return "", err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return "", err
	}
	defer st.Close()
	_, note, err := signedSize(ctx, a, st)
	if err != nil {
		return "", err
	}
	vkey, err := a.verifierKey()
	if err != nil {
		return "", err
	}
	cp, err := translog.OpenCheckpoint(note, vkey)
	if err != nil {
		return "", err
	}
	index := int64(*m.LogIndex)
	if index >= cp.Size {
		return "", fmt.Errorf("log index %d is beyond the latest checkpoint (%d leaves)", index, cp.Size)
	}
	p, err := translog.InclusionProof(ctx, st, index, cp.Size)
	if err != nil {
		return "", err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(cp.Size), translog.LeafHash(leaf), p, cp.Root); err != nil {
		return "", fmt.Errorf("the manifest is not the leaf at log index %d: %v", index, err)
	}
	return fmt.Sprintf("leaf %d of the checkpoint of %d leaves (root %s)", index, cp.Size, base64.StdEncoding.EncodeToString(cp.Root)), nil
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}
