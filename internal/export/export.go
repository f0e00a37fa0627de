package export

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/redact"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Options configure one export.
type Options struct {
	Plan     *decision.Plan
	Fields   record.Fields
	Inputs   []string
	Out      string
	Rejects  string // "" for none
	Manifest string // "" for Out + ".manifest.json"
	Format   string // "jsonl" (default) or "parquet"
	// InFormat is how the inputs are read: "jsonl", "parquet", or "" for
	// by extension (.parquet is Parquet, anything else JSON Lines). From
	// Parquet inputs, which must share one schema, the output is Parquet
	// with that schema, each included row copied as it was (SPEC §5), and
	// Format is ignored.
	InFormat string
	// Redact, when not nil, scans the configured text fields of every
	// included record and replaces, hashes or drops what its detectors
	// find; RedactKey is the secret its hash operator uses.
	Redact    *redact.Config
	RedactKey []byte
	Workers   int // 0 for the number of CPUs
	// Progress, when not nil, receives a progress line about four times a
	// second (with \r, for a terminal): the phase (records, then
	// finishing), and in the records pass the input read and an estimate
	// of the time left; at the end, a summary line.
	Progress io.Writer
	// Now is the export's creation time; ID its id ("" to generate one).
	Now timestamp.Time
	ID  string
	// Log is the log's size and root as the export starts (the manifest's
	// "log").
	Log *LogState
	// BeforeRename runs after the outputs are complete on disk under their
	// temporary names and before any is renamed into place: the hook where
	// the export is appended to the log and recorded. It may complete the
	// manifest (subjects_root, log_index, signature); the manifest file is
	// written after it. An error abandons the export and leaves no output.
	BeforeRename func(m *Manifest, inc *Included) error
	// Prepare, when not nil, is called with the export's id and included
	// subjects as soon as the records pass has ended, before the outputs
	// are synced to disk: the work it starts (the gate's subject keys and
	// subjects_root) runs while they are, and BeforeRename waits for it.
	Prepare func(exportID string, s *inclusion.Subjects)
}

// Included is what an export included, as the store keeps it (SPEC §5:
// what report subject and impact answer from). It is valid during the
// BeforeRename call it is passed to.
type Included struct {
	Subjects *inclusion.Subjects
	// Records are the included records' decision inputs, in output order,
	// as inclusion chunks.
	Records *inclusion.Spool
}

// ManifestPath returns where the manifest goes.
func (o *Options) ManifestPath() string {
	if o.Manifest != "" {
		return o.Manifest
	}
	return DefaultManifest(o.Out)
}

const (
	batchSize = 1 << 20
	maxLine   = consent.MaxLine
)

// batch is a run of whole lines from one input file.
type batch struct {
	seq  int
	file int
	line int // number of the first line
	data []byte
	// results, filled by a worker
	out      []byte
	rejects  []byte
	leaves   []byte // 32-byte leaf hashes, in output order
	chunk    inclusion.Chunk
	records  []byte // the included records' chunk (inclusion), in output order
	read     int64
	included int64
	reasons  reasonCounts
	tooLong  []int // line numbers of over-long lines found by the reader
	// From a Parquet input: rows[k] is row b.line+k, kept lists, in
	// output order, the rows the worker included, and pq the rest
	// (parquet.go); data then holds only the lines of rows read the JSON
	// way.
	rows []parquet.Row
	kept []int32
	pq   parquetBatch
}

// Run performs the export. Nothing appears at the output paths unless the
// whole export succeeds; on failure every temporary file is removed.
func Run(ctx context.Context, o Options) (*Manifest, error) {
	if o.Format == "" {
		o.Format = "jsonl"
	}
	if o.Format != "jsonl" && o.Format != "parquet" {
		return nil, fmt.Errorf("output format %q: expected jsonl or parquet", o.Format)
	}
	if o.Redact != nil {
		read := []string{o.Fields.ID, o.Fields.Time, o.Fields.Category}
		for _, s := range o.Fields.Subjects {
			read = append(read, s.Path)
		}
		for _, f := range o.Redact.Fields {
			for _, r := range read {
				if r != "" && (f == r || strings.HasPrefix(r, f+".") || strings.HasPrefix(f, r+".")) {
					return nil, fmt.Errorf("%s: field %s is read by the export (%s) and cannot be redacted: records_root and the decisions depend on it", o.Redact.File, f, r)
				}
			}
		}
		o.Fields.Scan = append([]string(nil), o.Redact.Fields...)
	}
	if err := o.Fields.Validate(); err != nil {
		return nil, err
	}
	if len(o.Inputs) == 0 {
		return nil, fmt.Errorf("at least one input file is required")
	}
	if o.InFormat != "" && o.InFormat != "jsonl" && o.InFormat != "parquet" {
		return nil, fmt.Errorf("input format %q: expected jsonl or parquet", o.InFormat)
	}
	parquetIn := record.IsParquet(o.Inputs[0], o.InFormat)
	for _, in := range o.Inputs[1:] {
		if record.IsParquet(in, o.InFormat) != parquetIn {
			return nil, fmt.Errorf("%s and %s: the inputs of one export are all Parquet or all JSON Lines (the output of Parquet inputs is Parquet with their schema)", o.Inputs[0], in)
		}
	}
	if parquetIn {
		if o.Redact != nil {
			return nil, fmt.Errorf("redaction edits JSON text and a Parquet input's rows are copied unchanged: redact JSON Lines inputs, or leave out --redact")
		}
		o.Format = "parquet"
	}
	outs := []string{o.Out, o.ManifestPath()}
	if o.Rejects != "" {
		outs = append(outs, o.Rejects)
	}
	for i, a := range outs {
		for _, b := range append(outs[i+1:], o.Inputs...) {
			if sameFile(a, b) {
				return nil, fmt.Errorf("%s is named twice among the inputs and outputs: an export never overwrites its own input or writes two outputs to one file", a)
			}
		}
	}
	var inputBytes int64
	for _, in := range o.Inputs {
		size, err := inputSize(ctx, in)
		if err != nil {
			return nil, err
		}
		inputBytes += size
	}
	if err := checkOutputs(ctx, map[string]string{"output": o.Out, "manifest": o.ManifestPath(), "rejects file": o.Rejects}); err != nil {
		return nil, err
	}
	// What an export killed before its renames left of these outputs.
	for _, f := range []string{o.Out, o.ManifestPath(), o.Rejects} {
		if f != "" && !blobio.IsURL(f) {
			atomicfile.CleanStale(f)
		}
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		o.ID = "exp-" + o.Now.Time().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	}
	e := &exporter{ctx: ctx, o: o, plan: o.Plan, parquetIn: parquetIn}
	if o.Progress != nil {
		e.progress = startProgress(o.Progress, PhaseRecords, inputBytes)
	}
	m, err := e.run(ctx)
	if e.progress != nil {
		final := ""
		if err == nil {
			final = summaryLine(m.Counts.Read, e.bytesIn, time.Since(e.progress.start))
		}
		e.progress.end(final)
	}
	return m, err
}

type exporter struct {
	ctx  context.Context // the files' (an object's reads and upload)
	o    Options
	plan *decision.Plan

	outs   []*output         // output, rejects, manifest: until committed
	finals map[string]string // a local temporary file's final name

	progress *progressLine // nil when not shown
	bytesIn  int64         // input read in the records pass

	parquetIn bool
	schema    *parquet.Schema // the Parquet inputs' schema
}

func (e *exporter) run(ctx context.Context) (m *Manifest, err error) {
	defer func() {
		if err != nil {
			for tmp, final := range e.finals { // the user's names, not the temporary ones
				err = atomicfile.Named(err, tmp, final)
			}
			e.cleanup()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Every output's temporary file first, the manifest's too: a folder
	// that is missing or not writable fails here, before anything is read
	// or logged (SPEC §5).
	outF, err := e.tempFile(e.o.Out)
	if err != nil {
		return nil, outputError(e.o.Out, err)
	}
	defer outF.Close()
	var rejF *output
	if e.o.Rejects != "" {
		if rejF, err = e.tempFile(e.o.Rejects); err != nil {
			return nil, outputError(e.o.Rejects, err)
		}
		defer rejF.Close()
	}
	manF, err := e.tempFile(e.o.ManifestPath())
	if err != nil {
		return nil, outputError(e.o.ManifestPath(), err)
	}
	defer manF.Close()

	// Enough batches in flight (each about 1 MiB) that the reader runs
	// ahead of the workers, bounded so that memory does not grow with
	// --workers on a large machine.
	inFlight := min(e.o.Workers*12+4, 64)
	work := make(chan *batch, inFlight/2)
	done := make(chan *batch, inFlight/2)
	free := make(chan *batch, inFlight)
	for i := 0; i < cap(free); i++ {
		free <- &batch{}
	}
	if e.parquetIn {
		if e.schema, err = parquetSchema(e.ctx, e.o.Inputs[0]); err != nil {
			return nil, err
		}
	}
	inputDigests := make([]FileDigest, len(e.o.Inputs))
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader
		defer wg.Done()
		defer close(work)
		readErr = e.read(ctx, work, free, inputDigests)
		if readErr != nil {
			cancel()
		}
	}()
	nWorkers := e.o.Workers
	var wwg sync.WaitGroup
	counts := make([]uint32, e.plan.View().Len()) // records included per subject, shared
	workerVersions := make([][]bool, nWorkers)
	workerRedactions := make([]redact.Counts, nWorkers)
	var members *redact.Members
	if e.o.Redact != nil && e.o.Redact.Operators[redact.Member] != redact.Off {
		var err error
		if members, err = membersOf(e.plan.View()); err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
	}
	for w := 0; w < nWorkers; w++ {
		wwg.Add(1)
		go func(w int) {
			defer wwg.Done()
			wk := newWorker(e.plan, e.o.Fields, e.o.Inputs, e.o.Rejects != "", counts)
			if e.parquetIn {
				wk.rowPrefixes(e.o.Inputs)
			}
			if e.o.Redact != nil {
				wk.redactor = redact.NewRedactor(e.o.Redact, e.o.RedactKey, members)
			}
			for b := range work {
				wk.process(b)
				select {
				case done <- b:
				case <-ctx.Done():
				}
			}
			workerVersions[w], workerRedactions[w] = wk.versions, wk.redacted
		}(w)
	}
	go func() { wwg.Wait(); close(done) }()

	outHash, rejHash := sha256.New(), sha256.New()
	sink := newSink(e.o.Format, outF, outHash, e.schema)
	var rejW io.Writer
	if rejF != nil {
		rejW = &hashWriter{w: rejF, h: rejHash}
	}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	totals := Counts{ExcludedByReason: map[string]int64{}}
	pending := map[int]*batch{}
	records := inclusion.NewSpool(0)
	defer records.Close()
	next := 0
	var bytesIn int64
	var writeErr error
	for b := range done {
		pending[b.seq] = b
		for {
			cur, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if writeErr == nil {
				writeErr = e.consume(cur, sink, rejW, tree, &totals)
				if writeErr != nil {
					cancel()
				}
				if writeErr == nil && len(cur.records) > 0 {
					if writeErr = records.Add(cur.records); writeErr != nil {
						cancel()
					}
				}
			}
			bytesIn += cur.inputBytes()
			select {
			case free <- cur:
			default:
			}
		}
		e.progress.add(bytesIn, totals.Read)
	}
	e.bytesIn = bytesIn
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	if writeErr != nil {
		return nil, writeErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.progress.setPhase(PhaseFinishing)
	if err := sink.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", e.o.Out, err)
	}

	root := rfc6962.DefaultHasher.EmptyRoot()
	if tree.End() > 0 {
		if root, err = tree.GetRootHash(nil); err != nil {
			return nil, err
		}
	}
	// Merge what the workers saw.
	used := make([]bool, e.plan.Versions().Len())
	for w := range workerVersions {
		for v, u := range workerVersions[w] {
			used[v] = used[v] || u
		}
	}
	view := e.plan.View()
	subjectSet := &inclusion.Subjects{}
	for i, c := range counts {
		if c > 0 {
			subjectSet.Numbers = append(subjectSet.Numbers, view.Number(i))
			subjectSet.Records = append(subjectSet.Records, c)
			if e.o.BeforeRename != nil || e.o.Prepare != nil { // the ids only the hooks read (subjects_root)
				subjectSet.IDs = append(subjectSet.IDs, view.ID(i))
			}
		}
	}
	subjectSet.Sort()
	nSubjects := len(subjectSet.Numbers)
	if e.o.Prepare != nil {
		e.o.Prepare(e.o.ID, subjectSet)
	}

	// The output and the rejects file go to disk at once.
	rejSynced := make(chan error, 1)
	if rejF != nil {
		go func() { rejSynced <- rejF.finish() }()
	} else {
		rejSynced <- nil
	}
	if err := outF.finish(); err != nil {
		<-rejSynced
		return nil, err
	}
	if err := <-rejSynced; err != nil {
		return nil, err
	}
	outSize := outF.size()
	t := e.plan.Target()
	m = &Manifest{
		ExportID: e.o.ID, CreatedAt: e.o.Now, Purpose: t.Purpose, Recipient: t.Recipient,
		RecipientClass: t.Class.String(), AsOf: e.plan.View().AsOf, Log: e.o.Log,
		Inputs:      inputDigests,
		Output:      FileDigest{File: e.o.Out, SHA256: hex.EncodeToString(outHash.Sum(nil)), Bytes: outSize, Format: e.o.Format},
		Fields:      fieldsUsed(e.o.Fields),
		Counts:      totals,
		Subjects:    nSubjects,
		RecordsRoot: hex.EncodeToString(root),
	}
	for v, u := range used {
		if u && v > 0 {
			d := e.plan.Versions().Table(v).Doc
			m.Policies = append(m.Policies, PolicyUsed{Version: d.Version, SHA256: d.Digest()})
		}
	}
	if m.Policies == nil {
		d := e.plan.Versions().At(m.AsOf).Doc
		m.Policies = []PolicyUsed{{Version: d.Version, SHA256: d.Digest()}}
	}
	if e.o.Redact != nil {
		var total redact.Counts
		for w := range workerRedactions {
			total.Add(&workerRedactions[w])
		}
		m.Redaction = &Redaction{Config: e.o.Redact.File, SHA256: e.o.Redact.Digest(), Fields: e.o.Redact.Fields, Found: total.Map()}
	}
	if rejF != nil {
		m.Rejects = &FileDigest{File: e.o.Rejects, SHA256: hex.EncodeToString(rejHash.Sum(nil)), Bytes: rejF.size()}
	}
	if e.o.BeforeRename != nil {
		if err := e.o.BeforeRename(m, &Included{Subjects: subjectSet, Records: records}); err != nil {
			return nil, err
		}
	}
	body, err := MarshalManifest(m)
	if err != nil {
		return nil, err
	}
	if _, err := manF.Write(body); err != nil {
		return nil, err
	}
	if err := manF.finish(); err != nil {
		return nil, err
	}
	// Outputs first, the manifest last.
	if err := commitAll(e.outs); err != nil {
		return nil, err
	}
	e.outs = nil
	return m, nil
}

func fieldsUsed(f record.Fields) FieldsUsed {
	u := FieldsUsed{ID: f.ID, Time: f.Time, Category: f.FixedCategory}
	if f.Category != "" {
		u.Category = "field:" + f.Category
	}
	for _, s := range f.Subjects {
		u.Subjects = append(u.Subjects, s.Role.String()+"="+s.Path)
	}
	return u
}

func (e *exporter) consume(b *batch, sink sink, rejW io.Writer, tree *compact.Range, c *Counts) error {
	if err := sink.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", e.o.Out, err)
	}
	if rejW != nil && len(b.rejects) > 0 {
		if _, err := rejW.Write(b.rejects); err != nil {
			return fmt.Errorf("write %s: %w", e.o.Rejects, err)
		}
	}
	for i := 0; i+32 <= len(b.leaves); i += 32 {
		if err := tree.Append(b.leaves[i:i+32:i+32], nil); err != nil {
			return err
		}
	}
	c.Read += b.read
	c.Included += b.included
	c.Excluded += b.read - b.included
	for i, r := range b.reasons.names {
		c.ExcludedByReason[r] += b.reasons.counts[i]
	}
	return nil
}

// read splits the inputs into batches of whole lines, hashing each file. A
// line longer than the limit is not buffered: it becomes a batch that only
// says which line was too long, and the rest of it is skipped.
func (e *exporter) read(ctx context.Context, work chan<- *batch, free <-chan *batch, digests []FileDigest) error {
	seq := 0
	get := func() (*batch, bool) {
		select {
		case b := <-free:
			e.reset(b)
			b.data, b.tooLong = b.data[:0], b.tooLong[:0]
			b.rows, b.kept = b.rows[:0], b.kept[:0] // a Parquet batch's rows keep their arrays for the next (readParquet)
			if cap(b.data) < batchSize {
				b.data = make([]byte, 0, batchSize)
			}
			return b, true
		case <-ctx.Done():
			return nil, false
		}
	}
	send := func(b *batch, fi, line int) bool {
		b.seq, b.file, b.line = seq, fi, line
		seq++
		select {
		case work <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for fi, path := range e.o.Inputs {
		read := e.readFile
		if e.parquetIn {
			read = e.readParquet
		}
		if err := read(fi, path, get, send, digests); err != nil || ctx.Err() != nil {
			return err
		}
	}
	return nil
}

func (e *exporter) readFile(fi int, path string, get func() (*batch, bool), send func(*batch, int, int) bool, digests []FileDigest) error {
	f, err := openInput(e.ctx, path)
	if err != nil {
		return fmt.Errorf("input %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	var size int64
	line := 1 // number of the first line in b.data
	skip := false
	b, ok := get()
	if !ok {
		return nil
	}
	// A leading byte-order mark is hashed but not read.
	var head [3]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("input %s: %w", path, err)
	}
	h.Write(head[:n])
	size += int64(n)
	if string(head[:n]) != "\xef\xbb\xbf" {
		b.data = append(b.data, head[:n]...)
	}
	for {
		if cap(b.data)-len(b.data) < 64<<10 {
			nb := make([]byte, len(b.data), 2*cap(b.data))
			copy(nb, b.data)
			b.data = nb
		}
		n, rerr := f.Read(b.data[len(b.data):cap(b.data)])
		h.Write(b.data[len(b.data) : len(b.data)+n])
		size += int64(n)
		b.data = b.data[:len(b.data)+n]
		if skip {
			i := bytes.IndexByte(b.data, '\n')
			if i < 0 {
				b.data = b.data[:0]
			} else {
				b.data = b.data[:copy(b.data, b.data[i+1:])]
				skip = false
				line++
			}
		}
		eof := rerr == io.EOF
		if rerr != nil && !eof {
			return fmt.Errorf("input %s: %w", path, rerr)
		}
		if !skip && len(b.data) > 0 {
			cut := bytes.LastIndexByte(b.data, '\n') + 1
			switch {
			case eof:
				cut = len(b.data)
			case cut == 0 && len(b.data) > maxLine:
				// Over-long line: report it and skip to its end.
				b.data = b.data[:0]
				b.tooLong = append(b.tooLong, line)
				if !send(b, fi, line) {
					return nil
				}
				if b, ok = get(); !ok {
					return nil
				}
				skip = true
				continue
			case cut == 0 || len(b.data) < batchSize/2:
				cut = 0
			}
			if cut > 0 {
				nb, ok := get()
				if !ok {
					return nil
				}
				nb.data = append(nb.data, b.data[cut:]...)
				b.data = b.data[:cut]
				next := line + bytes.Count(b.data, []byte{'\n'})
				if !send(b, fi, line) {
					return nil
				}
				b, line = nb, next
			}
		}
		if eof {
			break
		}
	}
	send(b, fi, line)
	digests[fi] = FileDigest{File: path, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: size}
	return nil
}

func (e *exporter) reset(b *batch) {
	b.out, b.rejects, b.leaves, b.records = b.out[:0], b.rejects[:0], b.leaves[:0], b.records[:0]
	b.chunk.Reset()
	b.read, b.included = 0, 0
	b.reasons.reset()
}

// summaryLine is the progress line's last: records and bytes read, the
// export's time from the records pass to the last rename, its rate.
func summaryLine(records, bytesIn int64, d time.Duration) string {
	return fmt.Sprintf("export: %s records, %.1f MB read in %.1fs (%.0f MB/s)", strconv.FormatInt(records, 10),
		float64(bytesIn)/1e6, d.Seconds(), float64(bytesIn)/1e6/max(d.Seconds(), 1e-9))
}

// MemberAttributes are the subject attributes the member detector matches
// mentions by; a view for an export that redacts members must keep them.
var MemberAttributes = []string{"handle", "name"}

// membersOf indexes every subject of a view by its handle and name as of
// the view's time.
func membersOf(v *consent.View) (*redact.Members, error) {
	slot := map[string]int{}
	for i, n := range v.AttrNames {
		slot[n] = i
	}
	for _, n := range MemberAttributes {
		if _, ok := slot[n]; !ok {
			return nil, fmt.Errorf("the member detector needs the subject attribute %q in the view", n)
		}
	}
	m := redact.NewMembers()
	hs, ns := slot["handle"], slot["name"]
	for i := 0; i < v.Len(); i++ {
		st := v.StateAt(i, v.AsOf)
		m.Add(int32(i), v.AttrValues[hs][v.StateAttr(st, hs)], v.AttrValues[ns][v.StateAttr(st, ns)])
	}
	return m, nil
}
