// Package translog is consentgate's transparency log (SPEC §6): an
// append-only Merkle tree with RFC 6962 hashing over leaves that record
// consent events, subject changes, policy publications, export manifests
// and impact status changes, without content or raw subject ids; signed
// checkpoints in the C2SP tlog-checkpoint format; inclusion and consistency
// proofs; C2SP tlog-tiles; and the verification that re-derives every leaf
// from the stored row it records.
//
// A leaf is binary:
//
//	version (1 byte, 1) ‖ kind (1 byte) ‖ uvarint len ‖ ref
//	‖ pseudonym (32 bytes, kinds that name a subject)
//	‖ digest (32 bytes)
//	‖ uvarint len ‖ names, comma-separated (subject changes: the attributes
//	  set; policies: "forced" for a forced publication)
//
// ref is the row's key: the sequence number in decimal of a consent event,
// subject event or impact mark, a policy's version label, an export's id.
// The pseudonym is SHA-256(salt ‖ subject id) and the digest SHA-256(salt ‖
// the row's canonical encoding), with salt = HMAC-SHA256(subject key,
// "consentgate/log/salt/v1" ‖ kind ‖ ref): fresh per entry, derivable only
// with the subject's key. Policies and manifests carry no subject: their
// digest is SHA-256 of the row's canonical encoding.
package translog

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Kind is what a leaf records.
type Kind byte

// The kinds of leaf.
const (
	KindConsent  Kind = 1
	KindSubject  Kind = 2
	KindPolicy   Kind = 3
	KindManifest Kind = 4
	KindImpact   Kind = 5
	// KindExport records an export's state: its status and a digest of
	// what the store keeps of it (its subject set and kept records),
	// appended as it is logged and at every status change.
	KindExport Kind = 6
	// KindErasure records that a subject's log key was erased.
	KindErasure Kind = 7
	// KindCheckpoint records a kept checkpoint, appended by the first
	// append after it was issued: the log holds the sequence of its own
	// checkpoints, so a deleted one is missed.
	KindCheckpoint Kind = 8
	// KindNotice records a notice to a recipient (SPEC §11): its digest
	// is over the signed notice's RFC 8785 canonical JSON without
	// log_index and signature, so the recipient derives it from the
	// notice alone.
	KindNotice Kind = 9
	// KindAnswer records an answer to a notice.
	KindAnswer Kind = 10
	// KindLineage records a job's run linked to an export it read.
	KindLineage Kind = 11
)

func (k Kind) String() string {
	switch k {
	case KindConsent:
		return "consent"
	case KindSubject:
		return "subject"
	case KindPolicy:
		return "policy"
	case KindManifest:
		return "manifest"
	case KindImpact:
		return "impact"
	case KindExport:
		return "export"
	case KindErasure:
		return "erasure"
	case KindCheckpoint:
		return "checkpoint"
	case KindNotice:
		return "notice"
	case KindAnswer:
		return "answer"
	case KindLineage:
		return "lineage"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// hasNames reports whether leaves of the kind end with a list of names:
// the attributes a subject change sets, "forced" for a forced policy
// publication, an export's status (and "backfilled" for the state of an
// export logged before exports' states were).
func (k Kind) hasNames() bool { return k == KindSubject || k == KindPolicy || k == KindExport }

// hasSubject reports whether leaves of the kind carry a pseudonym.
func (k Kind) hasSubject() bool { return k == KindConsent || k == KindSubject || k == KindImpact }

const leafVersion = 1

// Salt derives the salt of one entry from the subject's key:
// HMAC-SHA256(key, "consentgate/log/salt/v1" ‖ kind ‖ ref).
func Salt(key []byte, kind Kind, ref string) []byte {
	var msg [64]byte
	m := append(append(append(msg[:0], "consentgate/log/salt/v1"...), byte(kind)), ref...)
	return hmacSHA256(key, m)
}

// hmacSHA256 is RFC 2104 HMAC-SHA256 for keys of at most 64 bytes, on the
// stack: crypto/hmac allocates two hash states per call, which an import
// of a million events pays a million times. TestSaltIsHMAC checks it
// against crypto/hmac.
func hmacSHA256(key, msg []byte) []byte {
	if len(key) > sha256.BlockSize {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		return m.Sum(nil)
	}
	var inner [sha256.BlockSize + 128]byte
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(inner[:], key)
	copy(outer[:], key)
	for i := 0; i < sha256.BlockSize; i++ {
		inner[i] ^= 0x36
		outer[i] ^= 0x5c
	}
	var in [sha256.Size]byte
	if len(msg) <= 128 {
		copy(inner[sha256.BlockSize:], msg)
		in = sha256.Sum256(inner[:sha256.BlockSize+len(msg)])
	} else {
		h := sha256.New()
		h.Write(inner[:sha256.BlockSize])
		h.Write(msg)
		h.Sum(in[:0])
	}
	copy(outer[sha256.BlockSize:], in[:])
	out := sha256.Sum256(outer[:])
	return out[:]
}

// ExportSalt derives the salt of a subject's pseudonym in one export's
// subjects_root.
func ExportSalt(key []byte, exportID string) []byte {
	var msg [96]byte
	return hmacSHA256(key, append(append(msg[:0], "consentgate/log/export/v1"...), exportID...))
}

// Pseudonym is SHA-256(salt ‖ subject).
func Pseudonym(salt []byte, subject []byte) [32]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(subject)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Leaf is a decoded leaf.
type Leaf struct {
	Kind      Kind
	Ref       string
	Pseudonym []byte // nil for kinds without a subject
	Digest    []byte
	Names     []string // attribute names of a subject change
}

// Encode appends the leaf's bytes to b.
func (l *Leaf) Encode(b []byte) []byte {
	b = append(b, leafVersion, byte(l.Kind))
	b = binary.AppendUvarint(b, uint64(len(l.Ref)))
	b = append(b, l.Ref...)
	if l.Kind.hasSubject() {
		b = append(b, l.Pseudonym...)
	}
	b = append(b, l.Digest...)
	if l.Kind.hasNames() {
		names := strings.Join(l.Names, ",")
		b = binary.AppendUvarint(b, uint64(len(names)))
		b = append(b, names...)
	}
	return b
}

// ErrBadLeaf: stored leaf bytes that do not decode.
var ErrBadLeaf = errors.New("malformed leaf")

// DecodeLeaf parses a leaf's bytes.
func DecodeLeaf(b []byte) (*Leaf, error) {
	if len(b) < 3 || b[0] != leafVersion {
		return nil, ErrBadLeaf
	}
	l := &Leaf{Kind: Kind(b[1])}
	n, w := binary.Uvarint(b[2:])
	if w <= 0 || w != uvarintLen(n) || uint64(len(b)-2-w) < n {
		return nil, ErrBadLeaf
	}
	rest := b[2+w:]
	l.Ref, rest = string(rest[:n]), rest[n:]
	if l.Kind.hasSubject() {
		if len(rest) < 32 {
			return nil, ErrBadLeaf
		}
		l.Pseudonym, rest = rest[:32], rest[32:]
	}
	if len(rest) < 32 {
		return nil, ErrBadLeaf
	}
	l.Digest, rest = rest[:32], rest[32:]
	if l.Kind.hasNames() {
		n, w := binary.Uvarint(rest)
		if w <= 0 || w != uvarintLen(n) || uint64(len(rest)-w) < n {
			return nil, ErrBadLeaf
		}
		if n > 0 {
			l.Names = strings.Split(string(rest[w:w+int(n)]), ",")
		}
		rest = rest[w+int(n):]
	}
	if len(rest) != 0 || l.Kind < KindConsent || l.Kind > KindLineage {
		return nil, ErrBadLeaf
	}
	return l, nil
}

// uvarintLen is the length of n's shortest uvarint: a leaf's lengths are
// written so, and read only so (one leaf, one encoding).
func uvarintLen(n uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], n)
}

// row accumulates a canonical row encoding: each field length-prefixed.
type row struct{ b []byte }

func (r *row) str(s []byte) {
	r.b = binary.AppendUvarint(r.b, uint64(len(s)))
	r.b = append(r.b, s...)
}

func (r *row) int(v int64) { r.b = binary.BigEndian.AppendUint64(r.b, uint64(v)) }

func saltedDigest(salt []byte, body []byte) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(body)
	return h.Sum(nil)
}

// consentRow is a consent row's canonical encoding. The policy version the
// event noted and its notice follow only when either is set, so that a row
// noting none — every row stored before events noted them — encodes as it
// always did, and its leaf still derives byte for byte; the encoding stays
// one-to-one (after the source, either nothing or both fields).
func consentRow(w *row, r *store.ConsentRow) {
	w.int(r.Seq)
	w.str(r.Subject)
	w.str(r.Purpose)
	w.str(r.Recipient)
	w.int(int64(r.State))
	w.int(int64(r.At))
	w.str(r.Source)
	if len(r.Policy) > 0 || len(r.Notice) > 0 {
		w.str(r.Policy)
		w.str(r.Notice)
	}
}

// subjectRow is a subject row's canonical encoding.
func subjectRow(w *row, r *store.SubjectRow) {
	w.int(r.Seq)
	w.str(r.Subject)
	w.int(int64(r.At))
	if r.RegionSet {
		w.int(1)
	} else {
		w.int(0)
	}
	w.str(r.Region)
	w.str(r.Attrs)
}

// impactRow is an impact mark's canonical encoding.
func impactRow(w *row, seq int64, m *store.ImpactMark) {
	w.int(seq)
	w.str([]byte(m.ExportID))
	w.str([]byte(m.Subject))
	w.str([]byte(m.Status))
	w.str([]byte(m.Note))
	w.int(int64(m.At))
}

// ConsentLeaf derives the leaf of a stored consent row.
func ConsentLeaf(dst []byte, key []byte, r *store.ConsentRow) []byte {
	ref := strconv.FormatInt(r.Seq, 10)
	salt := Salt(key, KindConsent, ref)
	var w row
	consentRow(&w, r)
	p := Pseudonym(salt, r.Subject)
	l := Leaf{Kind: KindConsent, Ref: ref, Pseudonym: p[:], Digest: saltedDigest(salt, w.b)}
	return l.Encode(dst)
}

// SubjectLeaf derives the leaf of a stored subject change; names are the
// names of the attributes it sets or removes (any order).
func SubjectLeaf(dst []byte, key []byte, r *store.SubjectRow, names []string) []byte {
	ref := strconv.FormatInt(r.Seq, 10)
	salt := Salt(key, KindSubject, ref)
	var w row
	subjectRow(&w, r)
	p := Pseudonym(salt, r.Subject)
	names = slices.Clone(names)
	if r.RegionSet {
		names = append(names, "region")
	}
	slices.Sort(names)
	l := Leaf{Kind: KindSubject, Ref: ref, Pseudonym: p[:], Digest: saltedDigest(salt, w.b), Names: names}
	return l.Encode(dst)
}

// PolicyLeaf derives the leaf of a published policy version.
func PolicyLeaf(p *store.Policy) []byte {
	var w row
	w.str([]byte(p.Version))
	w.int(int64(p.EffectiveFrom))
	w.str([]byte(p.Digest))
	w.int(int64(p.PublishedAt))
	if p.Forced {
		w.int(1)
	} else {
		w.int(0)
	}
	w.str(p.Source)
	d := sha256.Sum256(w.b)
	l := Leaf{Kind: KindPolicy, Ref: p.Version, Digest: d[:]}
	if p.Forced {
		l.Names = []string{"forced"} // in clear: a forced publication is visible in the log itself
	}
	return l.Encode(nil)
}

// ManifestLeaf derives the leaf of an export manifest from its JSON: the
// digest is over the RFC 8785 canonical form without log_index and
// signature, which are only known once the leaf is appended.
func ManifestLeaf(exportID string, manifest []byte) ([]byte, error) {
	body, err := CanonicalManifest(manifest, "log_index", "signature")
	if err != nil {
		return nil, fmt.Errorf("manifest of export %s: %w", exportID, err)
	}
	d := sha256.Sum256(body)
	l := Leaf{Kind: KindManifest, Ref: exportID, Digest: d[:]}
	return l.Encode(nil), nil
}

// ImpactLeaf derives the leaf of an impact status change.
func ImpactLeaf(key []byte, seq int64, m *store.ImpactMark) []byte {
	ref := strconv.FormatInt(seq, 10)
	salt := Salt(key, KindImpact, ref)
	var w row
	impactRow(&w, seq, m)
	p := Pseudonym(salt, []byte(m.Subject))
	l := Leaf{Kind: KindImpact, Ref: ref, Pseudonym: p[:], Digest: saltedDigest(salt, w.b)}
	return l.Encode(nil)
}

// Backfilled names the state leaf of an export logged before exports'
// states were: appended once, by the first writing session of a store that
// lacks it, it vouches for the state found then.
const Backfilled = "backfilled"

// ExportDataDigest is the digest of what the store keeps of an export
// beyond its manifest: the directory it ran in and its manifest's path
// (where its files are looked for), its subject set's stored form and its
// kept record chunks, in order, each length-prefixed.
func ExportDataDigest(dir, manifestPath string, subjects []byte, records func(fn func(chunk []byte) error) error) ([]byte, error) {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	write := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	h.Write([]byte("consentgate/log/export-data/v1"))
	write([]byte(dir))
	write([]byte(manifestPath))
	write(subjects)
	if records != nil {
		if err := records(func(c []byte) error { write(c); return nil }); err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

// ExportLeaf derives the leaf of an export's state: its status and the
// digest of its kept data (ExportDataDigest). backfilled marks the one
// state leaf of an export logged before exports' states were.
func ExportLeaf(exportID, status string, data []byte, backfilled bool) []byte {
	var w row
	w.str([]byte(exportID))
	w.str([]byte(status))
	w.str(data)
	d := sha256.Sum256(w.b)
	l := Leaf{Kind: KindExport, Ref: exportID, Digest: d[:], Names: []string{status}}
	if backfilled {
		l.Names = append(l.Names, Backfilled)
	}
	return l.Encode(nil)
}

// ErasedRows accumulates the digest of an erased subject's rows: its
// consent rows, subject rows and impact marks, each kind in sequence
// order. An erasure keeps it (and its leaf covers it), so that its rows,
// no longer re-derivable, are still the ones it had.
type ErasedRows struct{ consent, subject, impact hash.Hash }

// NewErasedRows starts a digest.
func NewErasedRows() *ErasedRows {
	return &ErasedRows{sha256.New(), sha256.New(), sha256.New()}
}

// Consent adds a consent row.
func (e *ErasedRows) Consent(r *store.ConsentRow) {
	var w row
	consentRow(&w, r)
	e.consent.Write(w.b)
}

// Subject adds a subject row.
func (e *ErasedRows) Subject(r *store.SubjectRow) {
	var w row
	subjectRow(&w, r)
	e.subject.Write(w.b)
}

// Impact adds an impact mark.
func (e *ErasedRows) Impact(seq int64, m *store.ImpactMark) {
	var w row
	impactRow(&w, seq, m)
	e.impact.Write(w.b)
}

// Sum is the digest.
func (e *ErasedRows) Sum() []byte {
	h := sha256.New()
	h.Write(e.consent.Sum(nil))
	h.Write(e.subject.Sum(nil))
	h.Write(e.impact.Sum(nil))
	return h.Sum(nil)
}

// ErasureLeaf derives the leaf of an erasure: salt is the erasure's own
// random salt (kept with it in the store, never in the log), so the leaf
// names the subject to nobody who does not hold the store; rows is the
// ErasedRows digest of the subject's rows then.
func ErasureLeaf(seq int64, subject []byte, at int64, salt, rows []byte) []byte {
	var w row
	w.int(seq)
	w.str(subject)
	w.int(at)
	w.str(rows)
	l := Leaf{Kind: KindErasure, Ref: strconv.FormatInt(seq, 10), Digest: saltedDigest(salt, w.b)}
	return l.Encode(nil)
}

// CheckpointLeaf derives the leaf recording a kept checkpoint.
func CheckpointLeaf(size int64, note []byte) []byte {
	d := sha256.Sum256(note)
	l := Leaf{Kind: KindCheckpoint, Ref: strconv.FormatInt(size, 10), Digest: d[:]}
	return l.Encode(nil)
}

// NoticeBodyLeaf derives the leaf of a notice from its signed JSON alone:
// what a recipient checks the notice's log inclusion with.
func NoticeBodyLeaf(body []byte) ([]byte, error) {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("not a notice: %w", err)
	}
	canon, err := CanonicalManifest(body, "log_index", "signature")
	if err != nil {
		return nil, fmt.Errorf("notice %s: %w", head.ID, err)
	}
	d := sha256.Sum256(canon)
	l := Leaf{Kind: KindNotice, Ref: head.ID, Digest: d[:]}
	return l.Encode(nil), nil
}

// NoticeLeaf derives the leaf of a stored notice from its body, after
// checking that the columns a query reads say what the body says.
func NoticeLeaf(n *store.Notice) ([]byte, error) {
	var b struct {
		ID        string          `json:"id"`
		ExportID  string          `json:"export_id"`
		Recipient string          `json:"recipient"`
		IssuedAt  timestamp.Time  `json:"issued_at"`
		Deadline  *timestamp.Time `json:"deadline"`
	}
	if err := json.Unmarshal(n.Body, &b); err != nil {
		return nil, fmt.Errorf("notice %s: its body is not a notice: %w", n.ID, err)
	}
	var deadline timestamp.Time
	if b.Deadline != nil {
		deadline = *b.Deadline
	}
	switch {
	case b.ID != n.ID:
		return nil, fmt.Errorf("notice %s: its body is notice %s", n.ID, b.ID)
	case b.ExportID != n.ExportID:
		return nil, fmt.Errorf("notice %s: stored as about export %s, its body says %s", n.ID, n.ExportID, b.ExportID)
	case b.Recipient != n.Recipient:
		return nil, fmt.Errorf("notice %s: stored as to %s, its body says %s", n.ID, n.Recipient, b.Recipient)
	case b.IssuedAt != n.IssuedAt:
		return nil, fmt.Errorf("notice %s: stored as issued at %s, its body says %s", n.ID, n.IssuedAt, b.IssuedAt)
	case deadline != n.Deadline:
		return nil, fmt.Errorf("notice %s: stored with deadline %s, its body says %s", n.ID, n.Deadline, deadline)
	}
	return NoticeBodyLeaf(n.Body)
}

// AnswerLeaf derives the leaf of an answer to a notice.
func AnswerLeaf(a *store.NoticeAnswer) []byte {
	var w row
	w.int(a.Seq)
	w.str([]byte(a.NoticeID))
	w.str([]byte(a.Status))
	w.str([]byte(a.Note))
	w.str([]byte(a.By))
	w.int(int64(a.At))
	d := sha256.Sum256(w.b)
	l := Leaf{Kind: KindAnswer, Ref: strconv.FormatInt(a.Seq, 10), Digest: d[:]}
	return l.Encode(nil)
}

// LineageLeaf derives the leaf of a job's run linked to an export.
func LineageLeaf(r *store.LineageRun) []byte {
	var w row
	w.int(r.Seq)
	w.str([]byte(r.ExportID))
	w.str([]byte(r.Namespace))
	w.str([]byte(r.Job))
	w.str([]byte(r.RunID))
	w.int(int64(r.At))
	w.str([]byte(r.Producer))
	d := sha256.Sum256(w.b)
	l := Leaf{Kind: KindLineage, Ref: strconv.FormatInt(r.Seq, 10), Digest: d[:]}
	return l.Encode(nil)
}
