package gate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/faults"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/lineage"
	"github.com/consentgate/consentgate/internal/redact"
	"github.com/consentgate/consentgate/internal/snapshot"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// ExportRequest is one dataset to build.
type ExportRequest struct {
	Purpose, Recipient string
	// AsOf is the time decided as of; nil means now, or the snapshot's.
	AsOf *timestamp.Time
	// Snapshot, when not "", is a snapshot file to read the policy
	// versions and the view from instead of the store.
	Snapshot string
	// Options are the export's files and fields; Plan, Now, Log,
	// BeforeRename and RedactKey are the gate's to set.
	Options export.Options
	// Lineage, when not nil, receives the export's OpenLineage run events.
	Lineage lineage.Sink
}

// Export builds a dataset (SPEC §5): the view and plan, the records pass,
// then — once every output is complete under its temporary name — the
// manifest appended to the log and the export recorded with what it
// included, in one transaction, and the outputs renamed into place. Every
// check that can be made before the log append is made before it.
func (g *Gate) Export(ctx context.Context, req ExportRequest) (*export.Manifest, error) {
	if err := g.writable(); err != nil {
		return nil, err
	}
	var snap *snapshot.File
	var vs *decision.Versions
	var err error
	asOf := now()
	if req.Snapshot != "" {
		if snap, err = snapshot.Open(req.Snapshot); err != nil {
			return nil, invalid("%v", err)
		}
		defer snap.Close()
		asOf = snap.AsOf
		if req.AsOf != nil && *req.AsOf != snap.AsOf {
			return nil, invalid("the as-of time %s differs from the snapshot's, %s", *req.AsOf, snap.AsOf)
		}
		vs, err = snap.Versions()
	} else {
		if req.AsOf != nil {
			asOf = *req.AsOf
		}
		vs, _, err = g.loadVersions(ctx)
	}
	if err != nil {
		return nil, err
	}
	// A bad purpose or recipient is refused before the (longer) view load.
	if _, err := decision.NewPlan(vs, consent.EmptyView(asOf, vs.Attributes()), req.Purpose, req.Recipient); err != nil {
		return nil, invalid("%v", err)
	}
	o := req.Options
	attrs := vs.Attributes()
	if o.Redact != nil {
		if o.Redact.Operators[redact.Member] != redact.Off {
			for _, a := range export.MemberAttributes {
				if !slices.Contains(attrs, a) {
					attrs = append(attrs, a)
				}
			}
		}
		secret, err := g.Secret("redaction.key")
		if err != nil {
			return nil, err
		}
		// The hash operator's key is derived for this use alone.
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("consentgate/redaction/hash/v1"))
		o.RedactKey = mac.Sum(nil)
	}
	var view *consent.View
	stopProgress := export.ProgressPhase(o.Progress, export.PhaseView)
	if snap != nil {
		view, _, err = snap.LoadView(attrs)
	} else {
		view, err = store.LoadView(ctx, g.st, asOf, attrs, nil)
	}
	stopProgress()
	if err != nil {
		return nil, err
	}
	if o.Plan, err = decision.NewPlan(vs, view, req.Purpose, req.Recipient); err != nil {
		return nil, invalid("%v", err)
	}
	o.Now = now()
	if req.Lineage == nil {
		return g.runExport(ctx, o)
	}
	run := &lineage.Export{RunID: lineage.NewRunID(), Purpose: req.Purpose, Recipient: req.Recipient, AsOf: asOf.Time(),
		Inputs: o.Inputs, Output: o.Out, Rejects: o.Rejects}
	if err := req.Lineage.Emit(ctx, run.Start(o.Now.Time())); err != nil {
		return nil, fmt.Errorf("the lineage START event could not be delivered, so nothing was exported: %w", err)
	}
	m, err := g.runExport(ctx, o)
	var ev *lineage.Event
	if err != nil {
		ev = run.Fail(time.Now(), err)
	} else {
		ev = run.Complete(time.Now(), m)
	}
	if lerr := req.Lineage.Emit(ctx, ev); lerr != nil {
		g.warn("the lineage %s event could not be delivered: %v", ev.EventType, lerr)
	}
	return m, err
}

// runExport runs a planned export: logged and recorded before its files
// are renamed into place, marked complete after.
func (g *Gate) runExport(ctx context.Context, o export.Options) (*export.Manifest, error) {
	signer, err := g.signing(ctx)
	if err != nil {
		return nil, err
	}
	if o.Log, err = g.logState(ctx); err != nil {
		return nil, err
	}
	var sr *subjectsRootWork
	o.Prepare = func(exportID string, s *inclusion.Subjects) { sr = g.startSubjectsRoot(ctx, exportID, s.IDs) }
	o.BeforeRename = g.logExport(ctx, signer, o.ManifestPath(), func(m *export.Manifest, inc *export.Included) (string, error) {
		if sr != nil && sr.exportID == m.ExportID {
			return sr.wait()
		}
		return g.subjectsRoot(ctx, m.ExportID, inc.Subjects.IDs)
	})
	m, err := export.Run(ctx, o)
	if sr != nil {
		sr.wait() // not left running past a failed export
	}
	if err != nil {
		return nil, err
	}
	return m, g.st.SetExportStatus(ctx, m.ExportID, store.ExportComplete)
}

// FinalizeRequest names a sharded export's folder (the Beam pipeline's)
// and where its files go.
type FinalizeRequest struct {
	Dir, Out, Rejects, Manifest string
}

// Finalize assembles, logs and records an export the Beam pipeline
// computed, as Export does its own.
func (g *Gate) Finalize(ctx context.Context, req FinalizeRequest) (*export.Manifest, error) {
	if err := g.writable(); err != nil {
		return nil, err
	}
	signer, err := g.signing(ctx)
	if err != nil {
		return nil, err
	}
	logAt, err := g.logState(ctx)
	if err != nil {
		return nil, err
	}
	m, err := export.Finalize(ctx, export.FinalizeOptions{Dir: req.Dir, Out: req.Out, Rejects: req.Rejects, Manifest: req.Manifest,
		Now: now(), Log: logAt, BeforeRename: g.logExport(ctx, signer, manifestPath(req), nil)})
	if err != nil {
		return nil, err
	}
	return m, g.st.SetExportStatus(ctx, m.ExportID, store.ExportComplete)
}

// manifestPath is where a finalize writes the manifest.
func manifestPath(req FinalizeRequest) string {
	if req.Manifest != "" {
		return req.Manifest
	}
	return export.DefaultManifest(req.Out)
}

// exportLease is how long another machine leaves a logged export alone
// before taking it for abandoned: far longer than renaming its files into
// place takes. On the exporter's own machine its process's end says so at
// once.
const exportLease = 10 * time.Minute

// owner names this process for an export's lease: host:pid.
func owner() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid())
}

// finishing reports whether a logged export is still being finished: its
// owner's process alive, on this machine, or, on another, its lease not
// run out. An export logged by an older consentgate has no owner.
func finishing(e *store.Export, t timestamp.Time) bool {
	i := strings.LastIndexByte(e.Owner, ':')
	if i < 0 {
		return false
	}
	if host, _ := os.Hostname(); e.Owner[:i] == host {
		pid, err := strconv.Atoi(e.Owner[i+1:])
		if err != nil || pid <= 0 {
			return false
		}
		err = syscall.Kill(pid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	return e.LeaseUntil > t
}

// logState is the log's size and root now, for a manifest.
func (g *Gate) logState(ctx context.Context) (*export.LogState, error) {
	size, err := g.st.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	root, err := translog.Root(ctx, g.st, size)
	if err != nil {
		return nil, err
	}
	return &export.LogState{Size: uint64(size), Root: hex.EncodeToString(root)}, nil
}

// subjectsRoot is an export's subjects_root (SPEC §5), hex: its included
// subjects' keys (a new one made, durably, for a subject without one),
// their pseudonyms for the export, the tree over them sorted.
func (g *Gate) subjectsRoot(ctx context.Context, exportID string, ids []string) (string, error) {
	ks, err := g.keys.SubjectKeys(ctx, ids, true)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(translog.NewSubjectsTree(exportID, ids, ks).Root()), nil
}

// subjectsRootWork is a subjects_root being computed while the export's
// outputs are synced to disk.
type subjectsRootWork struct {
	exportID string
	done     chan struct{}
	root     string
	err      error
}

func (g *Gate) startSubjectsRoot(ctx context.Context, exportID string, ids []string) *subjectsRootWork {
	w := &subjectsRootWork{exportID: exportID, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.root, w.err = g.subjectsRoot(ctx, exportID, ids)
	}()
	return w
}

func (w *subjectsRootWork) wait() (string, error) {
	<-w.done
	return w.root, w.err
}

// logExport is an export's BeforeRename hook: subjects_root (from root, or
// computed here when root is nil), then the manifest appended to the log
// and the export recorded with what it included in one transaction, then
// its log index and signature.
func (g *Gate) logExport(ctx context.Context, signer *translog.Signer, manifest string, root func(*export.Manifest, *export.Included) (string, error)) func(*export.Manifest, *export.Included) error {
	dir, _ := os.Getwd()
	if root == nil {
		root = func(m *export.Manifest, inc *export.Included) (string, error) {
			return g.subjectsRoot(ctx, m.ExportID, inc.Subjects.IDs)
		}
	}
	return func(m *export.Manifest, inc *export.Included) error {
		r, err := root(m, inc)
		if err != nil {
			return err
		}
		m.SubjectsRoot, m.LogIndex, m.Signature = &r, nil, nil
		body, err := export.MarshalManifest(m)
		if err != nil {
			return err
		}
		e := store.Export{ID: m.ExportID, CreatedAt: m.CreatedAt, Purpose: m.Purpose, Recipient: m.Recipient, AsOf: m.AsOf,
			Manifest: body, Subjects: inc.Subjects.Encode(), Records: inc.Records.Each,
			Dir: dir, ManifestPath: manifest, Owner: owner(), LeaseUntil: now() + timestamp.Time(exportLease/time.Microsecond)}
		defer faults.Point("after-log")
		return g.st.LogExport(ctx, e, func(index int64) ([]byte, error) {
			i := uint64(index)
			m.LogIndex = &i
			body, err := export.MarshalManifest(m)
			if err != nil {
				return nil, err
			}
			sig, err := signer.SignManifest(body)
			if err != nil {
				return nil, err
			}
			m.Signature = &sig
			return export.MarshalManifest(m)
		})
	}
}

// reconcileExports settles the exports logged whose files were not
// renamed into place (SPEC §5): one still being finished (its owner alive,
// or its lease running) is left alone; one whose output, rejects and
// manifest are all in place with the logged digests completed its renames
// and is marked complete; any other is marked abandoned — a crash between
// the log append and the last rename — and its leftover temporary files
// are removed. One with a file in an object store that cannot be checked
// now (unreachable, or the credentials refused) is left logged, with a
// warning, for a later session. An export logged before exports' states
// were gets its state logged (backfilled).
func (g *Gate) reconcileExports(ctx context.Context) error {
	es, err := g.st.LoggedExports(ctx)
	if err != nil {
		return err
	}
	t := now()
	for i := range es {
		e := &es[i]
		if e.Status != store.ExportLogged {
			// Logged before exports' states were: its state is logged
			// now, once (backfilled), as the store holds it.
			if err := g.st.SetExportStatus(ctx, e.ID, e.Status); err != nil {
				return err
			}
			continue
		}
		if finishing(e, t) {
			continue
		}
		status, err := filesStatus(ctx, e)
		if err != nil {
			g.warn("export %s was logged, and whether its files all appeared cannot be told now (%v): left as it is, for a later session to settle", e.ID, err)
			continue
		}
		if err := g.st.SetExportStatus(ctx, e.ID, status); err != nil {
			return err
		}
		if status == store.ExportAbandoned {
			for _, f := range exportFiles(e) {
				if !blobio.IsURL(f) { // a killed object upload holds no object
					atomicfile.CleanStale(f)
				}
			}
			removed := removeRenamed(ctx, e)
			msg := fmt.Sprintf("export %s was logged but its files never all appeared (a crash before its last rename): marked abandoned", e.ID)
			if len(removed) > 0 {
				msg += "; removed what it had renamed into place, which looked complete: " + strings.Join(removed, ", ")
			}
			g.warn("%s", msg)
		}
	}
	return nil
}

// removeRenamed removes an abandoned export's output and rejects file
// when they are in place under their final names holding exactly what it
// wrote (the logged digests): complete-looking files of a disclosure that
// never finished (SPEC §5: a crash leaves no output that looks complete).
// A file with other content is someone else's and is left alone.
func removeRenamed(ctx context.Context, e *store.Export) []string {
	var m export.Manifest
	if json.Unmarshal(e.Manifest, &m) != nil {
		return nil
	}
	var removed []string
	for _, d := range []*export.FileDigest{&m.Output, m.Rejects} {
		if d == nil || d.File == "" {
			continue
		}
		f := resolveFile(e.Dir, d.File)
		if sum, size, err := fileSHA256(ctx, f); err == nil && sum == d.SHA256 && size == d.Bytes && blobio.Remove(ctx, f) == nil {
			removed = append(removed, f)
		}
	}
	return removed
}

// exportFiles are a logged export's output, rejects file and manifest, as
// names from here (relative paths resolved where the export ran; objects'
// URLs as they are).
func exportFiles(e *store.Export) []string {
	var m export.Manifest
	json.Unmarshal(e.Manifest, &m)
	var out []string
	for _, f := range []string{m.Output.File, rejectsFile(&m), e.ManifestPath} {
		if f == "" {
			continue
		}
		out = append(out, resolveFile(e.Dir, f))
	}
	return out
}

func rejectsFile(m *export.Manifest) string {
	if m.Rejects == nil {
		return ""
	}
	return m.Rejects.File
}

// filesStatus is the status a logged export's files give it: complete when
// its output, its rejects file (when it wrote one) and its manifest are all
// in place under their final names, the first two with the logged digests
// and the manifest the logged one; else abandoned. An object-store file
// that cannot be checked now (the store unreachable, the credentials
// refused: anything but its absence) tells neither: that error is
// returned, and the export is to stay logged.
func filesStatus(ctx context.Context, e *store.Export) (string, error) {
	var m export.Manifest
	if json.Unmarshal(e.Manifest, &m) != nil || m.Output.File == "" {
		return store.ExportAbandoned, nil
	}
	resolve := func(f string) string { return resolveFile(e.Dir, f) }
	for _, d := range []*export.FileDigest{&m.Output, m.Rejects} {
		if d == nil {
			continue
		}
		sum, size, err := fileSHA256(ctx, resolve(d.File))
		if unknowable(resolve(d.File), err) {
			return "", err
		}
		if err != nil || sum != d.SHA256 || size != d.Bytes {
			return store.ExportAbandoned, nil
		}
	}
	path := e.ManifestPath
	if path == "" { // logged by an older consentgate
		path = m.Output.File + ".manifest.json"
	}
	body, err := blobio.ReadFile(ctx, resolve(path))
	if unknowable(resolve(path), err) {
		return "", err
	}
	if err != nil || !bytes.Equal(bytes.TrimSpace(body), bytes.TrimSpace(e.Manifest)) {
		return store.ExportAbandoned, nil
	}
	return store.ExportComplete, nil
}

// unknowable reports whether err, met checking the file name, says
// nothing of whether the file is there: an object-store error other than
// its absence. (A local file's every error counts as its absence, as it
// always has.)
func unknowable(name string, err error) bool {
	return err != nil && blobio.IsURL(name) && !errors.Is(err, fs.ErrNotExist)
}

// exports lists the exports, each with the status its files give it: a
// writing session reconciled the store's as it opened; a read-only one
// works out a logged export's in memory, writing nothing.
func (g *Gate) exports(ctx context.Context) ([]store.Export, error) {
	es, err := g.st.Exports(ctx)
	if err != nil || g.cfg.Mode != ReadOnly {
		return es, err
	}
	t := now()
	for i := range es {
		if es[i].Status == store.ExportLogged && !finishing(&es[i], t) {
			if status, err := filesStatus(ctx, &es[i]); err == nil {
				es[i].Status = status
			}
		}
	}
	return es, nil
}
