package gate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// ReportEntry is one export that included a subject's data.
type ReportEntry struct {
	ExportID       string         `json:"export_id"`
	CreatedAt      timestamp.Time `json:"created_at"`
	Purpose        string         `json:"purpose"`
	Recipient      string         `json:"recipient"`
	RecipientClass string         `json:"recipient_class"`
	AsOf           timestamp.Time `json:"as_of"`
	Records        uint32         `json:"records"`
	RecordsRoot    string         `json:"records_root"`
	LogIndex       *uint64        `json:"log_index"`
	Status         string         `json:"status"` // logged, complete or abandoned
	// SubjectsRoot is the manifest's subjects_root and Pseudonym the
	// subject's leaf in it (hex; "" once the subject's log key is erased).
	SubjectsRoot string `json:"subjects_root"`
	Pseudonym    string `json:"pseudonym,omitempty"`
}

// Report is every export that included a subject's data.
type Report struct {
	Subject string        `json:"subject"`
	Known   bool          `json:"known"`
	Exports []ReportEntry `json:"exports"`
}

// Report answers `report subject` (SPEC §5) from the subject sets the
// store keeps for each export; Known is false for a subject the store has
// never seen.
func (g *Gate) Report(ctx context.Context, p access.Principal, subject string) (*Report, error) {
	if !p.Can(access.ReadSubject, subject) {
		return nil, errForbidden
	}
	number, known, err := g.st.SubjectNumber(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := &Report{Subject: subject, Known: known, Exports: []ReportEntry{}}
	if !known {
		return out, nil
	}
	exports, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := g.keys.SubjectKeys(ctx, []string{subject}, false)
	if err != nil {
		return nil, err
	}
	for _, e := range exports {
		if len(e.Subjects) == 0 {
			continue
		}
		set, err := inclusion.DecodeSubjects(e.Subjects)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", e.ID, err)
		}
		n := set.Count(number)
		if n == 0 {
			continue
		}
		m, err := manifestOf(&e)
		if err != nil {
			return nil, err
		}
		entry := ReportEntry{ExportID: e.ID, CreatedAt: e.CreatedAt, Purpose: e.Purpose, Recipient: e.Recipient,
			RecipientClass: m.RecipientClass, AsOf: e.AsOf, Records: n, RecordsRoot: m.RecordsRoot, LogIndex: m.LogIndex, Status: e.Status}
		if m.SubjectsRoot != nil {
			entry.SubjectsRoot = *m.SubjectsRoot
		}
		if k := keys[subject]; k != nil {
			ps := translog.Pseudonym(translog.ExportSalt(k, e.ID), []byte(subject))
			entry.Pseudonym = hex.EncodeToString(ps[:])
		}
		out.Exports = append(out.Exports, entry)
	}
	return out, nil
}

func manifestOf(e *store.Export) (*export.Manifest, error) {
	var m export.Manifest
	if err := json.Unmarshal(e.Manifest, &m); err != nil {
		return nil, fmt.Errorf("export %s: the stored manifest does not parse: %w", e.ID, err)
	}
	return &m, nil
}

// SubjectProof is a member's evidence that an export included their data:
// their pseudonym, its place in the export's subjects_root with the RFC
// 6962 audit path (hex), and the manifest's log index, whose inclusion
// proof the log's public routes give.
type SubjectProof struct {
	ExportID     string   `json:"export_id"`
	Pseudonym    string   `json:"pseudonym"`
	SubjectsRoot string   `json:"subjects_root"`
	Index        int      `json:"index"`
	Size         int      `json:"size"`
	Proof        []string `json:"proof"`
	LogIndex     *uint64  `json:"manifest_log_index"`
}

// SubjectProof proves a subject's pseudonym is in an export's
// subjects_root; NotFound when the export did not include them or the
// proof can no longer be made (a log key erased).
func (g *Gate) SubjectProof(ctx context.Context, p access.Principal, subject, exportID string) (*SubjectProof, error) {
	if !p.Can(access.ReadSubject, subject) {
		return nil, errForbidden
	}
	e, err := g.export(ctx, exportID)
	if err != nil {
		return nil, err
	}
	keys, err := g.keys.SubjectKeys(ctx, []string{subject}, false)
	if err != nil {
		return nil, err
	}
	if keys[subject] == nil {
		return nil, notFound("no proof: the log key of %s was erased, or it never had one", subject)
	}
	tree, err := translog.ExportSubjectsTree(ctx, g.st, g.keys, e)
	if err != nil {
		return nil, err
	}
	if tree == nil {
		return nil, notFound("no proof: the subjects of export %s can no longer all be linked (a log key was erased)", exportID)
	}
	ps := translog.Pseudonym(translog.ExportSalt(keys[subject], e.ID), []byte(subject))
	i, path, ok := tree.Prove(ps)
	if !ok {
		return nil, notFound("no proof: export %s did not include data of %s", exportID, subject)
	}
	m, err := manifestOf(e)
	if err != nil {
		return nil, err
	}
	out := &SubjectProof{ExportID: e.ID, Pseudonym: hex.EncodeToString(ps[:]), SubjectsRoot: hex.EncodeToString(tree.Root()),
		Index: i, Size: len(tree.Leaves), Proof: make([]string, len(path)), LogIndex: m.LogIndex}
	for k, h := range path {
		out.Proof[k] = hex.EncodeToString(h)
	}
	return out, nil
}

// ExportInfo is an export as listed.
type ExportInfo struct {
	ID        string         `json:"id"`
	CreatedAt timestamp.Time `json:"created_at"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	AsOf      timestamp.Time `json:"as_of"`
	Status    string         `json:"status"`
}

func exportInfo(e *store.Export) ExportInfo {
	return ExportInfo{e.ID, e.CreatedAt, e.Purpose, e.Recipient, e.AsOf, e.Status}
}

// Exports lists the exports, oldest first.
func (g *Gate) Exports(ctx context.Context, p access.Principal) ([]ExportInfo, error) {
	if !p.Can(access.ReadExports, "") {
		return nil, errForbidden
	}
	es, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ExportInfo, len(es))
	for i := range es {
		out[i] = exportInfo(&es[i])
	}
	return out, nil
}

// ExportManifest returns an export with its stored manifest.
func (g *Gate) ExportManifest(ctx context.Context, p access.Principal, id string) (*ExportInfo, json.RawMessage, error) {
	if !p.Can(access.ReadExports, "") {
		return nil, nil, errForbidden
	}
	e, err := g.export(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	info := exportInfo(e)
	return &info, json.RawMessage(e.Manifest), nil
}

func (g *Gate) export(ctx context.Context, id string) (*store.Export, error) {
	es, err := g.exports(ctx)
	if err != nil {
		return nil, err
	}
	for i := range es {
		if es[i].ID == id {
			return &es[i], nil
		}
	}
	return nil, notFound("there is no export %s", id)
}

// Evidence is what a member needs to check by themselves that an export
// held their data and is in the public log, every hash in hex: their
// pseudonym's path to the manifest's subjects_root, and the manifest's
// leaf with its path to the root of the latest checkpoint (whose signed
// note is given, and whose root line is that root in base64, as C2SP
// tlog-checkpoint writes it).
type Evidence struct {
	SubjectProof
	Manifest json.RawMessage `json:"manifest"`
	// The manifest's leaf in the log, when a checkpoint covers it.
	ManifestLeaf     string   `json:"manifest_leaf,omitempty"`
	ManifestLeafHash string   `json:"manifest_leaf_hash,omitempty"`
	LogSize          int64    `json:"log_size,omitempty"`
	LogRoot          string   `json:"log_root,omitempty"`
	LogProof         []string `json:"log_proof,omitempty"`
	Checkpoint       string   `json:"checkpoint,omitempty"`
}

// Evidence gathers a member's evidence for one export (SubjectProof, and
// the manifest's inclusion in the latest checkpoint).
func (g *Gate) Evidence(ctx context.Context, p access.Principal, subject, exportID string) (*Evidence, error) {
	sp, err := g.SubjectProof(ctx, p, subject, exportID)
	if err != nil {
		return nil, err
	}
	e, err := g.export(ctx, exportID)
	if err != nil {
		return nil, err
	}
	out := &Evidence{SubjectProof: *sp, Manifest: json.RawMessage(e.Manifest), LogProof: []string{}}
	if sp.LogIndex == nil {
		return out, nil
	}
	cp, _, err := g.LatestCheckpoint(ctx)
	if err != nil && As(err).Code != Unavailable {
		return nil, err
	}
	if err != nil || int64(*sp.LogIndex) >= cp.Size {
		return out, nil // no checkpoint covers it yet: the page says so
	}
	inc, err := g.ProveInclusion(ctx, int64(*sp.LogIndex), 0)
	if err != nil {
		return nil, err
	}
	out.ManifestLeaf, out.ManifestLeafHash = hex.EncodeToString(inc.Leaf), hex.EncodeToString(inc.LeafHash)
	out.LogSize, out.LogRoot, out.Checkpoint = inc.Size, hex.EncodeToString(inc.Root), inc.Checkpoint
	for _, h := range inc.Proof {
		out.LogProof = append(out.LogProof, hex.EncodeToString(h))
	}
	return out, nil
}
