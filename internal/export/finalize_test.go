package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	os.Mkdir(shards, 0o755)
	d := export.NewDecider(p, testFields, []string{path}, true)
	lines := strings.SplitAfter(in.String(), "\n")
	const perBatch, perShard = 97, 3
	shard, batchInShard := 0, 0
	var out, rej, leaves, records []byte
	sum := export.ShardSummary{Reasons: map[string]int64{}}
	flush := func() {
		sum.Versions = d.UsedVersions()
		js, _ := json.Marshal(sum)
		os.WriteFile(export.ShardFile(shards, "out", shard), out, 0o644)
		os.WriteFile(export.ShardFile(shards, "rejects", shard), rej, 0o644)
		os.WriteFile(export.ShardFile(shards, "leaves", shard), leaves, 0o644)
		os.WriteFile(export.ShardFile(shards, "records", shard), records, 0o644)
		os.WriteFile(export.ShardFile(shards, "shard", shard), js, 0o644)
		shard, batchInShard, out, rej, leaves, records = shard+1, 0, nil, nil, nil, nil
		sum = export.ShardSummary{Reasons: map[string]int64{}}
	}
	for start := 0; start < len(lines); start += perBatch {
		end := min(start+perBatch, len(lines))
		r := d.Decide(0, start+1, []byte(strings.Join(lines[start:end], "")))
		out, rej, leaves = append(out, r.Out...), append(rej, r.Rejects...), append(leaves, r.Leaves...)
		if len(r.Records) > 0 {
			records = inclusion.AppendFramed(records, r.Records)
		}
		sum.Read += r.Read
		sum.Included += r.Included
		for k, v := range r.Reasons {
			sum.Reasons[k] += v
		}
		sum.Subjects = append(sum.Subjects, r.Subjects...)
		if batchInShard++; batchInShard == perShard {
			flush()
		}
	}
	flush()
	vs := p.Versions()
	job := export.Job{Purpose: want.Purpose, Recipient: want.Recipient, RecipientClass: want.RecipientClass, AsOf: want.AsOf,
		Fields: export.FieldsOf(testFields), Inputs: want.Inputs, Shards: shard, Rejects: true, AtAsOf: vs.IndexAt(want.AsOf)}
	for v := 0; v < vs.Len(); v++ {
		var pu export.PolicyUsed
		if v > 0 {
			pu = export.PolicyUsed{Version: vs.Table(v).Doc.Version, SHA256: vs.Table(v).Doc.Digest()}
		}
		job.Versions = append(job.Versions, pu)
	}
	js, _ := json.Marshal(job)
	os.WriteFile(filepath.Join(shards, "job.json"), js, 0o644)

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
