package gate

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// nowView is a view of every subject as of now.
func (g *Gate) nowView(ctx context.Context, attrs []string) (*consent.View, error) {
	return store.LoadView(ctx, g.st, now(), attrs, nil)
}

// viewOnce loads the view of every subject now at its first call, and
// gives the same one after: one answer made of several parts (the
// console) reads the store once.
func (g *Gate) viewOnce(ctx context.Context, vs *decision.Versions) func() (*consent.View, error) {
	var view *consent.View
	var err error
	return func() (*consent.View, error) {
		if view == nil && err == nil {
			view, err = g.nowView(ctx, vs.Attributes())
		}
		return view, err
	}
}

// Checkpoint returns the signed checkpoint of the log as it is, issuing
// and keeping a new one when the latest kept is of a smaller size (SPEC
// §6). It writes: a writing session's.
func (g *Gate) Checkpoint(ctx context.Context) ([]byte, error) {
	s, err := g.signing(ctx)
	if err != nil {
		return nil, err
	}
	return translog.Issue(ctx, g.st, s, now())
}

// LatestCheckpoint returns the latest kept checkpoint, opened with the
// verifier key: what proofs and tiles are served against. When none is
// kept yet a writing session issues one; a read-only one answers
// Unavailable. (A server issues one a minute while the log grows, and
// every command that appends one as it ends.)
func (g *Gate) LatestCheckpoint(ctx context.Context) (*translog.Checkpoint, []byte, error) {
	cps, err := g.st.Checkpoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	var note []byte
	switch {
	case len(cps) > 0:
		note = cps[len(cps)-1].Note
	case g.cfg.Mode != ReadOnly:
		if note, err = g.Checkpoint(ctx); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, Errorf(Unavailable, NoHint, "the log has no signed checkpoint yet")
	}
	vkey, err := g.VerifierKey()
	if err != nil {
		return nil, nil, err
	}
	cp, err := translog.OpenCheckpoint(note, vkey)
	return cp, note, err
}

// VerifyLog re-derives every leaf from its row, recomputes the tree and
// checks every kept checkpoint, and external (a signed checkpoint kept
// outside the store) when not nil. The first problem is an Inconsistent
// error whose cause is the *translog.VerifyError with the evidence.
func (g *Gate) VerifyLog(ctx context.Context, external []byte) (*translog.Report, error) {
	vkey, err := g.VerifierKey()
	if err != nil {
		// An empty log, nothing signed, verifies without a key.
		if size, serr := g.st.LogSize(ctx); serr != nil || size > 0 || external != nil {
			return nil, err
		}
	}
	rep, err := translog.Verify(ctx, g.st, g.keys, vkey, external)
	var ve *translog.VerifyError
	if errors.As(err, &ve) {
		return nil, &Error{Code: Inconsistent, Message: "the log does not verify: " + ve.Error(), Err: ve}
	}
	return rep, err
}

// proofSize is the tree size a proof is for: the latest checkpoint's, or a
// smaller size asked for, with its kept checkpoint when there is one.
func (g *Gate) proofSize(ctx context.Context, asked int64) (int64, []byte, error) {
	cp, note, err := g.LatestCheckpoint(ctx)
	if err != nil {
		return 0, nil, err
	}
	if asked <= 0 || asked == cp.Size {
		return cp.Size, note, nil
	}
	if asked > cp.Size {
		return 0, nil, invalid("size %d: the latest checkpoint is of %d leaves", asked, cp.Size)
	}
	cps, err := g.st.Checkpoints(ctx)
	if err != nil {
		return 0, nil, err
	}
	for _, c := range cps {
		if c.Size == asked {
			return asked, c.Note, nil
		}
	}
	return asked, nil, nil
}

// ProveInclusion is the RFC 6962 inclusion proof of leaf index in the
// tree of size leaves (0: the latest checkpoint's), with that size's
// signed checkpoint when one is kept.
func (g *Gate) ProveInclusion(ctx context.Context, index, size int64) (*translog.InclusionEvidence, error) {
	n, note, err := g.proofSize(ctx, size)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= n {
		return nil, invalid("index %d: the tree of size %d has leaves 0 to %d", index, n, n-1)
	}
	e, err := translog.ProveInclusion(ctx, g.st, index, n)
	if err != nil {
		return nil, err
	}
	e.Checkpoint = string(note)
	return e, nil
}

// ProveConsistency is the RFC 6962 consistency proof between two tree
// sizes (to 0: the latest checkpoint's).
func (g *Gate) ProveConsistency(ctx context.Context, from, to int64) (*translog.ConsistencyEvidence, error) {
	n, _, err := g.proofSize(ctx, to)
	if err != nil {
		return nil, err
	}
	if from < 0 || from > n {
		return nil, invalid("from %d: expected a size from 0 to %d", from, n)
	}
	return translog.ProveConsistency(ctx, g.st, from, n)
}

// OpenedEntry is one of a subject's log entries with what checks it: the
// salt, hence the pseudonym.
type OpenedEntry struct {
	Index     int64  `json:"index"`
	Kind      string `json:"kind"`
	Ref       string `json:"ref"`
	Salt      string `json:"salt"`
	Pseudonym string `json:"pseudonym"`
	LeafHash  string `json:"leaf_hash"`
}

// OpenedExport is a subject's pseudonym in one export's subjects_root,
// with its place and inclusion proof (hex) when every included subject's
// key is kept.
type OpenedExport struct {
	ExportID      string   `json:"export_id"`
	LogIndex      *uint64  `json:"log_index"`
	Salt          string   `json:"salt"`
	Pseudonym     string   `json:"pseudonym"`
	SubjectsRoot  string   `json:"subjects_root"`
	SubjectsIndex *int     `json:"subjects_index"`
	SubjectsSize  int      `json:"subjects_size"`
	Proof         []string `json:"proof"`
}

// Opening is what `log open` gives a subject.
type Opening struct {
	Subject string         `json:"subject"`
	Entries []OpenedEntry  `json:"entries"`
	Exports []OpenedExport `json:"exports"`
}

// OpenLog gives a subject the salts of their log entries and their
// pseudonym in each export that included their data (SPEC §6). NotFound
// for a subject without a log key (unknown, or erased).
func (g *Gate) OpenLog(ctx context.Context, subject string) (*Opening, error) {
	ks, err := g.keys.SubjectKeys(ctx, []string{subject}, false)
	if err != nil {
		return nil, err
	}
	key, ok := ks[subject]
	if !ok {
		return nil, notFound("subject %s has no log key: unknown, or erased (its entries can no longer be linked to it)", subject)
	}
	size, err := g.st.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	out := &Opening{Subject: subject, Entries: []OpenedEntry{}, Exports: []OpenedExport{}}
	err = g.st.LogLeaves(ctx, 0, size, func(i int64, d []byte) error {
		l, err := translog.DecodeLeaf(d)
		if err != nil || l.Pseudonym == nil {
			return nil
		}
		salt := translog.Salt(key, l.Kind, l.Ref)
		if p := translog.Pseudonym(salt, []byte(subject)); bytes.Equal(p[:], l.Pseudonym) {
			out.Entries = append(out.Entries, OpenedEntry{Index: i, Kind: l.Kind.String(), Ref: l.Ref, Salt: hex.EncodeToString(salt),
				Pseudonym: hex.EncodeToString(p[:]), LeafHash: hex.EncodeToString(translog.LeafHash(d))})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	number, known, err := g.st.SubjectNumber(ctx, subject)
	if err != nil || !known {
		return out, err
	}
	es, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	for i := range es {
		e := &es[i]
		if len(e.Subjects) == 0 {
			continue
		}
		set, err := inclusion.DecodeSubjects(e.Subjects)
		if err != nil || set.Count(number) == 0 {
			continue
		}
		m, err := manifestOf(e)
		if err != nil {
			return nil, err
		}
		salt := translog.ExportSalt(key, e.ID)
		p := translog.Pseudonym(salt, []byte(subject))
		oe := OpenedExport{ExportID: e.ID, LogIndex: m.LogIndex, Salt: hex.EncodeToString(salt), Pseudonym: hex.EncodeToString(p[:]), Proof: []string{}}
		if m.SubjectsRoot != nil {
			oe.SubjectsRoot = *m.SubjectsRoot
			tree, err := translog.ExportSubjectsTree(ctx, g.st, g.keys, e)
			if err != nil {
				return nil, err
			}
			if tree != nil {
				if i, pr, ok := tree.Prove(p); ok {
					oe.SubjectsIndex, oe.SubjectsSize = &i, len(tree.Leaves)
					for _, h := range pr {
						oe.Proof = append(oe.Proof, hex.EncodeToString(h))
					}
				}
			}
		}
		out.Exports = append(out.Exports, oe)
	}
	return out, nil
}

// Erase deletes a subject's log key: the log still verifies; its entries
// can no longer be linked to the subject. The erasure is logged first (a
// logged row whose subject has no key verifies only then), then the key
// deleted; an erasure cut short by a crash is finished by erasing again.
// NotFound when the subject has no key.
func (g *Gate) Erase(ctx context.Context, subject string) error {
	if err := g.writable(); err != nil {
		return err
	}
	if g.keys.ks == nil {
		return notFound("subject %s has no log key", subject)
	}
	ks, err := g.keys.ks.SubjectKeys(ctx, []string{subject}, false)
	if err != nil {
		return err
	}
	if _, ok := ks[subject]; !ok {
		return notFound("subject %s has no log key (unknown, or already erased)", subject)
	}
	if err := g.st.AddErasure(ctx, subject, now()); err != nil {
		return err
	}
	if _, err := g.keys.ks.Erase(ctx, subject); err != nil {
		return err
	}
	g.changed(subject)
	return nil
}

// Tiles is what WriteTiles wrote.
type Tiles struct {
	Written int   `json:"written"`
	Size    int64 `json:"size"` // the latest checkpoint's tree size
	// Checkpoints is how many kept checkpoints' trees the tiles cover:
	// each has its partial tiles there.
	Checkpoints int `json:"checkpoints"`
}

// WriteTiles writes the latest checkpoint, the C2SP tlog-tiles of its tree
// and the entry bundles under dir, with the partial tiles and bundles of
// every kept checkpoint's tree (tlog-tiles: a log serves the partial tiles
// of every size it signed). A tile's path names its width, so a tile
// never changes: those already there are kept.
//
// dir may be an object-store prefix (s3://bucket/log/, SPEC §5 "Files
// anywhere"): each tile, bundle and the checkpoint is then an object
// committed whole, so a reader never sees part of one.
func (g *Gate) WriteTiles(ctx context.Context, dir string) (*Tiles, error) {
	cp, note, err := g.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := g.st.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	join := func(rel string) string { return filepath.Join(dir, rel) }
	there := func(path string) bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() > 0
	}
	write := writeFile
	if blobio.IsURL(dir) {
		prefix, query, _ := strings.Cut(dir, "?")
		prefix = strings.TrimSuffix(prefix, "/") + "/"
		if query != "" {
			query = "?" + query
		}
		join = func(rel string) string { return prefix + rel + query }
		have := map[string]bool{}
		es, err := blobio.List(ctx, prefix+query)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			have[e.Name] = e.Size > 0
		}
		there = func(name string) bool { return have[name] }
		write = func(name string, body []byte, _ bool) error { return writeObject(ctx, name, body) }
	}
	out := &Tiles{Size: cp.Size}
	var prev int64
	for _, c := range cps {
		if c.Size > cp.Size || c.Size <= prev {
			continue
		}
		out.Checkpoints++
		for _, t := range translog.NewTiles(prev, c.Size) {
			path := join(translog.TilePath(t))
			if there(path) {
				continue
			}
			body, err := translog.TileData(ctx, g.st, t, c.Size)
			if err != nil {
				return nil, err
			}
			if err := write(path, body, false); err != nil {
				return nil, err
			}
			out.Written++
		}
		prev = c.Size
	}
	if err := write(join("checkpoint"), note, true); err != nil {
		return nil, err
	}
	return out, nil
}

// writeObject writes an object whole: it appears on Commit, complete.
func writeObject(ctx context.Context, name string, body []byte) error {
	w, err := blobio.Create(ctx, name)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Commit()
}

// writeFile writes a file whole under a temporary name and renames it
// into place, so a reader never sees half of one; durable syncs it (tiles
// are not synced one by one: they can be written again from the store).
func writeFile(path string, body []byte, durable bool) error {
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
	if durable {
		err = atomicfile.SyncClose(f)
	} else {
		err = f.Close()
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	os.Chmod(f.Name(), 0o644)
	return os.Rename(f.Name(), path)
}

// Tile serves a C2SP tlog-tiles path: a full tile of the latest
// checkpoint's tree, or a partial tile of the tree of any kept checkpoint
// (tlog-tiles: a log serves the partial tiles of every size it signed a
// checkpoint for). A tile never changes (a partial one's path names its
// width): immutable is always true for a tile served. NotFound for a path
// that is not a tile of those trees.
func (g *Gate) Tile(ctx context.Context, path string) (body []byte, immutable bool, err error) {
	t, ok := translog.ParseTilePath(path)
	if !ok {
		return nil, false, notFound("%s is not a tile path", path)
	}
	cp, _, err := g.LatestCheckpoint(ctx)
	if err != nil {
		return nil, false, err
	}
	size := cp.Size
	if !translog.OfTree(t, size) && t.W < 1<<8 {
		// The partial tile of an older tree: the kept checkpoint whose
		// size has it, if any.
		cps, err := g.st.Checkpoints(ctx)
		if err != nil {
			return nil, false, err
		}
		lo, hi := translog.PartialSizes(t)
		i := sort.Search(len(cps), func(i int) bool { return cps[i].Size >= lo })
		if i < len(cps) && cps[i].Size < hi && cps[i].Size <= cp.Size {
			size = cps[i].Size
		}
	}
	body, err = translog.TileData(ctx, g.st, t, size)
	if errors.Is(err, translog.ErrRange) {
		return nil, false, notFound("tile %s is not a tile of the latest checkpoint's tree, nor a partial tile of a kept checkpoint's", path)
	}
	return body, err == nil, err
}

// LogSize is the number of leaves in the log.
func (g *Gate) LogSize(ctx context.Context) (int64, error) { return g.st.LogSize(ctx) }

// Checkpoints returns every kept checkpoint, by size.
func (g *Gate) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	return g.st.Checkpoints(ctx)
}
