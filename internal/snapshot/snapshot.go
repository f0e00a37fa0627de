// Package snapshot writes and reads the point-in-time view an export needs —
// every policy version, each subject's history and its consent events at
// or before an as-of time — as one compact, versioned, checksummed file,
// so that an export can run away from the store (SPEC §8: the Beam
// pipeline's side input).
//
// Layout (version 1):
//
//	"CGSNAP\x00\x01"                 magic and format version, 8 bytes
//	gzip member A
//	  uvarint n, header JSON        as-of, creation time, policy metadata
//	  per policy: uvarint n, source the YAML as published
//	  subject rows, 0xFF, uvarint   see Write; then their count
//	gzip member B
//	  consent rows, 0xFF, uvarint   then their count
//	uint64 big-endian               the offset of member B
//	SHA-256 of every byte above     32 bytes
//
// The two members are decoded side by side, and the checksum computed
// beside them, when a view is loaded.
//
// Subject events after the as-of time are kept as their subject id and
// sequence number only: the view numbers subjects by their first event,
// whenever it happened, and nothing else about a later event is needed or
// carried.
package snapshot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/faults"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Version is the format version this package writes and reads.
const Version = 1

var magic = [8]byte{'C', 'G', 'S', 'N', 'A', 'P', 0, Version}

const (
	rowFull   = 0
	rowNumber = 1 // a subject event after the as-of time: id and seq only
	rowEnd    = 0xFF
)

// Header describes a snapshot.
type Header struct {
	Format    string         `json:"format"` // "consentgate-snapshot"
	Version   int            `json:"version"`
	AsOf      timestamp.Time `json:"as_of"`
	CreatedAt timestamp.Time `json:"created_at"`
	Policies  []PolicyInfo   `json:"policies"`
	// Upper bounds on the rows that follow, to size the view before it is
	// read.
	SubjectHint int64 `json:"subject_rows_hint"`
	ConsentHint int64 `json:"consent_rows_hint"`
}

// PolicyInfo is a policy version's metadata; its source follows the header.
type PolicyInfo struct {
	Version       string         `json:"version"`
	EffectiveFrom timestamp.Time `json:"effective_from"`
	SHA256        string         `json:"sha256"`
	PublishedAt   timestamp.Time `json:"published_at"`
	Forced        bool           `json:"forced,omitempty"`
}

// Counts are the rows a snapshot holds.
type Counts struct {
	SubjectEvents int64 `json:"subject_events"` // at or before the as-of time
	LaterSubjects int64 `json:"later_subject_events"`
	ConsentEvents int64 `json:"consent_events"`
}

// Summary is what Write and Verify report.
type Summary struct {
	Header
	Counts
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // the file's checksum (its last 32 bytes)
}

// Write reads the store as it stood at asOf and writes the snapshot to
// path atomically: nothing appears there unless the whole file is written
// and synced.
func Write(ctx context.Context, st store.Store, asOf, now timestamp.Time, path string) (*Summary, error) {
	ps, err := st.Policies(ctx)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errors.New("no policy is published: a snapshot needs at least one version")
	}
	f, err := blobio.Create(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Abort() // nothing under path unless committed whole
	nSubj, nCons, err := st.EventCounts(ctx)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Header: Header{Format: "consentgate-snapshot", Version: Version, AsOf: asOf, CreatedAt: now,
		SubjectHint: nSubj, ConsentHint: nCons}}
	for _, p := range ps {
		sum.Policies = append(sum.Policies, PolicyInfo{Version: p.Version, EffectiveFrom: p.EffectiveFrom,
			SHA256: p.Digest, PublishedAt: p.PublishedAt, Forced: p.Forced})
	}
	h := sha256.New()
	fw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	fw.Write(magic[:])
	cw := &counter{w: fw, n: int64(len(magic))}
	zw, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	w := &encoder{w: bufio.NewWriterSize(zw, 1<<20)}
	hdr, _ := json.Marshal(sum.Header)
	w.bytes(hdr)
	for _, p := range ps {
		w.bytes(p.Source)
	}
	err = st.ScanSubjects(ctx, asOf, nil, func(r *store.SubjectRow) error {
		if r.At > asOf {
			sum.LaterSubjects++
			w.byte(rowNumber)
			w.delta(&w.seq, r.Seq)
			w.bytes(r.Subject)
			return nil
		}
		sum.SubjectEvents++
		w.byte(rowFull)
		w.delta(&w.seq, r.Seq)
		w.bytes(r.Subject)
		w.delta(&w.at, int64(r.At))
		if r.RegionSet {
			w.byte(1)
		} else {
			w.byte(0)
		}
		w.bytes(r.Region)
		w.bytes(r.Attrs)
		return w.err
	})
	if err != nil {
		return nil, err
	}
	w.byte(rowEnd)
	w.uvarint(uint64(sum.SubjectEvents + sum.LaterSubjects))
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err == nil {
		w.err = zw.Close()
	}
	offB := cw.n
	zw, _ = gzip.NewWriterLevel(cw, gzip.BestSpeed)
	w.w.Reset(zw)
	w.seq, w.at = 0, 0
	err = st.ScanConsent(ctx, asOf, nil, func(r *store.ConsentRow) error {
		sum.ConsentEvents++
		w.byte(rowFull)
		w.delta(&w.seq, r.Seq)
		w.bytes(r.Subject)
		w.bytes(r.Purpose)
		w.bytes(r.Recipient)
		w.byte(byte(r.State))
		w.delta(&w.at, int64(r.At))
		w.bytes(r.Source)
		return w.err
	})
	if err != nil {
		return nil, err
	}
	w.byte(rowEnd)
	w.uvarint(uint64(sum.ConsentEvents))
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err == nil {
		w.err = zw.Close()
	}
	if w.err == nil {
		_, w.err = fw.Write(binary.BigEndian.AppendUint64(nil, uint64(offB)))
	}
	if w.err == nil {
		w.err = fw.Flush()
	}
	if w.err != nil {
		return nil, w.err
	}
	digest := h.Sum(nil)
	if _, err := f.Write(digest); err != nil {
		return nil, err
	}
	faults.Point("snapshot-before-commit")
	if err := f.Commit(); err != nil {
		return nil, err
	}
	sum.Bytes = cw.n + trailer
	sum.SHA256 = hex.EncodeToString(digest)
	return sum, nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

type encoder struct {
	w       *bufio.Writer
	buf     [binary.MaxVarintLen64]byte
	seq, at int64
	err     error
}

func (e *encoder) byte(b byte) {
	if e.err == nil {
		e.err = e.w.WriteByte(b)
	}
}

func (e *encoder) uvarint(v uint64) {
	if e.err == nil {
		_, e.err = e.w.Write(binary.AppendUvarint(e.buf[:0], v))
	}
}

// delta writes v as a signed difference from *prev: rows come mostly in
// order, so the differences are small.
func (e *encoder) delta(prev *int64, v int64) {
	if e.err == nil {
		_, e.err = e.w.Write(binary.AppendVarint(e.buf[:0], v-*prev))
	}
	*prev = v
}

func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// File is an open snapshot whose header and policies have been read.
type File struct {
	Header
	Policies []store.Policy

	path   string
	f      *blobio.Reader
	size   int64
	offB   int64 // where member B starts
	a      *decoder
	read   bool
	digest []byte // the checksum, once the rows have been read and it matched
}

// decoder reads one gzip member, decompressed on a goroutine of its own a
// chunk ahead of the parser.
type decoder struct {
	r       *bufio.Reader
	pipe    *io.PipeReader
	seq, at int64
	buf     [4][]byte // scratch for the fields of one row
}

// newDecoder reads the gzip member of f's bytes [off, off+n), streamed
// (for an object, one ranged GET read as it arrives).
func newDecoder(f *blobio.Reader, off, n int64) (*decoder, error) {
	rc, err := f.NewRangeReader(context.Background(), off, n)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(rc, 1<<20))
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("corrupt: %w", err)
	}
	zr.Multistream(false)
	pr, pw := io.Pipe()
	go func() {
		_, err := io.CopyBuffer(pw, zr, make([]byte, 1<<20))
		rc.Close()
		pw.CloseWithError(err)
	}()
	return &decoder{r: bufio.NewReaderSize(pr, 1<<20), pipe: pr}, nil
}

// end requires the member to end here (which checks gzip's CRC).
func (d *decoder) end() error {
	if n, err := io.Copy(io.Discard, d.r); err != nil {
		return truncated(err)
	} else if n != 0 {
		return fmt.Errorf("corrupt: %d bytes after the counts", n)
	}
	return nil
}

func (d *decoder) close() { d.pipe.Close() }

// Open reads a snapshot's header and policy versions, checking each
// policy's digest; the rows are read by LoadView or Verify, which also
// check the file's checksum.
//
// path may be an object-store URL (blobio): the file is then read in
// ranges, never downloaded whole first.
func Open(path string) (*File, error) {
	f, err := blobio.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	s := &File{path: path, f: f}
	if err := s.open(); err != nil {
		s.Close()
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return s, nil
}

const trailer = 8 + sha256.Size

func (s *File) open() error {
	var err error
	s.size = s.f.Size()
	var m [8]byte
	if _, err := s.f.ReadAt(m[:], 0); err != nil && s.size >= 8 {
		return err
	}
	if s.size >= 8 && !bytes.Equal(m[:7], magic[:7]) {
		return errors.New("not a consentgate snapshot (expected the bytes CGSNAP at the start)")
	}
	if s.size >= 8 && m[7] != Version {
		return fmt.Errorf("format version %d; this consentgate reads version %d", m[7], Version)
	}
	if s.size < int64(len(magic))+trailer {
		return fmt.Errorf("%d bytes: too short to be a snapshot", s.size)
	}
	var off [8]byte
	if _, err := s.f.ReadAt(off[:], s.size-trailer); err != nil {
		return err
	}
	s.offB = int64(binary.BigEndian.Uint64(off[:]))
	if s.offB < int64(len(magic)) || s.offB > s.size-trailer {
		return errors.New("corrupt or truncated: the offset of the consent rows points outside the file")
	}
	if s.a, err = newDecoder(s.f, int64(len(magic)), s.offB-int64(len(magic))); err != nil {
		return err
	}
	hdr, err := s.a.field(0)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(hdr, &s.Header); err != nil {
		return fmt.Errorf("corrupt header: %w", err)
	}
	if s.Format != "consentgate-snapshot" || s.Header.Version != Version {
		return fmt.Errorf("header names format %q version %d; expected consentgate-snapshot version %d", s.Format, s.Header.Version, Version)
	}
	if len(s.Header.Policies) == 0 {
		return errors.New("holds no policy version")
	}
	for _, pi := range s.Header.Policies {
		src, err := s.a.field(0)
		if err != nil {
			return err
		}
		d := sha256.Sum256(src)
		if hex.EncodeToString(d[:]) != pi.SHA256 {
			return fmt.Errorf("policy %s: its source does not match its sha256 %s", pi.Version, pi.SHA256)
		}
		s.Policies = append(s.Policies, store.Policy{Version: pi.Version, EffectiveFrom: pi.EffectiveFrom,
			Source: bytes.Clone(src), Digest: pi.SHA256, PublishedAt: pi.PublishedAt, Forced: pi.Forced})
	}
	return nil
}

// Close releases the file.
func (s *File) Close() error {
	if s.a != nil {
		s.a.close()
	}
	return s.f.Close()
}

// Versions compiles the snapshot's policy versions.
func (s *File) Versions() (*decision.Versions, error) {
	vs, err := store.CompileVersions(s.Policies)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", s.path, err)
	}
	return vs, nil
}

// LoadView reads the rows into the view an export needs, keeping the named
// attributes. It fails, returning no view, if the file's checksum or row
// counts do not match. It may be called once.
func (s *File) LoadView(attrs []string) (*consent.View, Counts, error) {
	b := consent.NewBuilder(s.AsOf, attrs, hint(s.SubjectHint), hint(s.ConsentHint))
	c, err := s.rows(b)
	if err != nil {
		return nil, c, fmt.Errorf("snapshot %s: %w", s.path, err)
	}
	return b.Finish(), c, nil
}

func hint(n int64) int { return int(min(max(n, 0), 1<<26)) }

// Verify reads a whole snapshot and checks its policy digests, row counts
// and checksum.
func Verify(path string) (*Summary, error) {
	s, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c, err := s.rows(nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return &Summary{Header: s.Header, Counts: c, Bytes: s.size, SHA256: hex.EncodeToString(s.digest)}, nil
}

// rows reads the subject rows here and, side by side, the consent rows and
// the checksum; into b when not nil.
func (s *File) rows(b *consent.Builder) (Counts, error) {
	var c Counts
	if s.read {
		return c, errors.New("rows already read")
	}
	s.read = true
	sumDone := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		rc, err := s.f.NewRangeReader(context.Background(), 0, s.size-sha256.Size)
		if err == nil {
			_, err = io.CopyBuffer(h, rc, make([]byte, 1<<20))
			rc.Close()
		}
		if err != nil {
			sumDone <- nil
			return
		}
		sumDone <- h.Sum(nil)
	}()
	var cons *consent.ConsentRows
	if b != nil {
		cons = &consent.ConsentRows{}
		cons.Grow(hint(s.ConsentHint))
	}
	type result struct {
		n   int64
		err error
	}
	consDone := make(chan result, 1)
	go func() {
		d, err := newDecoder(s.f, s.offB, s.size-trailer-s.offB)
		if err != nil {
			consDone <- result{0, err}
			return
		}
		defer d.close()
		n, err := d.consentRows(cons, s.AsOf)
		consDone <- result{n, err}
	}()
	err := s.subjectRows(b, &c)
	cr := <-consDone
	sum := <-sumDone
	if err != nil {
		return c, err
	}
	if cr.err != nil {
		return c, cr.err
	}
	c.ConsentEvents = cr.n
	var tail [sha256.Size]byte
	if _, err := s.f.ReadAt(tail[:], s.size-sha256.Size); err != nil {
		return c, err
	}
	if sum == nil || !bytes.Equal(tail[:], sum) {
		return c, errors.New("checksum mismatch: the file was changed or damaged after it was written")
	}
	s.digest = sum
	if cons != nil {
		b.AddConsentRows(cons)
	}
	return c, nil
}

func (s *File) subjectRows(b *consent.Builder, c *Counts) error {
	d := s.a
	for {
		kind, err := d.r.ReadByte()
		if err != nil {
			return truncated(err)
		}
		if kind == rowEnd {
			break
		}
		if kind != rowFull && kind != rowNumber {
			return fmt.Errorf("corrupt subject row %d: kind %d", c.SubjectEvents+c.LaterSubjects+1, kind)
		}
		seq, err := d.delta(&d.seq)
		if err != nil {
			return err
		}
		id, err := d.field(0)
		if err != nil {
			return err
		}
		if kind == rowNumber {
			c.LaterSubjects++
			if b != nil {
				b.AddSubjectRow(id, s.AsOf+1, seq, false, nil, nil)
			}
			continue
		}
		c.SubjectEvents++
		at, err := d.delta(&d.at)
		if err != nil {
			return err
		}
		regionSet, err := d.r.ReadByte()
		if err != nil {
			return truncated(err)
		}
		region, err := d.field(1)
		if err != nil {
			return err
		}
		attrs, err := d.field(2)
		if err != nil {
			return err
		}
		if timestamp.Time(at) > s.AsOf {
			return fmt.Errorf("corrupt subject row %d: at %s is after the as-of time", c.SubjectEvents+c.LaterSubjects, timestamp.Time(at))
		}
		if b != nil {
			if err := b.AddSubjectRow(id, timestamp.Time(at), seq, regionSet == 1, region, attrs); err != nil {
				return err
			}
		}
	}
	n, err := binary.ReadUvarint(d.r)
	if err != nil {
		return truncated(err)
	}
	if int64(n) != c.SubjectEvents+c.LaterSubjects {
		return fmt.Errorf("holds %d subject rows; its count says %d", c.SubjectEvents+c.LaterSubjects, n)
	}
	return d.end()
}

// consentRows reads member B into cons (when not nil) and returns the
// number of rows.
func (d *decoder) consentRows(cons *consent.ConsentRows, asOf timestamp.Time) (int64, error) {
	var n int64
	for {
		kind, err := d.r.ReadByte()
		if err != nil {
			return n, truncated(err)
		}
		if kind == rowEnd {
			break
		}
		if kind != rowFull {
			return n, fmt.Errorf("corrupt consent row %d: kind %d", n+1, kind)
		}
		n++
		seq, err := d.delta(&d.seq)
		if err != nil {
			return n, err
		}
		var f [3][]byte
		for i := range f {
			if f[i], err = d.field(i); err != nil {
				return n, err
			}
		}
		state, err := d.r.ReadByte()
		if err != nil {
			return n, truncated(err)
		}
		at, err := d.delta(&d.at)
		if err != nil {
			return n, err
		}
		source, err := d.field(3)
		if err != nil {
			return n, err
		}
		st := policy.State(state)
		if st != policy.Granted && st != policy.Denied || timestamp.Time(at) > asOf {
			return n, fmt.Errorf("corrupt consent row %d", n)
		}
		if cons != nil {
			cons.Add(f[0], f[1], f[2], st, timestamp.Time(at), seq, source)
		}
	}
	count, err := binary.ReadUvarint(d.r)
	if err != nil {
		return n, truncated(err)
	}
	if int64(count) != n {
		return n, fmt.Errorf("holds %d consent rows; its count says %d", n, count)
	}
	return n, d.end()
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("truncated: the file ends before the snapshot does")
	}
	return fmt.Errorf("corrupt: %w", err)
}

func (d *decoder) delta(prev *int64) (int64, error) {
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		return 0, truncated(err)
	}
	*prev += v
	return *prev, nil
}

const maxField = 64 << 20

// field reads a length-prefixed field into scratch buffer i; the result is
// valid until the next read into the same buffer.
func (d *decoder) field(i int) ([]byte, error) {
	n, err := binary.ReadUvarint(d.r)
	if err != nil {
		return nil, truncated(err)
	}
	if n > maxField {
		return nil, fmt.Errorf("corrupt: a field of %d bytes", n)
	}
	if uint64(cap(d.buf[i])) < n {
		d.buf[i] = make([]byte, n, max(n, 256))
	}
	b := d.buf[i][:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, truncated(err)
	}
	return b, nil
}
