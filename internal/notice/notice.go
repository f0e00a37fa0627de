// Package notice is the form of the notices the platform owes a dataset's
// recipient once members withdraw (SPEC §11): the records to delete or keep
// out of further training, each named by its id, the SHA-256 of its line,
// its index in the export's output and its RFC 6962 inclusion proof in the
// export's signed records_root — never a subject id or content — signed
// with the log's key over its RFC 8785 canonical JSON, like a manifest.
//
// It builds a notice's record proofs from the export's output and the ids
// the store keeps of its included records, and checks a notice as a
// recipient does, with the manifest and the log's verifier key alone.
package notice

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// The reason classes of SPEC §11.
const (
	Withdrawal     = "withdrawal"
	Ineligibility  = "ineligibility"
	NarrowerPolicy = "narrower policy"
)

// Record is one record a notice names.
type Record struct {
	ID         string   `json:"id"`
	LineSHA256 string   `json:"line_sha256"` // hex
	Index      int64    `json:"index"`       // its position in the output, from 0
	Proof      []string `json:"proof"`       // RFC 6962 audit path in records_root, hex
	Reason     string   `json:"reason"`      // withdrawal, ineligibility or narrower policy
}

// Notice is one notice to one recipient about one export.
type Notice struct {
	ID          string          `json:"id"`
	ExportID    string          `json:"export_id"`
	Recipient   string          `json:"recipient"`
	Purpose     string          `json:"purpose"`
	RecordsRoot string          `json:"records_root"` // the manifest's
	TreeSize    int64           `json:"tree_size"`    // the manifest's included count
	IssuedAt    timestamp.Time  `json:"issued_at"`
	Deadline    *timestamp.Time `json:"deadline,omitempty"` // from the policy's remediation_within
	Records     []Record        `json:"records"`
	// Jobs are the jobs known, when it was issued, to have trained on the
	// export (OpenLineage runs that read its output).
	Jobs      []Job   `json:"jobs,omitempty"`
	LogIndex  *int64  `json:"log_index,omitempty"` // its leaf's index in the log
	Signature *string `json:"signature,omitempty"` // Ed25519 over the canonical JSON without it, base64
}

// Job is a job that ran on an export's output, as its OpenLineage run
// event named it.
type Job struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	RunID     string         `json:"run_id"`
	At        timestamp.Time `json:"at"` // the run's completion
}

// Tree is an export's records_root tree, rebuilt from its output.
type Tree struct {
	ids    [][]byte
	sums   [][32]byte
	levels [][][32]byte // levels[0] the leaf hashes; levels[k][i] the perfect subtree of 2^k leaves from i·2^k
}

// NewTree rebuilds an export's records_root tree from its output (JSON
// Lines, one included record per line, in order) and the ids of its
// included records in output order, as the store keeps them. The leaf of
// a record is the RFC 6962 leaf hash of id ‖ 0x00 ‖ SHA-256(line) (SPEC §5).
func NewTree(output io.Reader, ids [][]byte) (*Tree, error) {
	t := &Tree{ids: ids, sums: make([][32]byte, 0, len(ids))}
	leaves := make([][32]byte, 0, len(ids))
	sc := bufio.NewScanner(output)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var leaf []byte
	for sc.Scan() {
		i := len(t.sums)
		if i >= len(ids) {
			return nil, fmt.Errorf("the output has more lines than the export included records (%d)", len(ids))
		}
		sum := sha256.Sum256(sc.Bytes())
		t.sums = append(t.sums, sum)
		leaf = append(append(append(leaf[:0], ids[i]...), 0), sum[:]...)
		var h [32]byte
		copy(h[:], rfc6962.DefaultHasher.HashLeaf(leaf))
		leaves = append(leaves, h)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(leaves) != len(ids) {
		return nil, fmt.Errorf("the output has %s, the export included %s", count(len(leaves), "line", "lines"), count(len(ids), "record", "records"))
	}
	t.levels = [][][32]byte{leaves}
	for lv := t.levels[0]; len(lv) > 1; {
		next := make([][32]byte, len(lv)/2)
		for i := range next {
			copy(next[i][:], rfc6962.DefaultHasher.HashChildren(lv[2*i][:], lv[2*i+1][:]))
		}
		t.levels = append(t.levels, next)
		lv = next
	}
	return t, nil
}

// Size is the number of leaves.
func (t *Tree) Size() int64 { return int64(len(t.levels[0])) }

// Root is the tree's RFC 6962 root, hex.
func (t *Tree) Root() string {
	n := uint64(t.Size())
	if n == 0 {
		return hex.EncodeToString(rfc6962.DefaultHasher.EmptyRoot())
	}
	return hex.EncodeToString(t.node(0, n))
}

// node hashes the subtree of leaves [lo, hi).
func (t *Tree) node(lo, hi uint64) []byte {
	n := hi - lo
	if n&(n-1) == 0 && lo%n == 0 { // a perfect subtree: kept
		lv := 0
		for 1<<lv < n {
			lv++
		}
		return t.levels[lv][lo>>lv][:]
	}
	k := uint64(1) // the largest power of two below n
	for k<<1 < n {
		k <<= 1
	}
	return rfc6962.DefaultHasher.HashChildren(t.node(lo, lo+k), t.node(lo+k, hi))
}

// Record gives the notice's entry for the record at index.
func (t *Tree) Record(index int64, reason string) (Record, error) {
	if index < 0 || index >= t.Size() {
		return Record{}, fmt.Errorf("record index %d: the export included %d records", index, t.Size())
	}
	ns, err := proof.Inclusion(uint64(index), uint64(t.Size()))
	if err != nil {
		return Record{}, err
	}
	hs := make([][]byte, len(ns.IDs))
	for k, id := range ns.IDs {
		lo, hi := id.Coverage()
		hs[k] = t.node(lo, hi)
	}
	path, err := ns.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return Record{}, err
	}
	r := Record{ID: string(t.ids[index]), LineSHA256: hex.EncodeToString(t.sums[index][:]), Index: index, Proof: make([]string, len(path)), Reason: reason}
	for k, h := range path {
		r.Proof[k] = hex.EncodeToString(h)
	}
	return r, nil
}

// Signer signs a notice's canonical JSON (translog.Signer, the log's key).
type Signer interface {
	SignManifest(doc []byte) (string, error)
}

// Sign sets the notice's signature: Ed25519 over the RFC 8785 canonical
// JSON of the notice without it.
func Sign(n *Notice, s Signer) error {
	n.Signature = nil
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	sig, err := s.SignManifest(body)
	if err != nil {
		return err
	}
	n.Signature = &sig
	return nil
}

// Verify checks a notice as its recipient does, with the export's
// manifest and the log's verifier key alone: the notice's signature and
// the manifest's, that both name the same export and records_root, that
// the tree size is the manifest's included count, and every record's
// inclusion proof in records_root. It returns the parsed notice.
func Verify(noticeJSON, manifestJSON []byte, verifierKey string) (*Notice, error) {
	n, _, err := VerifyBundle(noticeJSON, manifestJSON, verifierKey)
	return n, err
}

// VerifyBundle checks a notice as Verify does; given the notice as the
// server answers GET /v1/notices/{id} (the signed notice under "notice"
// and its log evidence under "log"), it also checks that the notice is in
// the log: its leaf derived from the notice, the inclusion proof to the
// root of a checkpoint signed with the same key. It reports whether the
// log inclusion was checked (false for a bare notice, or one appended
// after the latest checkpoint).
func VerifyBundle(doc, manifestJSON []byte, verifierKey string) (*Notice, bool, error) {
	var bundle struct {
		Notice json.RawMessage             `json:"notice"`
		Log    *translog.InclusionEvidence `json:"log"`
	}
	noticeJSON := doc
	if err := json.Unmarshal(doc, &bundle); err == nil && len(bundle.Notice) > 0 && bundle.Notice[0] == '{' {
		noticeJSON = bundle.Notice
	}
	n, err := verify(noticeJSON, manifestJSON, verifierKey)
	if err != nil || bundle.Log == nil {
		return n, false, err
	}
	if err := verifyInLog(noticeJSON, n, bundle.Log, verifierKey); err != nil {
		return nil, false, fmt.Errorf("the notice's log inclusion: %w", err)
	}
	return n, true, nil
}

func verifyInLog(noticeJSON []byte, n *Notice, ev *translog.InclusionEvidence, verifierKey string) error {
	leaf, err := translog.NoticeBodyLeaf(noticeJSON)
	if err != nil {
		return err
	}
	if !bytes.Equal(leaf, ev.Leaf) {
		return errors.New("the log's leaf is not the one the notice derives")
	}
	if n.LogIndex == nil {
		return fmt.Errorf("the notice names no log index; the evidence is for log index %d", ev.Index)
	}
	if *n.LogIndex != ev.Index {
		return fmt.Errorf("the evidence is for log index %d, the notice says %d", ev.Index, *n.LogIndex)
	}
	cp, err := translog.OpenCheckpoint([]byte(ev.Checkpoint), verifierKey)
	if err != nil {
		return fmt.Errorf("the checkpoint: %w", err)
	}
	if cp.Size != ev.Size || !bytes.Equal(cp.Root, ev.Root) {
		return fmt.Errorf("the proof is for a tree of %d leaves with root %x, the checkpoint signs %d leaves with root %x", ev.Size, ev.Root, cp.Size, cp.Root)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(ev.Index), uint64(ev.Size), rfc6962.DefaultHasher.HashLeaf(leaf), ev.Proof, cp.Root); err != nil {
		return fmt.Errorf("leaf %d is not in the signed tree of %d leaves: %w", ev.Index, ev.Size, err)
	}
	return nil
}

func verify(noticeJSON, manifestJSON []byte, verifierKey string) (*Notice, error) {
	var n Notice
	dec := json.NewDecoder(bytes.NewReader(noticeJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("not a notice: %w", err)
	}
	if err := checkSignature(noticeJSON, n.Signature, verifierKey); err != nil {
		return nil, fmt.Errorf("the notice's signature: %w", err)
	}
	if err := translog.VerifyManifest(manifestJSON, verifierKey); err != nil {
		return nil, fmt.Errorf("the manifest's signature: %w", err)
	}
	var m export.Manifest
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return nil, fmt.Errorf("not an export manifest: %w", err)
	}
	switch {
	case n.ExportID != m.ExportID:
		return nil, fmt.Errorf("the notice is about export %s, the manifest is of %s", n.ExportID, m.ExportID)
	case n.RecordsRoot != m.RecordsRoot:
		return nil, fmt.Errorf("the notice's records_root %s is not the manifest's %s", n.RecordsRoot, m.RecordsRoot)
	case n.TreeSize != m.Counts.Included:
		return nil, fmt.Errorf("the notice's tree size %d is not the manifest's included count %d", n.TreeSize, m.Counts.Included)
	}
	root, err := hex.DecodeString(m.RecordsRoot)
	if err != nil {
		return nil, fmt.Errorf("the manifest's records_root: %w", err)
	}
	for _, r := range n.Records {
		sum, err := hex.DecodeString(r.LineSHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("record %s: line_sha256 %q is not a SHA-256 in hex", r.ID, r.LineSHA256)
		}
		path := make([][]byte, len(r.Proof))
		for k, h := range r.Proof {
			if path[k], err = hex.DecodeString(h); err != nil || len(path[k]) != sha256.Size {
				return nil, fmt.Errorf("record %s: proof hash %d is not a SHA-256 in hex", r.ID, k)
			}
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(append(append([]byte(r.ID), 0), sum...))
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(r.Index), uint64(n.TreeSize), leaf, path, root); err != nil {
			got, _ := proof.RootFromInclusionProof(rfc6962.DefaultHasher, uint64(r.Index), uint64(n.TreeSize), leaf, path)
			return nil, fmt.Errorf("record %s (index %d) is not in records_root: its leaf %s and proof give %s, not %s",
				r.ID, r.Index, hex.EncodeToString(leaf), hex.EncodeToString(got), m.RecordsRoot)
		}
	}
	return &n, nil
}

func checkSignature(doc []byte, sig *string, verifierKey string) error {
	pub, err := translog.Ed25519Key(verifierKey)
	if err != nil {
		return err
	}
	if sig == nil {
		return errors.New("the notice is not signed")
	}
	s, err := base64.StdEncoding.DecodeString(*sig)
	if err != nil {
		return fmt.Errorf("not base64: %w", err)
	}
	body, err := translog.CanonicalManifest(doc, "signature")
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, body, s) {
		return errors.New("it does not match the notice, with the log's key")
	}
	return nil
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// CheckDataset checks the recipient's copy of the dataset (its lines in
// output order) against a verified notice: the line at each record's index
// has the record's line_sha256. It returns how many lines it read.
func CheckDataset(n *Notice, lines io.Reader) (int64, error) {
	want := make(map[int64]*Record, len(n.Records))
	for i := range n.Records {
		want[n.Records[i].Index] = &n.Records[i]
	}
	sc := bufio.NewScanner(lines)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var i int64
	found := 0
	for ; sc.Scan(); i++ {
		r := want[i]
		if r == nil {
			continue
		}
		sum := sha256.Sum256(sc.Bytes())
		if hex.EncodeToString(sum[:]) != r.LineSHA256 {
			return i, fmt.Errorf("line %d (index %d) of the dataset has SHA-256 %x, the notice's record %s says %s: this copy is not the one exported", i+1, i, sum, r.ID, r.LineSHA256)
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return i, err
	}
	if i != n.TreeSize {
		return i, fmt.Errorf("the dataset has %s, the export included %d records", count(int(i), "line", "lines"), n.TreeSize)
	}
	if found != len(n.Records) {
		return i, fmt.Errorf("the dataset holds %d of the notice's %d records", found, len(n.Records))
	}
	return i, nil
}
