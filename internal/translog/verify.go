package translog

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// VerifyError is what log verification found wrong first: the log index
// (or the checkpoint's size) and the evidence.
type VerifyError struct {
	Index      int64  // the first bad leaf index; -1 when the problem is a checkpoint or a row
	Checkpoint int64  // the checkpoint's size, when it is one
	Kind       Kind   // what the leaf records, when known
	Ref        string // the row's key, when known
	// Row names the first bad row of a table the log does not hold (a
	// packed copy, an export), when the problem is there.
	Row     string
	Problem string
	Stored  string // hex of what is stored, when it is a mismatch
	Derived string // hex of what the row gives
}

func (e *VerifyError) Error() string {
	var where string
	if e.Row != "" {
		where = e.Row
	} else if e.Index >= 0 {
		where = "log index " + strconv.FormatInt(e.Index, 10)
		if e.Ref != "" {
			where += " (" + e.Kind.String() + " " + e.Ref + ")"
		}
	} else {
		where = "checkpoint of size " + strconv.FormatInt(e.Checkpoint, 10)
	}
	msg := where + ": " + e.Problem
	if e.Stored != "" || e.Derived != "" {
		msg += " (stored " + e.Stored + ", derived from the row " + e.Derived + ")"
	}
	return msg
}

// Report is what a successful verification checked.
type Report struct {
	Size        int64          `json:"size"`
	Root        string         `json:"root"` // hex
	Checkpoints int            `json:"checkpoints"`
	External    bool           `json:"external_checkpoint"`
	Leaves      map[string]int `json:"leaves"` // by kind
	// Erased counts the entries whose subject's key was erased: the tree
	// covers them and their rows exist, but nobody can re-derive them.
	Erased int `json:"erased"`
	// SubjectSets counts the exports whose stored subject set was checked
	// against the manifest's subjects_root; SubjectSetsSkipped those that
	// could not be (a subject erased, or without subject events).
	SubjectSets        int `json:"subject_sets"`
	SubjectSetsSkipped int `json:"subject_sets_skipped"`
	// Exports counts the exports whose state — status, subject set, kept
	// records, and the columns report and impact read — agrees with its
	// logged entries.
	Exports int `json:"exports"`
	// PackedRows counts the events of the store's derived copies (SQLite's
	// packs) compared with their rows.
	PackedRows int `json:"packed_rows"`
	// Erasures counts the logged erasures; ErasuresPending those whose key
	// is still there (an erasure cut short: erasing again finishes it).
	Erasures        int `json:"erasures"`
	ErasuresPending int `json:"erasures_pending"`
	// RecordedCheckpoints counts the checkpoints the log records, each
	// found kept; Unsigned the leaves after the newest kept checkpoint (the
	// next appending command, or the server within a minute, signs them).
	RecordedCheckpoints int   `json:"recorded_checkpoints"`
	Unsigned            int64 `json:"unsigned"`
}

// KeySource gives verification the subjects' keys: all at once, and one
// subject's again — on a live store, a subject first seen after All was
// read has a key by the time its rows are.
type KeySource interface {
	Table(ctx context.Context) (*KeyTable, error)
	SubjectKeys(ctx context.Context, subjects []string, create bool) (map[string][]byte, error)
}

// KeyMap is a KeySource over keys held in memory.
type KeyMap map[string][]byte

// Table implements KeySource.
func (m KeyMap) Table(context.Context) (*KeyTable, error) {
	t := NewKeyTable(len(m))
	for s, k := range m {
		t.Put([]byte(s), k)
	}
	return t, nil
}

// SubjectKeys implements KeySource (and store.Keys), creating none.
func (m KeyMap) SubjectKeys(_ context.Context, subjects []string, _ bool) (map[string][]byte, error) {
	out := make(map[string][]byte, len(subjects))
	for _, s := range subjects {
		if k, ok := m[s]; ok {
			out[s] = k
		}
	}
	return out, nil
}

// Verify re-derives every leaf from the stored row it records, checks that
// every row is logged, recomputes the tree and its stored node hashes, and
// checks every kept checkpoint, and external (a signed checkpoint from
// outside the store) when not nil. keys holds every subject key. The first
// problem is returned as a *VerifyError.
func Verify(ctx context.Context, st store.Store, src KeySource, verifierKey string, external []byte) (*Report, error) {
	size, err := st.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	v := verifier{ctx: ctx, st: st, src: src, rep: &Report{Size: size, Leaves: map[string]int{}}}
	// First the form of the small tables' rows: the listings below read
	// them, and a value of another type would fail them unexplained.
	if err := rowFormError(st.CheckStorage(ctx)); err != nil {
		return nil, err
	}
	// The keys load on a core of their own while the first leaves and
	// rows are read.
	keysDone := make(chan error, 1)
	go func() {
		var err error
		v.keys, err = src.Table(ctx)
		keysDone <- err
	}()
	keysLoaded := false
	waitKeys := func() error {
		if keysLoaded {
			return nil
		}
		keysLoaded = true
		return <-keysDone
	}
	defer waitKeys()
	if err := v.load(); err != nil {
		return nil, err
	}
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	type want struct {
		size int64
		root []byte
		cp   int64 // the kept checkpoint's size, -1 for the external one
	}
	var wants []want
	for _, c := range cps {
		cp, err := OpenCheckpoint(c.Note, verifierKey)
		if err != nil {
			return nil, &VerifyError{Index: -1, Checkpoint: c.Size, Problem: err.Error()}
		}
		if cp.Size != c.Size {
			return nil, &VerifyError{Index: -1, Checkpoint: c.Size, Problem: fmt.Sprintf("kept as size %d but signed for size %d", c.Size, cp.Size)}
		}
		if cp.Size > size {
			return nil, &VerifyError{Index: -1, Checkpoint: c.Size, Problem: fmt.Sprintf("the log has only %d leaves", size)}
		}
		wants = append(wants, want{cp.Size, cp.Root, c.Size})
	}
	v.rep.Checkpoints = len(cps)
	v.kept = map[int64][]byte{}
	for _, c := range cps {
		v.kept[c.Size] = c.Note
	}
	if external != nil {
		cp, err := OpenCheckpoint(external, verifierKey)
		if err != nil {
			return nil, &VerifyError{Index: -1, Checkpoint: -1, Problem: "--checkpoint: " + err.Error()}
		}
		if cp.Size > size {
			return nil, &VerifyError{Index: -1, Checkpoint: cp.Size, Problem: fmt.Sprintf("--checkpoint: the log has only %d leaves: it was truncated", size)}
		}
		wants = append(wants, want{cp.Size, cp.Root, -1})
		v.rep.External = true
	}
	slices.SortStableFunc(wants, func(a, b want) int { return int(a.size - b.size) })

	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	nodes := map[int][][]byte{} // computed hashes of tile levels ≥ 1
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 && id.Level%tileHeight == 0 {
			tl := int(id.Level / tileHeight)
			nodes[tl] = append(nodes[tl], h)
		}
	}
	checkRoots := func() error {
		for len(wants) > 0 && wants[0].size == int64(tree.End()) {
			w := wants[0]
			wants = wants[1:]
			root := rfc6962.DefaultHasher.EmptyRoot()
			if w.size > 0 {
				if root, err = tree.GetRootHash(nil); err != nil {
					return err
				}
			}
			if !bytes.Equal(root, w.root) {
				p := "its root is not the root of the log's first leaves: the log was changed after it was issued"
				if w.cp < 0 {
					p = "--checkpoint: " + p
				}
				return &VerifyError{Index: -1, Checkpoint: w.size, Problem: p, Stored: hex.EncodeToString(w.root), Derived: hex.EncodeToString(root)}
			}
		}
		return nil
	}
	if err := checkRoots(); err != nil {
		return nil, err
	}
	const chunk = 8192
	// The log may grow while it is verified (a live server): what was
	// appended meanwhile is verified too, until a pass finds it still.
	from := int64(0)
	for rounds := 0; ; rounds++ {
		// A reader reads ahead — the leaves and the rows they record, a
		// chunk at a time — while the chunk before is derived and checked:
		// the row scan (one core, SQLite's) overlaps the derivation (every
		// core).
		chunks := make(chan *chunkData, 8)
		stop := make(chan struct{})
		go v.readAhead(from, size, chunk, chunks, stop)
		fail := func(err error) (*Report, error) {
			close(stop)
			for range chunks {
			}
			return nil, err
		}
		for cd := range chunks {
			if cd.err != nil {
				return fail(cd.err)
			}
			if err := waitKeys(); err != nil {
				return fail(err)
			}
			if err := v.check(cd); err != nil {
				return fail(err)
			}
			for k := range cd.hashes {
				if err := tree.Append(cd.hashes[k][:], visit); err != nil {
					return fail(err)
				}
				if err := checkRoots(); err != nil {
					return fail(err)
				}
			}
			from = cd.first + int64(len(cd.datas))
		}
		if err := waitKeys(); err != nil {
			return nil, err
		}
		err := rowFormError(v.finish(size))
		now, serr := st.LogSize(ctx)
		if serr != nil {
			return nil, serr
		}
		if now > size && rounds < 100 {
			size = now // rows committed with their leaves after the last look
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	v.rep.Size = size
	v.rep.Unsigned = size
	for n := range v.kept {
		v.rep.Unsigned = min(v.rep.Unsigned, size-n)
	}
	// The stored node hashes that proofs and tiles are built from.
	for tl := 1; ; tl++ {
		want := nodes[tl]
		if len(want) == 0 {
			break
		}
		got, err := st.LogNodes(ctx, tl, 0, int64(len(want)))
		if err != nil {
			return nil, err
		}
		for i := range want {
			if i >= len(got) || !bytes.Equal(got[i], want[i]) {
				var g string
				if i < len(got) {
					g = hex.EncodeToString(got[i])
				}
				first := int64(i) << (tileHeight * tl)
				return nil, &VerifyError{Index: first, Problem: fmt.Sprintf("the stored hash of the subtree of leaves %d..%d is wrong", first, first+int64(1)<<(tileHeight*tl)-1),
					Stored: g, Derived: hex.EncodeToString(want[i])}
			}
		}
	}
	root := rfc6962.DefaultHasher.EmptyRoot()
	if size > 0 {
		if root, err = tree.GetRootHash(nil); err != nil {
			return nil, err
		}
	}
	v.rep.Root = hex.EncodeToString(root)
	return v.rep, nil
}

type verifier struct {
	ctx  context.Context
	st   store.Store
	src  KeySource
	keys *KeyTable
	rep  *Report

	policies map[string]*store.Policy
	exports  map[string]*store.Export
	impacts  map[int64]*store.ImpactMark
	erasures map[int64]*store.Erasure
	notices  map[string]*store.Notice // by id
	answers  map[int64]*store.NoticeAnswer
	lineage  map[int64]*store.LineageRun
	erased   map[string]*store.Erasure // by subject
	// erasedRows digests the rows met of each erased subject whose key is
	// gone, to compare with what its erasure recorded.
	erasedRows map[string]*ErasedRows
	kept       map[int64][]byte         // kept checkpoints' notes by size
	seen       map[Kind]map[string]bool // policies, exports, impact marks, erasures, checkpoints, notices, answers, lineage links logged

	// states are each export's logged states in log order; data its
	// data digest recomputed from what the store keeps; roots its
	// manifest's subjects_root and that leaf's index.
	states map[string][]exportState
	data   map[string][]byte
	roots  map[string]manifestRoot
	// numbers maps the subject numbers the exports' subject sets name
	// (a subject's number is its first event's sequence number) to the
	// subjects, filled as the subject rows are read.
	numbers map[int64]string

	// fps are the fingerprints of the rows checked, in sequence order, to
	// compare the derived copies with (fpSeed keys them: unpredictable).
	fpSeed                   maphash.Seed
	subjectFP                []rowFP
	consentFP                []rowFP
	lastConsent, lastSubject int64 // the last sequence number checked
	readConsent, readSubject int64 // the last sequence number read ahead (the reader's own)
	arenaHint                int   // the reader's row arena size, from the chunks before
}

type manifestRoot struct {
	index int64
	root  *string
}

type exportState struct {
	index      int64
	status     string
	backfilled bool
}

type rowFP struct {
	seq int64
	fp  uint64
}

// reload reads the policies, exports, impact marks, erasures, notices,
// answers and lineage links again, for leaves appended after they were
// first read (what was seen stays seen).
func (v *verifier) reload() error {
	seen := v.seen
	if err := v.load(); err != nil {
		return err
	}
	v.seen = seen
	return nil
}

func (v *verifier) load() error {
	ps, err := v.st.Policies(v.ctx)
	if err != nil {
		return err
	}
	v.policies = map[string]*store.Policy{}
	for i := range ps {
		v.policies[ps[i].Version] = &ps[i]
	}
	es, err := v.st.Exports(v.ctx)
	if err != nil {
		return err
	}
	v.exports = map[string]*store.Export{}
	for i := range es {
		v.exports[es[i].ID] = &es[i]
	}
	ms, err := v.st.ImpactMarks(v.ctx)
	if err != nil {
		return err
	}
	v.impacts = map[int64]*store.ImpactMark{}
	for i := range ms {
		v.impacts[ms[i].Seq] = &ms[i]
	}
	er, err := v.st.Erasures(v.ctx)
	if err != nil {
		return err
	}
	v.erasures, v.erased = map[int64]*store.Erasure{}, map[string]*store.Erasure{}
	for i := range er {
		v.erasures[er[i].Seq] = &er[i]
		v.erased[er[i].Subject] = &er[i]
	}
	ns, err := v.st.Notices(v.ctx)
	if err != nil {
		return err
	}
	v.notices = map[string]*store.Notice{}
	for i := range ns {
		v.notices[ns[i].ID] = &ns[i]
	}
	as, err := v.st.NoticeAnswers(v.ctx)
	if err != nil {
		return err
	}
	v.answers = map[int64]*store.NoticeAnswer{}
	for i := range as {
		v.answers[as[i].Seq] = &as[i]
	}
	ls, err := v.st.LineageRuns(v.ctx)
	if err != nil {
		return err
	}
	v.lineage = map[int64]*store.LineageRun{}
	for i := range ls {
		v.lineage[ls[i].Seq] = &ls[i]
	}
	v.seen = map[Kind]map[string]bool{KindPolicy: {}, KindManifest: {}, KindImpact: {}, KindErasure: {}, KindCheckpoint: {},
		KindNotice: {}, KindAnswer: {}, KindLineage: {}}
	if v.states == nil {
		v.states, v.data, v.roots = map[string][]exportState{}, map[string][]byte{}, map[string]manifestRoot{}
		v.fpSeed = maphash.MakeSeed()
		v.numbers = map[int64]string{}
		v.erasedRows = map[string]*ErasedRows{}
	}
	// The subject numbers the exports' subject sets name.
	for _, e := range v.exports {
		if len(e.Subjects) == 0 {
			continue
		}
		set, err := inclusion.DecodeSubjects(e.Subjects)
		if err != nil {
			continue // the export's state leaf does not match then
		}
		for _, n := range set.Numbers {
			if _, ok := v.numbers[n]; !ok {
				v.numbers[n] = ""
			}
		}
	}
	return nil
}

// key is a subject's key: from those read at the start, else asked for
// again (a subject first stored while verification ran).
func (v *verifier) key(subject []byte) ([]byte, bool) {
	if k, ok := v.keys.Get(subject); ok {
		return k, true
	}
	got, err := v.src.SubjectKeys(v.ctx, []string{string(subject)}, false)
	if k, ok := got[string(subject)]; err == nil && ok {
		v.keys.Put(subject, k)
		return k, true
	}
	return nil, false
}

// noKey is the verdict on a logged row whose subject has no key: an
// erased subject (the erasure logged: checked as its leaf is met, and at
// the end that every erasure was), else a row moved to a subject without
// one, or a key lost.
func (v *verifier) noKey(i int64, l *Leaf, subject []byte, add func(*ErasedRows)) error {
	if _, ok := v.erased[string(subject)]; ok {
		v.rep.Erased++
		// Its rows, no longer re-derivable, must be the ones it had when
		// erased: checked against the erasure at the end.
		er := v.erasedRows[string(subject)]
		if er == nil {
			er = NewErasedRows()
			v.erasedRows[string(subject)] = er
		}
		add(er)
		return nil
	}
	return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref,
		Problem: fmt.Sprintf("the row's subject %q has no log key and was never erased (a row moved to another subject, or a key lost)", subject)}
}

// fingerprint is a keyed hash of a row's fields, each length-prefixed.
func fingerprint(seed maphash.Seed, ints []int64, strs ...[]byte) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var b [binary.MaxVarintLen64]byte
	for _, n := range ints {
		h.Write(b[:binary.PutVarint(b[:], n)])
	}
	for _, x := range strs {
		h.Write(b[:binary.PutUvarint(b[:], uint64(len(x)))])
		h.Write(x)
	}
	return h.Sum64()
}

func (v *verifier) subjectFingerprint(r *store.SubjectRow) uint64 {
	set := int64(0)
	if r.RegionSet {
		set = 1
	}
	return fingerprint(v.fpSeed, []int64{r.Seq, int64(r.At), set}, r.Subject, r.Region, r.Attrs)
}

func (v *verifier) consentFingerprint(r *store.ConsentRow) uint64 {
	return fingerprint(v.fpSeed, []int64{r.Seq, int64(r.At), int64(r.State)}, r.Subject, r.Purpose, r.Recipient, r.Source, r.Policy, r.Notice)
}

// seqRow finds the row a leaf of a sequence-numbered kind (impact marks,
// erasures, answers, lineage links) records — reading the store again once for a row stored while
// verification runs — and refuses a missing row or one logged twice; what
// names the row in the problem.
func seqRow[T any](v *verifier, i int64, l *Leaf, rows func() map[int64]*T, what string) (int64, *T, *VerifyError) {
	seq, err := strconv.ParseInt(l.Ref, 10, 64)
	r, ok := rows()[seq]
	if !ok && v.reload() == nil {
		r, ok = rows()[seq]
	}
	if err != nil || !ok {
		return 0, nil, &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: what + " it records is missing from the store"}
	}
	if v.seen[l.Kind][l.Ref] {
		return 0, nil, &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: what + " is logged twice"}
	}
	v.seen[l.Kind][l.Ref] = true
	return seq, r, nil
}

func mismatch(i int64, l *Leaf, stored, derived []byte) *VerifyError {
	return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the leaf does not match the row it records",
		Stored: hex.EncodeToString(stored), Derived: hex.EncodeToString(derived)}
}

// chunkData is a chunk of leaves and the rows they record, read ahead.
type chunkData struct {
	first   int64
	datas   [][]byte
	leaves  []*Leaf
	seqs    []int64 // the row sequence number of each consent or subject leaf
	consent []store.ConsentRow
	subject []store.SubjectRow
	err     error

	// Filled by check: whether each leaf matched its row, each leaf's
	// hash, each row's fingerprint.
	match      []bool
	hashes     [][32]byte
	consentFPs []uint64
	subjectFPs []uint64
}

// readAhead reads the leaves from..size a chunk of n at a time, with the
// rows they record, and sends them on out until done or stop.
func (v *verifier) readAhead(from, size, n int64, out chan<- *chunkData, stop <-chan struct{}) {
	defer close(out)
	for from < size {
		to := min(from+n, size)
		cd := &chunkData{first: from}
		idx := make([]int64, 0, to-from)
		cd.datas = make([][]byte, 0, to-from)
		var leafArena []byte
		cd.err = v.st.LogLeaves(v.ctx, from, to, func(i int64, d []byte) error {
			idx = append(idx, i)
			if cap(leafArena)-len(leafArena) < len(d) {
				leafArena = make([]byte, 0, max(1<<20, len(d)))
			}
			leafArena = append(leafArena, d...)
			cd.datas = append(cd.datas, leafArena[len(leafArena)-len(d):len(leafArena):len(leafArena)])
			return nil
		})
		if cd.err == nil {
			for k, i := range idx {
				if i != from+int64(k) {
					cd.err = &VerifyError{Index: from + int64(k), Problem: "the leaf is missing from the log"}
					break
				}
			}
		}
		if cd.err == nil && int64(len(idx)) != to-from {
			cd.err = &VerifyError{Index: from + int64(len(idx)), Problem: "the leaf is missing from the log"}
		}
		if cd.err == nil {
			cd.err = rowFormError(v.prepare(cd))
		}
		select {
		case out <- cd:
		case <-stop:
			return
		}
		if cd.err != nil {
			return
		}
		from = to
	}
}

// prepare decodes a chunk's leaves and reads the rows they record (the
// rows after those read for the chunks before, up to the highest the
// chunk names), their bytes in one arena.
func (v *verifier) prepare(cd *chunkData) error {
	cd.leaves = make([]*Leaf, len(cd.datas))
	cd.seqs = make([]int64, len(cd.datas))
	var maxConsent, maxSubject int64
	for k, d := range cd.datas {
		l, err := DecodeLeaf(d)
		if err != nil {
			return &VerifyError{Index: cd.first + int64(k), Problem: "the leaf does not decode", Stored: hex.EncodeToString(d)}
		}
		cd.leaves[k] = l
		if l.Kind == KindConsent || l.Kind == KindSubject {
			seq, err := strconv.ParseInt(l.Ref, 10, 64)
			if err != nil {
				return &VerifyError{Index: cd.first + int64(k), Kind: l.Kind, Ref: l.Ref, Problem: "the leaf names no sequence number"}
			}
			cd.seqs[k] = seq
			if l.Kind == KindConsent {
				maxConsent = max(maxConsent, seq)
			} else {
				maxSubject = max(maxSubject, seq)
			}
		}
	}
	// The rows' bytes go to one arena; as it may move while it grows, the
	// rows are pointed into it once all are read. (Sized as the chunk
	// before needed.)
	arena := make([]byte, 0, v.arenaHint)
	defer func() { v.arenaHint = max(v.arenaHint, cap(arena)) }()
	type span struct{ off, n int }
	var spans []span
	mark := func(b []byte) []byte {
		spans = append(spans, span{len(arena), len(b)})
		arena = append(arena, b...)
		return nil
	}
	if maxConsent > v.readConsent {
		err := v.st.ConsentRows(v.ctx, v.readConsent+1, maxConsent, func(r *store.ConsentRow) error {
			cd.consent = append(cd.consent, store.ConsentRow{Seq: r.Seq, Subject: mark(r.Subject), Purpose: mark(r.Purpose),
				Recipient: mark(r.Recipient), State: r.State, At: r.At, Source: mark(r.Source), Policy: mark(r.Policy), Notice: mark(r.Notice)})
			return nil
		})
		if err != nil {
			return err
		}
		v.readConsent = maxConsent
	}
	if maxSubject > v.readSubject {
		err := v.st.SubjectRows(v.ctx, v.readSubject+1, maxSubject, func(r *store.SubjectRow) error {
			cd.subject = append(cd.subject, store.SubjectRow{Seq: r.Seq, Subject: mark(r.Subject), At: r.At, RegionSet: r.RegionSet,
				Region: mark(r.Region), Attrs: mark(r.Attrs)})
			return nil
		})
		if err != nil {
			return err
		}
		v.readSubject = maxSubject
	}
	k := 0
	get := func() []byte {
		sp := spans[k]
		k++
		return arena[sp.off : sp.off+sp.n : sp.off+sp.n]
	}
	for i := range cd.consent {
		r := &cd.consent[i]
		r.Subject, r.Purpose, r.Recipient, r.Source, r.Policy, r.Notice = get(), get(), get(), get(), get(), get()
	}
	for i := range cd.subject {
		r := &cd.subject[i]
		r.Subject, r.Region, r.Attrs = get(), get(), get()
	}
	return nil
}

// rowIndex finds the row of sequence number seq among rows in sequence
// order (usually at seq - the first's).
func rowIndex(n int, seqAt func(int) int64, seq int64) (int, bool) {
	if n == 0 {
		return 0, false
	}
	if i := int(seq - seqAt(0)); i >= 0 && i < n && seqAt(i) == seq {
		return i, true
	}
	i := sort.Search(n, func(i int) bool { return seqAt(i) >= seq })
	return i, i < n && seqAt(i) == seq
}

// check checks a chunk's leaves against their rows.
func (v *verifier) check(cd *chunkData) error {
	first, datas, leaves := cd.first, cd.datas, cd.leaves
	consentRows, subjectRows := cd.consent, cd.subject
	findConsent := func(seq int64) (*store.ConsentRow, bool) {
		i, ok := rowIndex(len(consentRows), func(i int) int64 { return consentRows[i].Seq }, seq)
		if !ok {
			return nil, false
		}
		return &consentRows[i], true
	}
	findSubject := func(seq int64) (*store.SubjectRow, bool) {
		i, ok := rowIndex(len(subjectRows), func(i int) int64 { return subjectRows[i].Seq }, seq)
		if !ok {
			return nil, false
		}
		return &subjectRows[i], true
	}
	// The leaves the rows give (HMAC and two SHA-256 each), compared with
	// the stored ones, the leaves' hashes and the rows' fingerprints,
	// derived on every core, each worker in buffers of its own. What does
	// not match (or has no key here) is looked at again in order below.
	cd.match = make([]bool, len(leaves))
	cd.hashes = make([][32]byte, len(leaves))
	cd.consentFPs = make([]uint64, len(consentRows))
	cd.subjectFPs = make([]uint64, len(subjectRows))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf, pre []byte
			for k := w; k < len(leaves); k += workers {
				l := leaves[k]
				pre = append(append(pre[:0], 0), datas[k]...) // RFC 6962 leaf hash
				cd.hashes[k] = sha256.Sum256(pre)
				switch l.Kind {
				case KindConsent:
					if r, ok := findConsent(cd.seqs[k]); ok {
						if key, ok := v.keys.Get(r.Subject); ok {
							buf = ConsentLeaf(buf[:0], key, r)
							cd.match[k] = bytes.Equal(buf, datas[k])
						}
					}
				case KindSubject:
					if r, ok := findSubject(cd.seqs[k]); ok {
						if key, ok := v.keys.Get(r.Subject); ok {
							buf = subjectLeaf(buf[:0], key, r)
							cd.match[k] = bytes.Equal(buf, datas[k])
						}
					}
				}
			}
			for k := w; k < len(consentRows); k += workers {
				cd.consentFPs[k] = v.consentFingerprint(&consentRows[k])
			}
			for k := w; k < len(subjectRows); k += workers {
				cd.subjectFPs[k] = v.subjectFingerprint(&subjectRows[k])
			}
		}()
	}
	wg.Wait()
	for k := range consentRows {
		v.consentFP = append(v.consentFP, rowFP{consentRows[k].Seq, cd.consentFPs[k]})
	}
	for k := range subjectRows {
		r := &subjectRows[k]
		v.subjectFP = append(v.subjectFP, rowFP{r.Seq, cd.subjectFPs[k]})
		if id, ok := v.numbers[r.Seq]; ok && id == "" {
			v.numbers[r.Seq] = string(r.Subject)
		}
	}
	consentSeqs := make([]int64, len(consentRows))
	for k := range consentRows {
		consentSeqs[k] = consentRows[k].Seq
	}
	subjectSeqs := make([]int64, len(subjectRows))
	for k := range subjectRows {
		subjectSeqs[k] = subjectRows[k].Seq
	}
	var ci, si int // next unconsumed row of each kind
	for k, l := range leaves {
		i := first + int64(k)
		d := datas[k]
		switch l.Kind {
		case KindConsent, KindSubject:
			seq := cd.seqs[k]
			seqs, next, last := consentSeqs, &ci, &v.lastConsent
			if l.Kind == KindSubject {
				seqs, next, last = subjectSeqs, &si, &v.lastSubject
			}
			if seq <= *last {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: fmt.Sprintf("the row is logged out of order (after %d) or twice", *last)}
			}
			if *next < len(seqs) && seqs[*next] < seq {
				return &VerifyError{Index: i, Kind: l.Kind, Problem: fmt.Sprintf("%s row %d is not in the log (it appears before this leaf, which records %s)", l.Kind, seqs[*next], l.Ref)}
			}
			if *next >= len(seqs) || seqs[*next] != seq {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the row it records is missing from the store"}
			}
			*next++
			*last = seq
			var subject []byte
			var derive func(key []byte) []byte
			var erased func(*ErasedRows)
			if l.Kind == KindConsent {
				r, _ := findConsent(seq)
				subject = r.Subject
				derive = func(key []byte) []byte { return ConsentLeaf(nil, key, r) }
				erased = func(e *ErasedRows) { e.Consent(r) }
			} else {
				r, _ := findSubject(seq)
				subject = r.Subject
				derive = func(key []byte) []byte { return subjectLeaf(nil, key, r) }
				erased = func(e *ErasedRows) { e.Subject(r) }
			}
			if cd.match[k] { // the worker derived it, with the subject's key
				break
			}
			key, ok := v.key(subject)
			if !ok {
				if err := v.noKey(i, l, subject, erased); err != nil {
					return err
				}
				continue // counted as erased, not re-derived
			}
			if want := derive(key); !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
		case KindPolicy:
			p, ok := v.policies[l.Ref]
			if !ok && v.reload() == nil {
				p, ok = v.policies[l.Ref]
			}
			if !ok {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the policy version it records is missing from the store"}
			}
			if v.seen[KindPolicy][l.Ref] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the policy version is logged twice"}
			}
			v.seen[KindPolicy][l.Ref] = true
			if want := PolicyLeaf(p); !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
		case KindManifest:
			e, ok := v.exports[l.Ref]
			if !ok && v.reload() == nil {
				e, ok = v.exports[l.Ref]
			}
			if !ok {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the export it records is missing from the store"}
			}
			if v.seen[KindManifest][l.Ref] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the export is logged twice"}
			}
			v.seen[KindManifest][l.Ref] = true
			want, err := ManifestLeaf(e.ID, e.Manifest)
			if err != nil {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the stored manifest does not parse: " + err.Error()}
			}
			if !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
			var m struct {
				LogIndex     *int64  `json:"log_index"`
				SubjectsRoot *string `json:"subjects_root"`
			}
			json.Unmarshal(e.Manifest, &m)
			if m.LogIndex == nil || *m.LogIndex != i {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the stored manifest does not carry this log index"}
			}
			// Its subject set is checked against subjects_root at the end,
			// once every subject row (the subjects' numbers) has been read.
			v.roots[e.ID] = manifestRoot{index: i, root: m.SubjectsRoot}
		case KindImpact:
			seq, m, ve := seqRow(v, i, l, func() map[int64]*store.ImpactMark { return v.impacts }, "the impact status change")
			if ve != nil {
				return ve
			}
			key, ok := v.key([]byte(m.Subject))
			if !ok {
				if err := v.noKey(i, l, []byte(m.Subject), func(e *ErasedRows) { e.Impact(seq, m) }); err != nil {
					return err
				}
				continue // counted as erased, not re-derived
			}
			if want := ImpactLeaf(key, seq, m); !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
		case KindExport:
			e, ok := v.exports[l.Ref]
			if !ok && v.reload() == nil {
				e, ok = v.exports[l.Ref]
			}
			if !ok {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the export whose state it records is missing from the store"}
			}
			if !v.seen[KindManifest][l.Ref] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the export's state is logged before its manifest"}
			}
			if len(l.Names) == 0 || len(l.Names) > 2 || len(l.Names) == 2 && l.Names[1] != Backfilled {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: fmt.Sprintf("the leaf names %q: expected a status", l.Names)}
			}
			st := exportState{index: i, status: l.Names[0], backfilled: len(l.Names) == 2}
			if st.backfilled && len(v.states[e.ID]) > 0 {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "a backfilled state of an export whose state was logged before: it vouches for whatever the store held then"}
			}
			data, err := v.exportData(e)
			if err != nil {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: err.Error()}
			}
			if want := ExportLeaf(e.ID, st.status, data, st.backfilled); !bytes.Equal(want, d) {
				ve := mismatch(i, l, d, want)
				ve.Problem = "the export's state does not match what the store keeps of it (its directory and manifest path, subject set and kept records)"
				return ve
			}
			v.states[e.ID] = append(v.states[e.ID], st)
		case KindErasure:
			_, e, ve := seqRow(v, i, l, func() map[int64]*store.Erasure { return v.erasures }, "the erasure")
			if ve != nil {
				return ve
			}
			if want := ErasureLeaf(e.Seq, []byte(e.Subject), int64(e.At), e.Salt, e.RowsDigest); !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
			v.rep.Erasures++
			if _, ok := v.keys.Get([]byte(e.Subject)); ok {
				v.rep.ErasuresPending++
			}
		case KindCheckpoint:
			size, err := strconv.ParseInt(l.Ref, 10, 64)
			if err != nil || size > i {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the leaf records a checkpoint of a size the log did not have then"}
			}
			if v.seen[KindCheckpoint][l.Ref] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the checkpoint is recorded twice"}
			}
			v.seen[KindCheckpoint][l.Ref] = true
			note, ok := v.kept[size]
			if !ok {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: fmt.Sprintf("the checkpoint of size %d it records is missing from the store (a kept checkpoint deleted)", size)}
			}
			if want := CheckpointLeaf(size, note); !bytes.Equal(want, d) {
				ve := mismatch(i, l, d, want)
				ve.Problem = fmt.Sprintf("the kept checkpoint of size %d is not the one the log recorded", size)
				return ve
			}
			v.rep.RecordedCheckpoints++
		case KindNotice:
			n, ok := v.notices[l.Ref]
			if !ok && v.reload() == nil {
				n, ok = v.notices[l.Ref]
			}
			if !ok {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the notice it records is missing from the store"}
			}
			if v.seen[KindNotice][l.Ref] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the notice is logged twice"}
			}
			v.seen[KindNotice][l.Ref] = true
			if !v.seen[KindManifest][n.ExportID] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: fmt.Sprintf("the notice is logged before the manifest of export %s, which it is about", n.ExportID)}
			}
			// Its columns (what the outbox and the console read) are held
			// to its body, and the leaf derived from the body.
			want, err := NoticeLeaf(n)
			if err != nil {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the stored notice's columns do not say what its body says: " + err.Error()}
			}
			if !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
			if idx := noticeLogIndex(n.Body); idx == nil || *idx != i {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: "the stored notice does not carry this log index"}
			}
		case KindAnswer:
			_, a, ve := seqRow(v, i, l, func() map[int64]*store.NoticeAnswer { return v.answers }, "the notice answer")
			if ve != nil {
				return ve
			}
			if !v.seen[KindNotice][a.NoticeID] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: fmt.Sprintf("the answer is logged before notice %s, which it answers", a.NoticeID)}
			}
			if want := AnswerLeaf(a); !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
		case KindLineage:
			_, r, ve := seqRow(v, i, l, func() map[int64]*store.LineageRun { return v.lineage }, "the lineage link")
			if ve != nil {
				return ve
			}
			if !v.seen[KindManifest][r.ExportID] {
				return &VerifyError{Index: i, Kind: l.Kind, Ref: l.Ref, Problem: fmt.Sprintf("the lineage link is logged before the manifest of export %s, which it links to", r.ExportID)}
			}
			if want := LineageLeaf(r); !bytes.Equal(want, d) {
				return mismatch(i, l, d, want)
			}
		}
		v.rep.Leaves[l.Kind.String()]++
	}
	if ci < len(consentSeqs) {
		return &VerifyError{Index: first + int64(len(datas)), Kind: KindConsent, Problem: fmt.Sprintf("consent row %d is not in the log", consentSeqs[ci])}
	}
	if si < len(subjectSeqs) {
		return &VerifyError{Index: first + int64(len(datas)), Kind: KindSubject, Problem: fmt.Sprintf("subject row %d is not in the log", subjectSeqs[si])}
	}
	return nil
}

// checkSubjectSets re-derives each export's subjects_root from the
// subject set the store keeps for it (what report subject and impact
// read) and compares it with its logged manifest's: the subjects by their
// numbers (from the subject rows read), their keys, their pseudonyms —
// derived on every core. A set naming a number that is no subject's first
// event, or a subject whose key was erased, cannot be re-derived and is
// counted instead (its bytes are still vouched for by the export's state).
func (v *verifier) checkSubjectSets() error {
	v.rep.SubjectSets, v.rep.SubjectSetsSkipped = 0, 0
	for id, mr := range v.roots {
		e, ok := v.exports[id]
		if !ok || len(e.Subjects) == 0 || mr.root == nil {
			continue
		}
		set, err := inclusion.DecodeSubjects(e.Subjects)
		if err != nil {
			return &VerifyError{Index: mr.index, Kind: KindManifest, Ref: id, Problem: "the export's stored subject set does not decode: " + err.Error()}
		}
		ids := make([]string, len(set.Numbers))
		keys := make([][]byte, len(set.Numbers))
		derivable := true
		for k, n := range set.Numbers {
			ids[k] = v.numbers[n]
			key, ok := v.keys.Get([]byte(ids[k]))
			if ids[k] == "" || !ok {
				derivable = false
				break
			}
			keys[k] = key
		}
		if !derivable {
			v.rep.SubjectSetsSkipped++
			continue
		}
		tree := &SubjectsTree{Leaves: make([][32]byte, len(ids))}
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := w; k < len(ids); k += workers {
					tree.Leaves[k] = Pseudonym(ExportSalt(keys[k], id), []byte(ids[k]))
				}
			}()
		}
		wg.Wait()
		slices.SortFunc(tree.Leaves, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
		if got := hex.EncodeToString(tree.Root()); got != *mr.root {
			return &VerifyError{Index: mr.index, Kind: KindManifest, Ref: id,
				Problem: fmt.Sprintf("the export's stored subject set gives subjects_root %s, the manifest says %s", got, *mr.root)}
		}
		v.rep.SubjectSets++
	}
	return nil
}

// subjectLeaf derives a subject row's leaf, its attribute names read from
// the row.
func subjectLeaf(dst, key []byte, r *store.SubjectRow) []byte {
	names, err := consent.AttributeNames(r.Attrs)
	if err != nil {
		return nil
	}
	return SubjectLeaf(dst, key, r, names)
}

// exportData is an export's data digest, recomputed from the subject set
// and the kept records the store holds.
func (v *verifier) exportData(e *store.Export) ([]byte, error) {
	if d, ok := v.data[e.ID]; ok {
		return d, nil
	}
	d, err := ExportDataDigest(e.Dir, e.ManifestPath, e.Subjects, func(fn func([]byte) error) error { return v.st.ExportRecords(v.ctx, e.ID, fn) })
	if err != nil {
		return nil, fmt.Errorf("the export's kept records: %v", err)
	}
	v.data[e.ID] = d
	return d, nil
}

// checkExports checks what the log does not hold of each export against
// what it does: its status against its last logged state, and the columns
// report and impact read against its logged manifest.
func (v *verifier) checkExports() error {
	v.rep.Exports = 0
	for id, e := range v.exports {
		states := v.states[id]
		if len(states) == 0 {
			return &VerifyError{Index: -1, Row: "export " + id, Problem: "the export's state (status, subject set, kept records) is not in the log"}
		}
		if last := states[len(states)-1]; last.status != e.Status {
			return &VerifyError{Index: -1, Row: "export " + id,
				Problem: fmt.Sprintf("the store says %s, the log's last entry for it (index %d) says %s: a status changed without its log entry", e.Status, last.index, last.status)}
		}
		var m struct {
			ExportID  string `json:"export_id"`
			CreatedAt string `json:"created_at"`
			Purpose   string `json:"purpose"`
			Recipient string `json:"recipient"`
			AsOf      string `json:"as_of"`
		}
		if err := json.Unmarshal(e.Manifest, &m); err != nil {
			return &VerifyError{Index: -1, Row: "export " + id, Problem: "the stored manifest does not parse: " + err.Error()}
		}
		for _, c := range []struct{ what, row, manifest string }{
			{"export id", e.ID, m.ExportID}, {"purpose", e.Purpose, m.Purpose}, {"recipient", e.Recipient, m.Recipient},
			{"as-of time", e.AsOf.String(), m.AsOf}, {"creation time", e.CreatedAt.String(), m.CreatedAt},
		} {
			if c.manifest != "" && c.row != c.manifest {
				if t, err := timestamp.Parse(c.manifest); err == nil && t.String() == c.row {
					continue
				}
				return &VerifyError{Index: -1, Row: "export " + id, Problem: fmt.Sprintf("the store's %s %q is not the logged manifest's %q", c.what, c.row, c.manifest)}
			}
		}
		v.rep.Exports++
	}
	return nil
}

// checkDerived compares the store's derived copies of the event rows
// (SQLite's packs, which views and so exports are read from) with the rows
// checked: the same fields, every row from the first on, none twice, none
// made up.
func (v *verifier) checkDerived() error {
	type kind struct {
		what, table string
		fps         []rowFP
		each        func(fn func(seq int64, fp uint64) error) error
		row         func(seq int64) (uint64, bool, error) // a row read again: its fingerprint
	}
	for _, k := range []kind{
		{"subject", "subject_packs", v.subjectFP, func(fn func(int64, uint64) error) error {
			return v.st.DerivedSubjectRows(v.ctx, func(r *store.SubjectRow) error { return fn(r.Seq, v.subjectFingerprint(r)) })
		}, func(seq int64) (fp uint64, ok bool, err error) {
			err = v.st.SubjectRows(v.ctx, seq, seq, func(r *store.SubjectRow) error { fp, ok = v.subjectFingerprint(r), true; return nil })
			return
		}},
		{"consent", "consent_packs", v.consentFP, func(fn func(int64, uint64) error) error {
			return v.st.DerivedConsentRows(v.ctx, func(r *store.ConsentRow) error { return fn(r.Seq, v.consentFingerprint(r)) })
		}, func(seq int64) (fp uint64, ok bool, err error) {
			err = v.st.ConsentRows(v.ctx, seq, seq, func(r *store.ConsentRow) error { fp, ok = v.consentFingerprint(r), true; return nil })
			return
		}},
	} {
		if k.what == "subject" {
			v.rep.PackedRows = 0
		}
		next := 0
		var beyond []rowFP // packed events after the last row read
		err := k.each(func(seq int64, fp uint64) error {
			if next >= len(k.fps) {
				beyond = append(beyond, rowFP{seq, fp})
				return nil
			}
			want := k.fps[next]
			switch {
			case seq < want.seq:
				return &VerifyError{Index: -1, Row: fmt.Sprintf("%s: %s event %d", k.table, k.what, seq), Problem: "the packed copy holds an event that is not a row, or twice"}
			case seq > want.seq:
				return &VerifyError{Index: -1, Row: fmt.Sprintf("%s: %s event %d", k.table, k.what, want.seq), Problem: "the packed copy leaves out a row: views read from it do not see it"}
			case fp != want.fp:
				return &VerifyError{Index: -1, Row: fmt.Sprintf("%s: %s event %d", k.table, k.what, seq), Problem: "the packed copy differs from the row: views, and so exports, read the copy"}
			}
			next++
			v.rep.PackedRows++
			return nil
		})
		var ve *VerifyError
		if errors.As(err, &ve) {
			return ve
		}
		if err != nil {
			return &VerifyError{Index: -1, Row: k.table, Problem: "the packed copy is not as written: " + strings.TrimPrefix(err.Error(), k.table+": ")}
		}
		// Events packed after the rows were read (a live store), each
		// checked against its row now; one without a row is made up.
		for _, b := range beyond {
			fp, ok, err := k.row(b.seq)
			if err != nil {
				return err
			}
			switch {
			case !ok:
				return &VerifyError{Index: -1, Row: fmt.Sprintf("%s: %s event %d", k.table, k.what, b.seq), Problem: "the packed copy holds an event that is not a row: views, and so exports, read the copy"}
			case fp != b.fp:
				return &VerifyError{Index: -1, Row: fmt.Sprintf("%s: %s event %d", k.table, k.what, b.seq), Problem: "the packed copy differs from the row: views, and so exports, read the copy"}
			}
			v.rep.PackedRows++
		}
	}
	return nil
}

// sortedBy is a map's values ordered by seq: the first of them is
// reported, whatever the map's order.
func sortedBy[K comparable, T any](m map[K]*T, seq func(*T) int64) []*T {
	out := make([]*T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *T) int { return cmp.Compare(seq(a), seq(b)) })
	return out
}

// StoredNoticeLeaf derives the leaf of a notice stored at log index index
// (NoticeLeaf: its columns held to its body), after checking that its body
// carries that index, as a manifest carries its own: what a store checks
// a finished notice with before keeping it.
func StoredNoticeLeaf(n *store.Notice, index int64) ([]byte, error) {
	leaf, err := NoticeLeaf(n)
	if err != nil {
		return nil, err
	}
	if idx := noticeLogIndex(n.Body); idx == nil || *idx != index {
		return nil, fmt.Errorf("notice %s: its body does not carry its log index %d", n.ID, index)
	}
	return leaf, nil
}

// noticeLogIndex is the log index a notice's body carries (nil: none).
func noticeLogIndex(body []byte) *int64 {
	var b struct {
		LogIndex *int64 `json:"log_index"`
	}
	if json.Unmarshal(body, &b) != nil {
		return nil
	}
	return b.LogIndex
}

// rowFormError makes a row stored in a form the store never writes a
// VerifyError naming the row.
func rowFormError(err error) error {
	if errors.Is(err, store.ErrRowForm) {
		return &VerifyError{Index: -1, Row: strings.TrimSuffix(err.Error(), ": "+store.ErrRowForm.Error()),
			Problem: store.ErrRowForm.Error() + ": it reads the same here, but the queries views are loaded with compare it otherwise"}
	}
	return err
}

// finish checks that no row was stored without its leaf.
func (v *verifier) finish(size int64) error {
	var extra error
	err := v.st.ConsentRows(v.ctx, v.lastConsent+1, math.MaxInt64, func(r *store.ConsentRow) error {
		extra = &VerifyError{Index: size, Kind: KindConsent, Problem: fmt.Sprintf("consent row %d is not in the log", r.Seq)}
		return extra
	})
	if extra != nil {
		return extra
	} else if err != nil {
		return err
	}
	err = v.st.SubjectRows(v.ctx, v.lastSubject+1, math.MaxInt64, func(r *store.SubjectRow) error {
		extra = &VerifyError{Index: size, Kind: KindSubject, Problem: fmt.Sprintf("subject row %d is not in the log", r.Seq)}
		return extra
	})
	if extra != nil {
		return extra
	} else if err != nil {
		return err
	}
	for version := range v.policies {
		if !v.seen[KindPolicy][version] {
			return &VerifyError{Index: size, Kind: KindPolicy, Problem: fmt.Sprintf("policy version %s is not in the log", version)}
		}
	}
	for id := range v.exports {
		if !v.seen[KindManifest][id] {
			return &VerifyError{Index: size, Kind: KindManifest, Problem: fmt.Sprintf("export %s is not in the log", id)}
		}
	}
	for seq := range v.impacts {
		if !v.seen[KindImpact][strconv.FormatInt(seq, 10)] {
			return &VerifyError{Index: size, Kind: KindImpact, Problem: fmt.Sprintf("impact status change %d is not in the log", seq)}
		}
	}
	for _, n := range sortedBy(v.notices, func(n *store.Notice) int64 { return n.Seq }) {
		if !v.seen[KindNotice][n.ID] {
			return &VerifyError{Index: size, Kind: KindNotice, Problem: fmt.Sprintf("notice %s (%d) is not in the log", n.ID, n.Seq)}
		}
	}
	for _, a := range sortedBy(v.answers, func(a *store.NoticeAnswer) int64 { return a.Seq }) {
		if !v.seen[KindAnswer][strconv.FormatInt(a.Seq, 10)] {
			return &VerifyError{Index: size, Kind: KindAnswer, Problem: fmt.Sprintf("answer %d to notice %s is not in the log", a.Seq, a.NoticeID)}
		}
	}
	for _, r := range sortedBy(v.lineage, func(r *store.LineageRun) int64 { return r.Seq }) {
		if !v.seen[KindLineage][strconv.FormatInt(r.Seq, 10)] {
			return &VerifyError{Index: size, Kind: KindLineage, Problem: fmt.Sprintf("lineage link %d (job %s/%s, run %s, export %s) is not in the log", r.Seq, r.Namespace, r.Job, r.RunID, r.ExportID)}
		}
	}
	for seq, e := range v.erasures {
		if !v.seen[KindErasure][strconv.FormatInt(seq, 10)] {
			return &VerifyError{Index: size, Kind: KindErasure, Problem: fmt.Sprintf("the erasure of %s (%d) is not in the log", e.Subject, seq)}
		}
		if _, pending := v.keys.Get([]byte(e.Subject)); pending {
			continue // its rows were re-derived with the key still there
		}
		got := NewErasedRows().Sum()
		if er := v.erasedRows[e.Subject]; er != nil {
			got = er.Sum()
		}
		if !bytes.Equal(got, e.RowsDigest) {
			return &VerifyError{Index: -1, Row: fmt.Sprintf("erasure %d", seq),
				Problem: fmt.Sprintf("the rows of the erased subject %q are not those it had when erased: a row moved onto it, or one of its rows edited", e.Subject)}
		}
	}
	if err := v.checkExports(); err != nil {
		return err
	}
	if err := v.checkSubjectSets(); err != nil {
		return err
	}
	return v.checkDerived()
}
