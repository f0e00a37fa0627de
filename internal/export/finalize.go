package export

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// A sharded export is computed elsewhere — the Beam pipeline — and
// finalised here: the pipeline writes, in one folder, job.json (what was
// asked, the inputs' digests, the policy versions by index) and for each
// shard i, in output order, out-i.jsonl, rejects-i.jsonl, leaves-i.bin (the
// records_root leaf hashes), records-i.bin (the included records' decision
// inputs, framed inclusion chunks) and shard-i.json (its counts, the
// versions it consulted, the subjects it included). Concatenated in order, the shards
// are byte for byte the output and rejects `consentgate export` writes.
//
// The folder and the outputs may be in an object store (SPEC §5, "Files
// anywhere"): --dir s3://bucket/shards/ is listed and read there (ranged
// reads, never copied to disk first), and an s3:// output waits in its
// pending upload until the manifest is logged, then is committed in the
// order local outputs are renamed (output, rejects, manifest last).

// Job is a sharded export's job.json.
type Job struct {
	Purpose        string         `json:"purpose"`
	Recipient      string         `json:"recipient"`
	RecipientClass string         `json:"recipient_class"`
	AsOf           timestamp.Time `json:"as_of"`
	Fields         FieldsUsed     `json:"fields"`
	Inputs         []FileDigest   `json:"inputs"`
	Shards         int            `json:"shards"`
	Rejects        bool           `json:"rejects"`
	Versions       []PolicyUsed   `json:"versions"`         // by version index (0: none in force)
	AtAsOf         int            `json:"version_at_as_of"` // the index in force at the as-of time
	// Format is "parquet" for Parquet inputs, whose shards hold their
	// included rows in rows-i.parquet (in place of out-i.jsonl); see
	// finalize_rows.go.
	Format string `json:"format,omitempty"`
}

// ShardSummary is a shard's shard-i.json.
type ShardSummary struct {
	Read     int64             `json:"read"`
	Included int64             `json:"included"`
	Reasons  map[string]int64  `json:"excluded_by_reason"`
	Versions []int             `json:"versions"` // indexes consulted
	Subjects []IncludedSubject `json:"subjects"`
}

// ShardFile names a shard's file of a kind ("out", "rejects", "leaves",
// "records", "shard"); dir may be an object-store prefix.
func ShardFile(dir, kind string, i int) string {
	ext := map[string]string{"out": "jsonl", "rows": "parquet", "rejects": "jsonl", "leaves": "bin", "records": "bin", "shard": "json"}[kind]
	return joinName(dir, fmt.Sprintf("%s-%05d.%s", kind, i, ext))
}

// joinName names the file name in the folder dir: a local path, or under
// an object-store prefix (with or without its final slash; the URL's
// bucket options, ?region=…, kept).
func joinName(dir, name string) string {
	if !blobio.IsURL(dir) {
		return filepath.Join(dir, name)
	}
	prefix, query, _ := strings.Cut(dir, "?")
	s := strings.TrimSuffix(prefix, "/") + "/" + name
	if query != "" {
		s += "?" + query
	}
	return s
}

// shardKinds are the files each shard has.
var shardKinds = []string{"shard", "out", "rejects", "leaves", "records"}

// checkShards lists an object-store folder once and names the first
// shard file the job needs that is not there, before any output is begun.
func checkShards(ctx context.Context, dir string, job *Job) error {
	prefix, query, _ := strings.Cut(joinName(dir, "x"), "?")
	prefix = strings.TrimSuffix(prefix, "x")
	if query != "" {
		query = "?" + query
	}
	es, err := blobio.List(ctx, prefix+query)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(es))
	for _, e := range es {
		have[e.Name] = true
	}
	for i := 0; i < job.Shards; i++ {
		for _, kind := range shardKinds {
			kind = job.outKind(kind)
			if kind == "rejects" && !job.Rejects {
				continue
			}
			if name := ShardFile(dir, kind, i); !have[name] {
				return fmt.Errorf("%s: not there (the job has %d shards): the pipeline did not finish writing", name, job.Shards)
			}
		}
	}
	return nil
}

// FinalizeOptions say where a sharded export goes.
type FinalizeOptions struct {
	Dir      string // the pipeline's folder
	Out      string
	Rejects  string // "" for none
	Manifest string // "" for Out + ".manifest.json"
	ID       string // "" to generate one
	Now      timestamp.Time
	Log      *LogState
	// BeforeRename is Options.BeforeRename: the export is logged here.
	BeforeRename func(m *Manifest, inc *Included) error
}

// Finalize assembles a sharded export into the output, rejects and
// manifest an export writes, atomically, with the same bytes, counts and
// roots.
func Finalize(ctx context.Context, o FinalizeOptions) (m *Manifest, err error) {
	var job Job
	if err := readJSONFile(ctx, joinName(o.Dir, "job.json"), &job); err != nil {
		return nil, err
	}
	if blobio.IsURL(o.Dir) {
		if err := checkShards(ctx, o.Dir, &job); err != nil {
			return nil, err
		}
	}
	if o.Manifest == "" {
		o.Manifest = DefaultManifest(o.Out)
	}
	if o.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		o.ID = "exp-" + o.Now.Time().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	}
	var tmps []*output
	defer func() {
		if err != nil {
			for _, t := range tmps {
				t.abort()
			}
		}
	}()
	temp := func(final string) (*output, error) {
		o, err := createOutput(ctx, final)
		if err != nil {
			return nil, err
		}
		tmps = append(tmps, o)
		return o, nil
	}
	if o.Rejects != "" && !job.Rejects {
		return nil, fmt.Errorf("%s: the pipeline wrote no rejects", o.Dir)
	}
	outs := []string{o.Out, o.Manifest}
	if o.Rejects != "" {
		outs = append(outs, o.Rejects)
	}
	var inputs []string
	for _, in := range job.Inputs {
		inputs = append(inputs, in.File)
	}
	for i, a := range outs {
		for _, b := range append(outs[i+1:], inputs...) {
			if sameFile(a, b) {
				return nil, fmt.Errorf("%s is named twice among the pipeline's inputs and the outputs: an export never overwrites its own input or writes two outputs to one file", a)
			}
		}
	}
	if err := checkOutputs(ctx, map[string]string{"output": o.Out, "manifest": o.Manifest, "rejects file": o.Rejects}); err != nil {
		return nil, err
	}
	// What an export killed before its renames left of these outputs (a
	// killed object upload holds no object).
	for _, f := range []string{o.Out, o.Manifest, o.Rejects} {
		if f != "" && !blobio.IsURL(f) {
			atomicfile.CleanStale(f)
		}
	}
	outF, err := temp(o.Out)
	if err != nil {
		return nil, outputError(o.Out, err)
	}
	var rejF *output
	if o.Rejects != "" {
		if rejF, err = temp(o.Rejects); err != nil {
			return nil, outputError(o.Rejects, err)
		}
	}
	manF, err := temp(o.Manifest)
	if err != nil {
		return nil, outputError(o.Manifest, err)
	}
	outHash, rejHash := sha256.New(), sha256.New()
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	totals := Counts{ExcludedByReason: map[string]int64{}}
	used := map[int]bool{}
	subjects := SubjectTally{}
	records := inclusion.NewSpool(0)
	defer records.Close()
	var rows *rowsAssembler
	if job.Format == "parquet" {
		rows = &rowsAssembler{out: io.MultiWriter(outF, outHash)}
	}
	for i := 0; i < job.Shards; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var sh ShardSummary
		if err := readJSONFile(ctx, ShardFile(o.Dir, "shard", i), &sh); err != nil {
			return nil, err
		}
		if rows != nil {
			if err := rows.add(ctx, ShardFile(o.Dir, "rows", i)); err != nil {
				return nil, err
			}
		} else if err := appendFile(ctx, outF, outHash, ShardFile(o.Dir, "out", i)); err != nil {
			return nil, err
		}
		if rejF != nil {
			if err := appendFile(ctx, rejF, rejHash, ShardFile(o.Dir, "rejects", i)); err != nil {
				return nil, err
			}
		}
		leaves, err := blobio.ReadFile(ctx, ShardFile(o.Dir, "leaves", i))
		if err != nil {
			return nil, err
		}
		if int64(len(leaves)) != 32*sh.Included {
			return nil, fmt.Errorf("%s: %d leaf hashes for %d included records", ShardFile(o.Dir, "leaves", i), len(leaves)/32, sh.Included)
		}
		for k := 0; k+32 <= len(leaves); k += 32 {
			if err := tree.Append(leaves[k:k+32:k+32], nil); err != nil {
				return nil, err
			}
		}
		framed, err := blobio.ReadFile(ctx, ShardFile(o.Dir, "records", i))
		if err != nil {
			return nil, err
		}
		chunks, err := inclusion.SplitFramed(framed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ShardFile(o.Dir, "records", i), err)
		}
		for _, c := range chunks {
			if err := records.Add(c); err != nil {
				return nil, err
			}
		}
		totals.Read += sh.Read
		totals.Included += sh.Included
		totals.Excluded += sh.Read - sh.Included
		for r, n := range sh.Reasons {
			totals.ExcludedByReason[r] += n
		}
		for _, v := range sh.Versions {
			used[v] = true
		}
		subjects.Add(sh.Subjects) // a subject's records may be in several shards
	}
	root := rfc6962.DefaultHasher.EmptyRoot()
	if tree.End() > 0 {
		if root, err = tree.GetRootHash(nil); err != nil {
			return nil, err
		}
	}
	set := &inclusion.Subjects{}
	for _, s := range subjects.Sorted() {
		set.Numbers = append(set.Numbers, s.Number)
		set.Records = append(set.Records, s.Records)
		set.IDs = append(set.IDs, s.ID)
	}
	set.Sort()
	if rows != nil {
		if err := rows.close(o.Dir); err != nil {
			return nil, err
		}
	}
	if err := outF.finish(); err != nil {
		return nil, err
	}
	outSize := outF.n
	m = &Manifest{
		ExportID: o.ID, CreatedAt: o.Now, Purpose: job.Purpose, Recipient: job.Recipient, RecipientClass: job.RecipientClass,
		AsOf: job.AsOf, Log: o.Log, Inputs: job.Inputs,
		Output:      FileDigest{File: o.Out, SHA256: hex.EncodeToString(outHash.Sum(nil)), Bytes: outSize, Format: job.outputFormat()},
		Fields:      job.Fields,
		Counts:      totals,
		Subjects:    len(set.Numbers),
		RecordsRoot: hex.EncodeToString(root),
	}
	var idx []int
	for v := range used {
		if v > 0 && v < len(job.Versions) {
			idx = append(idx, v)
		}
	}
	sort.Ints(idx)
	for _, v := range idx {
		m.Policies = append(m.Policies, job.Versions[v])
	}
	if m.Policies == nil && job.AtAsOf < len(job.Versions) {
		m.Policies = []PolicyUsed{job.Versions[job.AtAsOf]}
	}
	if rejF != nil {
		if err := rejF.finish(); err != nil {
			return nil, err
		}
		m.Rejects = &FileDigest{File: o.Rejects, SHA256: hex.EncodeToString(rejHash.Sum(nil)), Bytes: rejF.n}
	}
	if o.BeforeRename != nil {
		if err := o.BeforeRename(m, &Included{Subjects: set, Records: records}); err != nil {
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
	if err := commitAll(tmps); err != nil {
		return nil, err
	}
	tmps = nil
	return m, nil
}

func readJSONFile(ctx context.Context, path string, v any) error {
	b, err := blobio.ReadFile(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// appendFile copies a local file or an object (streamed: one ranged read)
// to dst and h.
func appendFile(ctx context.Context, dst io.Writer, h io.Writer, path string) error {
	r, err := blobio.Open(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	rc, err := r.NewRangeReader(ctx, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.CopyBuffer(io.MultiWriter(dst, h), rc, make([]byte, 1<<20))
	return err
}
