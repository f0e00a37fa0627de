package export

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/jsontext"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/redact"
)

// worker decides the lines of batches. Each worker owns its reader and
// scratch space, and records which subjects it included and which policy
// versions it consulted.
type worker struct {
	plan     *decision.Plan
	reader   *record.Reader
	inputs   []string
	counts   []uint32 // records included per subject, shared by the workers
	versions []bool
	leaf     []byte
	hasher   hash.Hash
	// filePrefix is each input's `{"file":"NAME","line":` for rejects.
	filePrefix   [][]byte
	rejectParts  rejectParts
	writeRejects bool
	redactor     *redact.Redactor
	redacted     redact.Counts
	group        [groupSize]pending
	n            int
	sink         uint32
	// touched, when tracking, collects the subjects whose count went from
	// zero to one (the Decider reads and resets only those).
	tracking bool
	touched  []int32
	rows     rowWorker // for the rows of Parquet inputs (parquet.go)
}

var errTooLong = errors.New("line longer than 16 MiB")

// ReasonRedactionDrop excludes a record in which a detector whose operator
// is drop found something.
const ReasonRedactionDrop = "redaction.drop"

// groupSize is how many records are read before any is decided, so that
// the lookups of their subjects overlap in memory (see decision.Plan.Touch).
const groupSize = 32

type pending struct {
	line []byte
	n    int
	id   []byte
	err  error
	rec  decision.Record
	scan []record.StringValue // the text fields to redact
}

func newWorker(p *decision.Plan, f record.Fields, inputs []string, writeRejects bool, counts []uint32) *worker {
	w := &worker{writeRejects: writeRejects, plan: p, reader: record.NewReader(f), inputs: inputs,
		counts: counts, versions: make([]bool, p.Versions().Len())}
	for _, in := range inputs {
		w.filePrefix = append(w.filePrefix, append(jsontext.AppendString([]byte(`{"file":`), in), `,"line":`...))
	}
	return w
}

// rowPrefixes makes the rejects of Parquet inputs name rows:
// `{"file":"NAME","row":`.
func (w *worker) rowPrefixes(inputs []string) {
	for i, in := range inputs {
		w.filePrefix[i] = append(jsontext.AppendString([]byte(`{"file":`), in), `,"row":`...)
	}
}

// rowError is why a Parquet row could not be read (it names a column,
// never content).
type rowError string

func (e rowError) Error() string { return string(e) }

func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func (w *worker) process(b *batch) {
	if w.processRows(b) { // the rows of a Parquet input (parquet.go)
		return
	}
	for _, n := range b.tooLong {
		b.read++
		w.reject(b, n, nil, decision.Result{Reason: decision.ReasonMalformed}, errTooLong.Error())
	}
	data := b.data
	n := b.line - 1
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		n++
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 || blank(line) {
			continue
		}
		b.read++
		p := &w.group[w.n]
		p.line, p.n = line, n
		if len(line) > maxLine {
			p.id, p.err = nil, errTooLong
		} else if line[0] == 0 && b.rows != nil { // a Parquet row that could not be read
			p.id, p.err = nil, rowError(line[1:])
		} else {
			p.id, p.err = w.reader.Read(line, &p.rec)
			if p.err == nil && w.redactor != nil {
				p.scan = w.reader.Scanned(p.scan[:0])
			}
		}
		w.n++
		if w.n == groupSize {
			w.flush(b)
		}
	}
	w.flush(b)
	b.records = b.chunk.AppendTo(b.records[:0])
}

// flush decides the pending group in input order.
func (w *worker) flush(b *batch) {
	group := w.group[:w.n]
	w.n = 0
	// Passes over the group, each a run of independent memory accesses
	// (see decision.Plan.Resolve).
	for k := range group {
		if group[k].err == nil {
			w.plan.Hash(&group[k].rec)
		}
	}
	for k := range group {
		if group[k].err == nil {
			w.sink += w.plan.Prefetch(&group[k].rec)
		}
	}
	for k := range group {
		if group[k].err == nil {
			w.plan.Resolve(&group[k].rec)
		}
	}
	for k := range group {
		if group[k].err == nil {
			w.sink += w.plan.Touch(&group[k].rec)
		}
	}
	vs := w.plan.Versions()
	view := w.plan.View()
	asOf := vs.IndexAt(view.AsOf)
	for k := range group {
		p := &group[k]
		if p.err != nil {
			w.reject(b, p.n, p.id, decision.Result{Reason: decision.ReasonMalformed}, p.err.Error())
			continue
		}
		res := w.plan.DecideResolved(&p.rec)
		if res.Check != decision.NoCheck || res.Allow {
			w.versions[vs.IndexAt(p.rec.Created)] = true
			w.versions[asOf] = true
		}
		if !res.Allow {
			w.reject(b, p.n, p.id, res, "")
			continue
		}
		line := p.line
		if w.redactor != nil && len(p.scan) > 0 {
			var drop bool
			deny := func(s int32) bool { return w.plan.DeniesMention(int(s), &p.rec) }
			if line, drop = w.redactor.Line(p.line, p.scan, &w.redacted, deny); drop {
				w.reject(b, p.n, p.id, decision.Result{Reason: ReasonRedactionDrop}, "a detector set to drop found something")
				continue
			}
		}
		b.included++
		if b.rows != nil {
			b.kept = append(b.kept, int32(p.n-b.line))
		} else {
			b.out = append(append(b.out, line...), '\n')
		}
		if line == nil { // a Parquet row read without its line
			line = w.rowLine(b, p.n)
		}
		b.leaves = w.appendLeafHash(b.leaves, p.id, line)
		subjects := p.rec.Subjects
		b.chunk.Add(p.id, p.rec.Category, p.rec.Created, len(subjects), func(i int) inclusion.Ref {
			return inclusion.Ref{Number: view.Number(subjects[i].Index), Role: subjects[i].Role}
		})
		for k, s := range p.rec.Subjects {
			if !seenBefore(p.rec.Subjects[:k], s.Index) { // a subject twice on a record counts once
				if atomic.AddUint32(&w.counts[s.Index], 1) == 1 && w.tracking {
					w.touched = append(w.touched, int32(s.Index))
				}
			}
		}
	}
}

// appendLeafHash appends the records_root leaf hash of an included record:
// the RFC 6962 leaf hash (the library's leaf prefix, then the leaf) of
// id ‖ 0x00 ‖ SHA-256(line). It is rfc6962.DefaultHasher.HashLeaf without
// its two allocations per record (a test holds them equal).
func (w *worker) appendLeafHash(dst, id, line []byte) []byte {
	sum := sha256.Sum256(line)
	w.leaf = append(append(append(append(w.leaf[:0], rfc6962.RFC6962LeafHashPrefix), id...), 0), sum[:]...)
	if w.hasher == nil {
		w.hasher = sha256.New()
	}
	w.hasher.Reset()
	w.hasher.Write(w.leaf)
	return w.hasher.Sum(dst)
}

func seenBefore(subjects []decision.SubjectRef, index int) bool {
	for _, s := range subjects {
		if s.Index == index {
			return true
		}
	}
	return false
}

// reject appends one line to the batch's rejects: file, line, id, reason,
// and where it failed — never content.
func (w *worker) reject(b *batch, line int, id []byte, res decision.Result, detail string) {
	b.reasons.add(res.Reason)
	if !w.writeRejects {
		return
	}
	r := append(b.rejects, w.filePrefix[b.file]...)
	r = strconv.AppendInt(r, int64(line), 10)
	if id != nil {
		r = append(r, `,"id":`...)
		r = jsontext.AppendString(r, id)
	}
	r = append(r, w.rejectParts.reason(res.Reason)...)
	if len(res.Subject) > 0 {
		r = append(r, `,"subject":`...)
		r = jsontext.AppendString(r, res.Subject)
		r = append(r, roleParts[res.Role]...)
	}
	if res.Check != decision.NoCheck {
		r = append(r, checkParts[res.Check]...)
	}
	if detail != "" {
		r = append(r, `,"detail":`...)
		r = jsontext.AppendString(r, detail)
	}
	b.rejects = append(r, "}\n"...)
}

// rejectParts are the constant parts of rejects lines: `,"reason":"…"`
// for each reason met, encoded once per worker (reasons come from a
// handful of strings: the policy tables' outcomes and the fail-closed
// constants).
type rejectParts struct {
	reasons []string
	encoded [][]byte
}

func (rp *rejectParts) reason(r string) []byte {
	if i := indexOf(rp.reasons, r); i >= 0 {
		return rp.encoded[i]
	}
	enc := jsontext.AppendString([]byte(`,"reason":`), r)
	if len(rp.reasons) < 64 { // a reason built on the fly is encoded each time
		rp.reasons, rp.encoded = append(rp.reasons, r), append(rp.encoded, enc)
	}
	return enc
}

// roleParts and checkParts are `,"role":"…"` and `,"check":"…"` for every
// role and check, encoded once.
var roleParts, checkParts = func() (roles, checks [256][]byte) {
	for i := range 256 {
		roles[i] = append(append([]byte(`,"role":"`), policy.Role(i).String()...), '"')
		checks[i] = append(append([]byte(`,"check":"`), decision.Check(i).String()...), '"')
	}
	return
}()

// indexOf finds a reason in a short list, by pointer first: the reasons
// met are a handful of strings, so this beats a map.
func indexOf(names []string, r string) int {
	for i, n := range names {
		if len(n) == len(r) && (unsafe.StringData(n) == unsafe.StringData(r) || n == r) {
			return i
		}
	}
	return -1
}

// reasonCounts counts exclusions by reason. Reasons come from a handful of
// strings (the policy tables' outcomes and the fail-closed constants), so a
// short list compared by pointer first beats a map.
type reasonCounts struct {
	names  []string
	counts []int64
}

func (rc *reasonCounts) add(r string) {
	if i := indexOf(rc.names, r); i >= 0 {
		rc.counts[i]++
		return
	}
	rc.names = append(rc.names, r)
	rc.counts = append(rc.counts, 1)
}

func (rc *reasonCounts) reset() {
	rc.names, rc.counts = rc.names[:0], rc.counts[:0]
}
