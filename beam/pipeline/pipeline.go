// Package pipeline is the export as an Apache Beam pipeline (SPEC §8): it
// reads JSON Lines files in batches of whole lines (and Parquet files in
// batches of rows, parquet.go), local or in an object store (files.go),
// decides every record
// with the same code as `consentgate export` (export.Decider, over the
// snapshot file as a side input each worker loads once), and writes the
// output, rejects, records_root leaves and included subjects as ordered
// shards that concatenate to the bytes the export writes. `consentgate
// export finalize --dir DIR` then assembles them, writes the manifest and
// logs it. The shards may be written to an object store too: nothing
// needs a file system shared by the workers.
package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/snapshot"
)

// Config is one export job.
type Config struct {
	Inputs []string // files or objects, in order (globs already expanded: Expand)
	// InFormat is how the inputs are read: "jsonl", "parquet", or "" for
	// by extension (.parquet), as consentgate export's --in-format.
	InFormat  string
	Snapshot  string // the snapshot file or object (consentgate snapshot --as-of T)
	Purpose   string
	Recipient string
	Fields    record.Fields
	OutDir    string // where the shards go: a folder or an object-store prefix
	Rejects   bool
	// BatchBytes is the size of a batch of lines (default 4 MiB);
	// BatchesPerShard how many make a shard (default 16).
	BatchBytes      int
	BatchesPerShard int
}

// Batch is a run of whole lines of one input file (of a Parquet input,
// rows: their canonical JSON lines, and the rows as Parquet).
type Batch struct {
	Order int64 // file << 32 | batch number: the output order
	File  int
	Line  int // the first line's (row's) number
	Data  []byte
	Rows  []byte // Parquet inputs: the rows, a Parquet file of the input's schema
}

// Decided is a batch's decisions.
type Decided struct {
	Order    int64
	Out      []byte
	Rejects  []byte
	Leaves   []byte
	Records  []byte // the included records' decision inputs (an inclusion chunk)
	Read     int64
	Included int64
	Reasons  map[string]int64
	Subjects []export.IncludedSubject
	Versions []int
	Rows     []byte  // Parquet inputs: the batch's rows (Batch.Rows)
	Kept     []int32 // Parquet inputs: the included rows' places in Rows, in order
}

// shardKey groups batches into shards in output order.
func shardKey(order int64, perShard int) int64 {
	file, n := order>>32, order&(1<<32-1)
	return file<<32 | n/int64(perShard)
}

// SplitFn reads an input file into batches of whole lines and writes the
// file's digest beside the shards.
type SplitFn struct {
	Inputs     []string
	Parquet    bool
	BatchBytes int
	OutDir     string
}

// ProcessElement splits input file number i.
func (f *SplitFn) ProcessElement(ctx context.Context, i int, emit func(int64, Batch)) error {
	var d inputDigest
	var err error
	if f.Parquet {
		d, err = f.splitParquet(ctx, i, emit)
	} else {
		d.FileDigest, err = f.splitLines(ctx, i, emit)
	}
	if err != nil {
		return err
	}
	b, _ := json.Marshal(d)
	return writeFile(ctx, join(f.OutDir, fmt.Sprintf("input-%05d.json", i)), b)
}

// inputDigest is an input-N.json: the input's digest for the manifest,
// and a Parquet input's schema (Finish holds the inputs to one).
type inputDigest struct {
	export.FileDigest
	Schema string `json:"parquet_schema,omitempty"`
}

// splitLines splits JSON Lines input i into batches of whole lines.
func (f *SplitFn) splitLines(ctx context.Context, i int, emit func(int64, Batch)) (export.FileDigest, error) {
	path := f.Inputs[i]
	in, err := openRead(ctx, path)
	if err != nil {
		return export.FileDigest{}, err
	}
	defer in.Close()
	h := sha256.New()
	r := bufio.NewReaderSize(io.TeeReader(in, h), 1<<20)
	var size int64
	line, n := 1, int64(0)
	var buf []byte
	start := 1
	first := true
	flush := func() {
		if len(buf) > 0 {
			emit(int64(i)<<32|n, Batch{Order: int64(i)<<32 | n, File: i, Line: start, Data: buf})
			n++
			buf = nil
		}
		start = line
	}
	for {
		l, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: gather it whole.
			long := append([]byte(nil), l...)
			for err == bufio.ErrBufferFull {
				l, err = r.ReadSlice('\n')
				long = append(long, l...)
			}
			l = long
		}
		size += int64(len(l))
		if first {
			// A leading byte-order mark is hashed but not read, as the
			// export does.
			first = false
			l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
		}
		if len(l) > 0 {
			buf = append(buf, l...)
			if l[len(l)-1] == '\n' {
				line++
			}
		}
		if len(buf) >= f.BatchBytes {
			flush()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return export.FileDigest{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	flush()
	return export.FileDigest{File: path, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: size}, nil
}

// DecideFn decides batches; each worker loads the snapshot's view and
// compiles the plan once (Setup), as `export --snapshot` does.
type DecideFn struct {
	Snapshot  string
	Purpose   string
	Recipient string
	Fields    []byte // record.Fields as JSON
	Inputs    []string
	Parquet   bool
	Rejects   bool
	PerShard  int

	decider *export.Decider
}

// Setup loads the snapshot and makes the decider.
func (f *DecideFn) Setup() error {
	plan, _, err := loadPlan(f.Snapshot, f.Purpose, f.Recipient, true)
	if err != nil {
		return err
	}
	var fields record.Fields
	if err := json.Unmarshal(f.Fields, &fields); err != nil {
		return err
	}
	if f.Parquet {
		f.decider = export.NewRowDecider(plan, fields, f.Inputs, f.Rejects)
	} else {
		f.decider = export.NewDecider(plan, fields, f.Inputs, f.Rejects)
	}
	return nil
}

// ProcessElement decides one batch and keys it by its shard.
func (f *DecideFn) ProcessElement(order int64, b Batch, emit func(int64, Decided)) {
	d := f.decider.Decide(b.File, b.Line, b.Data)
	emit(shardKey(order, f.PerShard), Decided{Order: b.Order, Out: d.Out, Rejects: d.Rejects, Leaves: d.Leaves, Records: d.Records, Read: d.Read,
		Included: d.Included, Reasons: d.Reasons, Subjects: d.Subjects, Versions: f.decider.UsedVersions(), Rows: b.Rows, Kept: d.Kept})
}

// WriteShardFn writes one shard's files, its batches in order.
type WriteShardFn struct {
	OutDir  string
	Rejects bool
	Parquet bool
}

// ProcessElement writes shard key's files (named by the key; the driver
// numbers them in order afterwards).
func (f *WriteShardFn) ProcessElement(ctx context.Context, key int64, batches func(*Decided) bool) error {
	var all []Decided
	var d Decided
	for batches(&d) {
		all = append(all, d)
		d = Decided{}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Order < all[j].Order })
	name := func(kind string) string { return join(f.OutDir, fmt.Sprintf("k%016x.%s", key, kind)) }
	var out, rej, leaves, records []byte
	sum := export.ShardSummary{Reasons: map[string]int64{}}
	versions := map[int]bool{}
	subjects := export.SubjectTally{}
	for _, b := range all {
		out = append(out, b.Out...)
		rej = append(rej, b.Rejects...)
		leaves = append(leaves, b.Leaves...)
		if len(b.Records) > 0 {
			records = inclusion.AppendFramed(records, b.Records)
		}
		sum.Read += b.Read
		sum.Included += b.Included
		for r, n := range b.Reasons {
			sum.Reasons[r] += n
		}
		for _, v := range b.Versions {
			versions[v] = true
		}
		subjects.Add(b.Subjects) // a subject's records may be in several batches
	}
	for v := range versions {
		sum.Versions = append(sum.Versions, v)
	}
	sort.Ints(sum.Versions)
	sum.Subjects = subjects.Sorted()
	js, _ := json.Marshal(sum)
	if f.Parquet {
		if err := writeRowsShard(ctx, name("rows"), all); err != nil {
			return err
		}
	}
	// shard last: Finish finds the shards by their .shard file.
	for _, kind := range shardKinds(f.Parquet, f.Rejects) {
		body := map[string][]byte{"out": out, "rejects": rej, "leaves": leaves, "records": records, "shard": js}[kind]
		if kind == "rows" {
			continue
		}
		if err := writeFile(ctx, name(kind), body); err != nil {
			return err
		}
	}
	return nil
}

// shardKinds are the files of a shard, the .shard file last.
func shardKinds(parquet, rejects bool) []string {
	kinds := []string{"out"}
	if parquet {
		kinds = []string{"rows"}
	}
	if rejects {
		kinds = append(kinds, "rejects")
	}
	return append(kinds, "leaves", "records", "shard")
}

func init() {
	register.DoFn3x1[context.Context, int, func(int64, Batch), error](&SplitFn{})
	register.DoFn3x0[int64, Batch, func(int64, Decided)](&DecideFn{})
	register.DoFn3x1[context.Context, int64, func(*Decided) bool, error](&WriteShardFn{})
	register.Emitter2[int64, Batch]()
	register.Emitter2[int64, Decided]()
	register.Iter1[Decided]()
	beam.RegisterType(reflect.TypeOf((*Batch)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Decided)(nil)).Elem())
}

// loadPlan opens the snapshot and plans the export over its view; with
// full false, over an empty view — the policy versions, target and as-of
// time without reading a million subjects (the driver's checks).
func loadPlan(path, purpose, recipient string, full bool) (*decision.Plan, *snapshot.File, error) {
	snap, err := snapshot.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer snap.Close()
	vs, err := snap.Versions()
	if err != nil {
		return nil, nil, err
	}
	view := consent.EmptyView(snap.AsOf, vs.Attributes())
	if full {
		if view, _, err = snap.LoadView(vs.Attributes()); err != nil {
			return nil, nil, err
		}
	}
	plan, err := decision.NewPlan(vs, view, purpose, recipient)
	return plan, snap, err
}

// Build adds the pipeline to s.
func Build(s beam.Scope, c Config) error {
	fields, err := json.Marshal(c.Fields)
	if err != nil {
		return err
	}
	idx := make([]int, len(c.Inputs))
	for i := range idx {
		idx[i] = i
	}
	pq := c.parquet()
	files := beam.CreateList(s, idx)
	batches := beam.ParDo(s, &SplitFn{Inputs: c.Inputs, Parquet: pq, BatchBytes: c.BatchBytes, OutDir: c.OutDir}, files)
	decided := beam.ParDo(s, &DecideFn{Snapshot: c.Snapshot, Purpose: c.Purpose, Recipient: c.Recipient, Fields: fields,
		Inputs: c.Inputs, Parquet: pq, Rejects: c.Rejects, PerShard: c.BatchesPerShard}, batches)
	shards := beam.GroupByKey(s, decided)
	beam.ParDo0(s, &WriteShardFn{OutDir: c.OutDir, Rejects: c.Rejects, Parquet: pq}, shards)
	return nil
}

// parquet reports whether the job's inputs are Parquet (Prepare has
// checked they are all one or the other).
func (c *Config) parquet() bool {
	return len(c.Inputs) > 0 && record.IsParquet(c.Inputs[0], c.InFormat)
}

// Prepare checks a job and its folder before the pipeline runs. The
// folder (or prefix) must hold nothing yet: another run's shards there
// would be numbered in with this run's.
func Prepare(ctx context.Context, c *Config) error {
	if c.BatchBytes <= 0 {
		c.BatchBytes = 4 << 20
	}
	if c.BatchesPerShard <= 0 {
		c.BatchesPerShard = 16
	}
	if c.InFormat != "" && c.InFormat != "jsonl" && c.InFormat != "parquet" {
		return fmt.Errorf("input format %q: expected jsonl or parquet", c.InFormat)
	}
	for _, in := range c.Inputs {
		if record.IsParquet(in, c.InFormat) != c.parquet() {
			return fmt.Errorf("%s and %s: the inputs of one export are all Parquet or all JSON Lines (the output of Parquet inputs is Parquet with their schema)", c.Inputs[0], in)
		}
	}
	if err := c.Fields.Validate(); err != nil {
		return err
	}
	if _, _, err := loadPlan(c.Snapshot, c.Purpose, c.Recipient, false); err != nil {
		return err
	}
	fs, err := fileSystem(ctx, c.OutDir)
	if err != nil {
		return err
	}
	held, err := fs.List(ctx, join(c.OutDir, "*"))
	if err != nil {
		return fmt.Errorf("%s: %w", c.OutDir, err)
	}
	if len(held) > 0 {
		sort.Strings(held)
		return fmt.Errorf("the shard folder %s already holds %s (%d files): a run's shards go to a folder or prefix of their own; remove them or name another", c.OutDir, held[0], len(held))
	}
	if isURL(c.OutDir) {
		return nil // an object-store prefix needs no folder
	}
	return os.MkdirAll(c.OutDir, 0o755)
}

// Finish numbers the shards in output order and writes job.json, after the
// pipeline ran: the folder `consentgate export finalize` reads.
func Finish(ctx context.Context, c Config) error {
	fs, err := fileSystem(ctx, c.OutDir)
	if err != nil {
		return err
	}
	names, err := fs.List(ctx, join(c.OutDir, "k*.shard"))
	if err != nil {
		return fmt.Errorf("%s: %w", c.OutDir, err)
	}
	sort.Strings(names) // fixed-width hex keys: lexical order is output order
	for i, n := range names {
		key := strings.TrimSuffix(n, ".shard")
		for _, kind := range shardKinds(c.parquet(), c.Rejects) {
			if err := rename(ctx, key+"."+kind, export.ShardFile(c.OutDir, kind, i)); err != nil {
				return err
			}
		}
	}
	plan, snap, err := loadPlan(c.Snapshot, c.Purpose, c.Recipient, false)
	if err != nil {
		return err
	}
	vs := plan.Versions()
	job := export.Job{Purpose: c.Purpose, Recipient: c.Recipient, RecipientClass: plan.Target().Class.String(), AsOf: snap.AsOf,
		Fields: export.FieldsOf(c.Fields), Shards: len(names), Rejects: c.Rejects, AtAsOf: vs.IndexAt(snap.AsOf)}
	if c.parquet() {
		job.Format = "parquet"
	}
	for v := 0; v < vs.Len(); v++ {
		var pu export.PolicyUsed
		if v > 0 {
			d := vs.Table(v).Doc
			pu = export.PolicyUsed{Version: d.Version, SHA256: d.Digest()}
		}
		job.Versions = append(job.Versions, pu)
	}
	var first inputDigest
	for i := range c.Inputs {
		var d inputDigest
		name := join(c.OutDir, fmt.Sprintf("input-%05d.json", i))
		b, err := readFile(ctx, name)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &d); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if i == 0 {
			first = d
		} else if d.Schema != first.Schema {
			// No job.json: finalize refuses the folder.
			return fmt.Errorf("input %s: its Parquet schema differs from that of %s: the output of Parquet inputs has their one schema", d.File, first.File)
		}
		job.Inputs = append(job.Inputs, d.FileDigest)
	}
	b, _ := json.MarshalIndent(job, "", "  ")
	return writeFile(ctx, join(c.OutDir, "job.json"), b)
}

// Run builds the pipeline, runs it with execute (prism.Execute in tests,
// beamx.Run for a cluster), and finishes the folder.
func Run(ctx context.Context, c Config, execute func(context.Context, *beam.Pipeline) error) error {
	if err := Prepare(ctx, &c); err != nil {
		return err
	}
	p, s := beam.NewPipelineWithRoot()
	if err := Build(s, c); err != nil {
		return err
	}
	if err := execute(ctx, p); err != nil {
		return err
	}
	return Finish(ctx, c)
}
