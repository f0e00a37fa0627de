package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/blobio/blobiotest"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// TestDeciderShardsFinalize does what the Beam pipeline does — batches of
// whole lines decided by export.Decider, grouped into ordered shards — and
// requires export.Finalize to give the bytes, counts and roots of
// export.Run.
func TestDeciderShardsFinalize(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	var in bytes.Buffer
	for i := 0; i < 5000; i++ {
		author := fmt.Sprintf("u%d", i%100)
		if i%7 == 0 {
			author = fmt.Sprintf("d%d", i%10)
		}
		fmt.Fprintf(&in, `{"id":"r%d","t":"2024-01-01T00:00:00Z","a":%q}`+"\n", i, author)
		if i%50 == 0 {
			in.WriteString("not json\n\n")
		}
	}
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, in.Bytes(), 0o644)
	// What each kept, read during the hook (the spool is gone after).
	var wantInc, gotInc *export.Included
	var wr, gr []string
	want, err := export.Run(context.Background(), export.Options{Plan: p, Fields: testFields, Inputs: []string{path},
		Out: filepath.Join(dir, "want.jsonl"), Rejects: filepath.Join(dir, "want.rej"), Workers: 2, Now: 1,
		BeforeRename: func(_ *export.Manifest, inc *export.Included) error {
			wantInc, wr = inc, decodeRecords(t, inc)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}

	shards := filepath.Join(dir, "shards")
	d := export.NewDecider(p, testFields, []string{path}, true)
	lines := strings.SplitAfter(in.String(), "\n")
	const perBatch, perShard = 97, 3
	sw := newShardWriter(t, shards, d, perShard, nil)
	for start := 0; start < len(lines); start += perBatch {
		end := min(start+perBatch, len(lines))
		sw.add(d.Decide(0, start+1, []byte(strings.Join(lines[start:end], ""))))
	}
	sw.flush()
	sw.writeJob(p, want, "")

	got, err := export.Finalize(context.Background(), export.FinalizeOptions{Dir: shards, Out: filepath.Join(dir, "got.jsonl"),
		Rejects: filepath.Join(dir, "got.rej"), Now: timestamp.Time(1),
		BeforeRename: func(_ *export.Manifest, inc *export.Included) error {
			gotInc, gr = inc, decodeRecords(t, inc)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for g, w := range map[string]string{"got.jsonl": "want.jsonl", "got.rej": "want.rej"} {
		gb, _ := os.ReadFile(filepath.Join(dir, g))
		wb, _ := os.ReadFile(filepath.Join(dir, w))
		if len(wb) == 0 || !bytes.Equal(gb, wb) {
			t.Fatalf("%s differs from %s", g, w)
		}
	}
	if got.RecordsRoot != want.RecordsRoot || got.Subjects != want.Subjects || got.Counts.Read != want.Counts.Read ||
		got.Counts.Included != want.Counts.Included || fmt.Sprint(got.Counts.ExcludedByReason) != fmt.Sprint(want.Counts.ExcludedByReason) ||
		fmt.Sprint(got.Policies) != fmt.Sprint(want.Policies) {
		t.Fatalf("manifests differ:\n%+v\n%+v", got, want)
	}
	// The same records kept, in the same order, and as many as included.
	if len(wr) != int(want.Counts.Included) || strings.Join(gr, "\n") != strings.Join(wr, "\n") {
		t.Fatalf("kept records differ: %d and %d (included %d)", len(gr), len(wr), want.Counts.Included)
	}
	if fmt.Sprint(gotInc.Subjects.Numbers) != fmt.Sprint(wantInc.Subjects.Numbers) {
		t.Fatal("the subject sets differ")
	}

	finalizeOnS3(t, shards, dir, gr)

	// An output that is one of the pipeline's inputs: refused before
	// anything is logged or written, the input untouched.
	input := want.Inputs[0].File
	before, _ := os.ReadFile(input)
	logged := false
	_, err = export.Finalize(context.Background(), export.FinalizeOptions{Dir: shards, Out: input, Now: 1,
		BeforeRename: func(*export.Manifest, *export.Included) error { logged = true; return nil }})
	if err == nil || !strings.Contains(err.Error(), "never overwrites its own input") || logged {
		t.Fatalf("finalizing onto the pipeline's input: %v (logged %v)", err, logged)
	}
	if after, _ := os.ReadFile(input); !bytes.Equal(before, after) {
		t.Fatal("the input changed")
	}

	// A missing shard: refused, nothing written.
	os.Remove(export.ShardFile(shards, "leaves", 1))
	if _, err := export.Finalize(context.Background(), export.FinalizeOptions{Dir: shards, Out: filepath.Join(dir, "bad.jsonl"), Now: 1}); err == nil {
		t.Fatal("a missing shard file was not noticed")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*bad*")); len(m) > 0 {
		t.Fatalf("a failed finalize left %v", m)
	}
}

// shardWriter writes a folder as the Beam pipeline does: the batches a
// Decider decided, perShard of them to a shard, each shard's rejects,
// leaves, records and summary at export.ShardFile, and job.json.
type shardWriter struct {
	t        *testing.T
	dir      string
	d        *export.Decider
	perShard int
	// output writes a shard's included output; nil writes the batches'
	// Out to out-N.
	output func(shard int, out []byte)

	shard, batches            int
	out, rej, leaves, records []byte
	sum                       export.ShardSummary
}

// newShardWriter makes dir and a shardWriter writing to it.
func newShardWriter(t *testing.T, dir string, d *export.Decider, perShard int, output func(shard int, out []byte)) *shardWriter {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if output == nil {
		output = func(shard int, out []byte) { writeShardFile(t, export.ShardFile(dir, "out", shard), out) }
	}
	return &shardWriter{t: t, dir: dir, d: d, perShard: perShard, output: output, sum: export.ShardSummary{Reasons: map[string]int64{}}}
}

// add adds a decided batch to the shard, and flushes the shard when it
// has perShard batches.
func (w *shardWriter) add(r *export.Decided) {
	w.out, w.rej, w.leaves = append(w.out, r.Out...), append(w.rej, r.Rejects...), append(w.leaves, r.Leaves...)
	if len(r.Records) > 0 {
		w.records = inclusion.AppendFramed(w.records, r.Records)
	}
	w.sum.Read += r.Read
	w.sum.Included += r.Included
	for k, v := range r.Reasons {
		w.sum.Reasons[k] += v
	}
	w.sum.Subjects = append(w.sum.Subjects, r.Subjects...)
	if w.batches++; w.batches == w.perShard {
		w.flush()
	}
}

// flush writes the shard's files and starts the next shard.
func (w *shardWriter) flush() {
	w.t.Helper()
	w.sum.Versions = w.d.UsedVersions()
	js, err := json.Marshal(w.sum)
	if err != nil {
		w.t.Fatal(err)
	}
	w.output(w.shard, w.out)
	writeShardFile(w.t, export.ShardFile(w.dir, "rejects", w.shard), w.rej)
	writeShardFile(w.t, export.ShardFile(w.dir, "leaves", w.shard), w.leaves)
	writeShardFile(w.t, export.ShardFile(w.dir, "records", w.shard), w.records)
	writeShardFile(w.t, export.ShardFile(w.dir, "shard", w.shard), js)
	w.shard, w.batches, w.out, w.rej, w.leaves, w.records = w.shard+1, 0, nil, nil, nil, nil
	w.sum = export.ShardSummary{Reasons: map[string]int64{}}
}

// writeJob writes job.json for the shards flushed: the export of want
// under the plan p, in format ("" for JSON Lines).
func (w *shardWriter) writeJob(p *decision.Plan, want *export.Manifest, format string) {
	w.t.Helper()
	vs := p.Versions()
	job := export.Job{Purpose: want.Purpose, Recipient: want.Recipient, RecipientClass: want.RecipientClass, AsOf: want.AsOf,
		Fields: export.FieldsOf(testFields), Inputs: want.Inputs, Shards: w.shard, Rejects: true, AtAsOf: vs.IndexAt(want.AsOf), Format: format}
	for v := 0; v < vs.Len(); v++ {
		var pu export.PolicyUsed
		if v > 0 {
			pu = export.PolicyUsed{Version: vs.Table(v).Doc.Version, SHA256: vs.Table(v).Doc.Digest()}
		}
		job.Versions = append(job.Versions, pu)
	}
	js, err := json.Marshal(job)
	if err != nil {
		w.t.Fatal(err)
	}
	writeShardFile(w.t, filepath.Join(w.dir, "job.json"), js)
}

func writeShardFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// decodeRecords lists an export's kept records, one line each.
func decodeRecords(t *testing.T, inc *export.Included) []string {
	t.Helper()
	var out []string
	var r inclusion.Reader
	inc.Records.Each(func(c []byte) error {
		err := r.Each(c, func(x *inclusion.Record) error {
			out = append(out, fmt.Sprintf("%d %s %s %d %v", x.Index, x.ID, x.Category, x.Created, x.Subjects))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return nil
	})
	return out
}

// finalizeOnS3 copies the pipeline's folder to the S3 server (SeaweedFS
// on 127.0.0.1:8333, started by .ci/run; CONSENTGATE_TEST_S3 names
// another) and finalises it from there, to outputs there: the bytes and
// records of the local finalize, and each output under its final key only
// after the manifest was logged (BeforeRename), the manifest last; a
// failed log leaves nothing under the final keys.
func finalizeOnS3(t *testing.T, shards, dir string, wantRecords []string) {
	t.Helper()
	prefix := finalizeS3Prefix(t)
	files, _ := filepath.Glob(filepath.Join(shards, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		w, err := blobio.Create(context.Background(), prefix+"shards/"+filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	nothing := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if _, err := blobio.Open(context.Background(), n); !errors.Is(err, blobio.ErrNotExist) {
				t.Fatalf("%s is there (%v), before the manifest was logged or after a failed finalize", n, err)
			}
		}
	}
	out, rej, man := prefix+"out/got.jsonl", prefix+"out/got.rej", prefix+"out/got.jsonl.manifest.json"
	var gr []string
	m, err := export.Finalize(context.Background(), export.FinalizeOptions{Dir: prefix + "shards", Out: out, Rejects: rej, Now: 1,
		BeforeRename: func(_ *export.Manifest, inc *export.Included) error {
			nothing(out, rej, man)
			gr = decodeRecords(t, inc)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{out: "got.jsonl", rej: "got.rej", man: ""} {
		r, err := blobio.Open(context.Background(), got)
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := r.NewRangeReader(context.Background(), 0, -1)
		gb, _ := io.ReadAll(rc)
		rc.Close()
		if want == "" {
			var back export.Manifest
			if err := json.Unmarshal(gb, &back); err != nil || back.RecordsRoot != m.RecordsRoot || back.Output.File != out {
				t.Fatalf("the manifest on S3: %v %+v", err, back)
			}
			continue
		}
		wb, _ := os.ReadFile(filepath.Join(dir, want))
		if len(wb) == 0 || !bytes.Equal(gb, wb) {
			t.Fatalf("%s differs from the local finalize's %s", got, want)
		}
	}
	if strings.Join(gr, "\n") != strings.Join(wantRecords, "\n") {
		t.Fatal("the records kept from S3 differ from the local finalize's")
	}
	if m.Output.Bytes == 0 || m.Rejects == nil || m.Rejects.Bytes == 0 {
		t.Fatalf("sizes: %+v %+v", m.Output, m.Rejects)
	}

	// The log fails: nothing under the final keys (the uploads aborted).
	out2, man2 := prefix+"out/failed.jsonl", prefix+"out/failed.jsonl.manifest.json"
	if _, err := export.Finalize(context.Background(), export.FinalizeOptions{Dir: prefix + "shards/", Out: out2, Now: 1,
		BeforeRename: func(*export.Manifest, *export.Included) error { return errors.New("the log is down") }}); err == nil {
		t.Fatal("finalize succeeded with the log down")
	}
	nothing(out2, man2)

	// A shard missing in the object store: named, before anything is written.
	if err := blobio.Remove(context.Background(), export.ShardFile(prefix+"shards", "records", 1)); err != nil {
		t.Fatal(err)
	}
	_, err = export.Finalize(context.Background(), export.FinalizeOptions{Dir: prefix + "shards", Out: out2, Now: 1})
	if err == nil || !strings.Contains(err.Error(), "records-00001.bin: not there") {
		t.Fatalf("a missing shard on S3: %v", err)
	}
	nothing(out2, man2)
}

// finalizeS3Prefix points the process at the test S3 server and returns
// a fresh s3://BUCKET/RUN/ prefix.
func finalizeS3Prefix(t *testing.T) string { return blobiotest.Prefix(t) }
