package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/beam/pipeline"
	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/blobio/blobiotest"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/export"
)

func TestMain(m *testing.M) {
	beam.Init()
	os.Exit(m.Run())
}

// consentgate builds the core binary once.
func consentgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "consentgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/consentgate")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building consentgate: %v\n%s", err, out)
	}
	return bin
}

// runErr runs a command that may fail.
func runErr(bin, dir string, args ...string) (string, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func run(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("consentgate %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestPipelineMatchesExport runs the pipeline on prism and `consentgate
// export` on the same generated world and snapshot: the same output and
// rejects bytes, counts, records_root, subjects and policies.
func TestPipelineMatchesExport(t *testing.T) {
	bin := consentgate(t)
	dir := t.TempDir()
	run(t, bin, dir, "demo", "--dir", "w", "--members", "1500")
	store := "--store=sqlite:w/demo.db"
	asOf := demo.AsOf.Format("2006-01-02T15:04:05Z")
	run(t, bin, dir, store, "snapshot", "--as-of", asOf, "--out", "w/view.cgs")
	inputs := []string{"w/posts.jsonl", "w/messages.jsonl"}
	args := []string{store, "export", "--snapshot", "w/view.cgs", "--purpose", demo.ExportPurpose, "--recipient", demo.ExportRecipient,
		"--in", inputs[0], "--in", inputs[1], "--out", "w/expected.jsonl", "--rejects", "w/expected.rej"}
	run(t, bin, dir, append(args, demo.ExportFlags...)...)

	fields, err := demo.ExportFields()
	if err != nil {
		t.Fatal(err)
	}
	c := pipeline.Config{Inputs: inputs, Snapshot: "w/view.cgs", Purpose: demo.ExportPurpose, Recipient: demo.ExportRecipient,
		Fields: fields, OutDir: "w/shards", Rejects: true, BatchBytes: 64 << 10, BatchesPerShard: 3}
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	err = pipeline.Run(context.Background(), c, func(ctx context.Context, p *beam.Pipeline) error {
		_, err := prism.Execute(ctx, p)
		return err
	})
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	shards, _ := filepath.Glob(filepath.Join(dir, "w/shards/out-*.jsonl"))
	if len(shards) < 4 {
		t.Fatalf("%d shards: the test should exercise several", len(shards))
	}
	run(t, bin, dir, store, "export", "finalize", "--dir", "w/shards", "--out", "w/beam.jsonl", "--rejects", "w/beam.rej")
	for got, want := range map[string]string{"w/beam.jsonl": "w/expected.jsonl", "w/beam.rej": "w/expected.rej"} {
		g, _ := os.ReadFile(filepath.Join(dir, got))
		w, _ := os.ReadFile(filepath.Join(dir, want))
		if len(w) == 0 || !bytes.Equal(g, w) {
			t.Errorf("%s (%d bytes) differs from %s (%d bytes)", got, len(g), want, len(w))
		}
	}
	read := func(name string) *export.Manifest {
		m, err := export.ReadManifest(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	bm, em := read("w/beam.jsonl.manifest.json"), read("w/expected.jsonl.manifest.json")
	same := func(what string, a, b any) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: pipeline %s, export %s", what, ja, jb)
		}
	}
	t.Logf("%d shards; %d records read, %d included, %d subjects, records_root %s", len(shards), bm.Counts.Read, bm.Counts.Included, bm.Subjects, bm.RecordsRoot)
	if em.Counts.Included == 0 || em.Counts.Excluded == 0 {
		t.Fatalf("the world should include and exclude records: %+v", em.Counts)
	}
	same("counts", bm.Counts, em.Counts)
	same("records_root", bm.RecordsRoot, em.RecordsRoot)
	same("subjects included", bm.Subjects, em.Subjects)
	same("policies", bm.Policies, em.Policies)
	same("inputs", bm.Inputs, em.Inputs)
	same("output digest", bm.Output.SHA256, em.Output.SHA256)
	same("rejects digest", bm.Rejects.SHA256, em.Rejects.SHA256)
	same("as of", bm.AsOf, em.AsOf)
	same("fields", bm.Fields, em.Fields)
	if bm.LogIndex == nil || bm.Signature == nil || bm.SubjectsRoot == nil {
		t.Fatalf("the finalised manifest is not logged and signed: %+v", bm)
	}
	// Both exports' subject sets are the same: report subject agrees.
	if out := run(t, bin, dir, store, "log", "verify"); !bytes.Contains([]byte(out), []byte("exports' stored subject sets match")) {
		t.Fatalf("log verify after finalize: %s", out)
	}
	if out := run(t, bin, dir, store, "manifest", "verify", "w/beam.jsonl.manifest.json"); bytes.Contains([]byte(out), []byte("FAIL")) {
		t.Fatalf("manifest verify: %s", out)
	}
	// The records both kept give the same impact: the same subjects owe
	// the same records in each export.
	var impact struct {
		Items []struct {
			ExportID string `json:"export_id"`
			Subject  string
			Reason   string
			Records  []string
		}
	}
	if err := json.Unmarshal([]byte(run(t, bin, dir, store, "impact", "--json")), &impact); err != nil {
		t.Fatal(err)
	}
	byExport := map[string][]string{}
	for _, it := range impact.Items {
		byExport[it.ExportID] = append(byExport[it.ExportID], fmt.Sprint(it.Subject, it.Reason, it.Records))
	}
	// The demo's own export, the snapshot's and the pipeline's decided the
	// same records as of the same time.
	var first []string
	for _, l := range byExport {
		if first == nil {
			first = l
		}
		if len(l) == 0 || !slices.Equal(l, first) {
			t.Errorf("impact differs between the exports of one world:\n%v\n%v", l, first)
		}
	}
	if len(byExport) != 3 {
		t.Errorf("%d exports have impact items, want the demo's, the snapshot's and the pipeline's", len(byExport))
	}
}

// BenchmarkPipeline runs the pipeline on prism over the demo world of
// 20,000 members (≈ 120,000 records) and reports input MB/s.
func BenchmarkPipeline(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "consentgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/consentgate")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	dir := b.TempDir()
	for _, args := range [][]string{{"demo", "--dir", "w", "--members", "20000"},
		{"--store=sqlite:w/demo.db", "snapshot", "--as-of", demo.AsOf.Format("2006-01-02T15:04:05Z"), "--out", "w/view.cgs"}} {
		c := exec.Command(bin, args...)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v %s", args, err, out)
		}
	}
	fields, err := demo.ExportFields()
	if err != nil {
		b.Fatal(err)
	}
	inputs := []string{filepath.Join(dir, "w/posts.jsonl"), filepath.Join(dir, "w/messages.jsonl")}
	var size int64
	for _, in := range inputs {
		fi, _ := os.Stat(in)
		size += fi.Size()
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := pipeline.Config{Inputs: inputs, Snapshot: filepath.Join(dir, "w/view.cgs"), Purpose: demo.ExportPurpose, Recipient: demo.ExportRecipient,
			Fields: fields, OutDir: filepath.Join(dir, "shards", strconv.Itoa(i)), Rejects: true}
		err := pipeline.Run(context.Background(), c, func(ctx context.Context, p *beam.Pipeline) error {
			_, err := prism.Execute(ctx, p)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(size)/1e6, "input-MB")
}

// upload copies a local file to an object.
func upload(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	w, err := blobio.Create(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func runOnPrism(c pipeline.Config) error {
	return pipeline.Run(context.Background(), c, func(ctx context.Context, p *beam.Pipeline) error {
		_, err := prism.Execute(ctx, p)
		return err
	})
}

// TestPipelineOnS3 runs the pipeline with JSON Lines inputs and the
// snapshot on the S3 server and its shards written there, finalises from
// there, and requires the bytes of `consentgate export` over the local
// files (the rejects but for the inputs' names). Then the refusals: a
// shard prefix already used, JSON Lines mixed with Parquet, a .parquet
// input that is not Parquet, a glob that matches nothing — each named,
// none leaving shards. It fails, never skips, when the server does not
// answer.
func TestPipelineOnS3(t *testing.T) {
	prefix := blobiotest.Prefix(t)
	if os.Getenv("AWS_REGION") == "" {
		t.Setenv("AWS_REGION", "us-east-1") // Beam's s3 filesystem needs one (beam/README.md)
	}
	bin := consentgate(t)
	dir := t.TempDir()
	run(t, bin, dir, "demo", "--dir", "w", "--members", "400")
	store := "--store=sqlite:w/demo.db"
	run(t, bin, dir, store, "snapshot", "--as-of", demo.AsOf.Format("2006-01-02T15:04:05Z"), "--out", "w/view.cgs")
	args := []string{store, "export", "--snapshot", "w/view.cgs", "--purpose", demo.ExportPurpose, "--recipient", demo.ExportRecipient,
		"--in", "w/posts.jsonl", "--in", "w/messages.jsonl", "--out", "w/expected.jsonl", "--rejects", "w/expected.rej"}
	run(t, bin, dir, append(args, demo.ExportFlags...)...)
	for _, f := range []string{"posts.jsonl", "messages.jsonl", "view.cgs"} {
		upload(t, filepath.Join(dir, "w", f), prefix+"in/"+f)
	}
	ctx := context.Background()
	if got, err := pipeline.Expand(ctx, prefix+"in/*.jsonl"); err != nil || !slices.Equal(got, []string{prefix + "in/messages.jsonl", prefix + "in/posts.jsonl"}) {
		t.Fatalf("Expand of a glob on S3: %q %v", got, err)
	}
	if _, err := pipeline.Expand(ctx, prefix+"in/nothing*.jsonl"); err == nil || !strings.Contains(err.Error(), "in/nothing*.jsonl: no such file") {
		t.Fatalf("Expand of a glob that matches nothing: %v", err)
	}

	fields, err := demo.ExportFields()
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{prefix + "in/posts.jsonl", prefix + "in/messages.jsonl"}
	c := pipeline.Config{Inputs: inputs, Snapshot: prefix + "in/view.cgs", Purpose: demo.ExportPurpose, Recipient: demo.ExportRecipient,
		Fields: fields, OutDir: prefix + "shards/", Rejects: true, BatchBytes: 64 << 10, BatchesPerShard: 2}
	if err := runOnPrism(c); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	var job export.Job
	if err := json.Unmarshal(blobiotest.ReadAll(t, prefix+"shards/job.json"), &job); err != nil {
		t.Fatal(err)
	}
	if job.Shards < 4 || job.Format != "" {
		t.Fatalf("job.json: %d shards, format %q: the test should exercise several JSON Lines shards", job.Shards, job.Format)
	}
	run(t, bin, dir, store, "export", "finalize", "--dir", prefix+"shards/", "--out", "w/s3.jsonl", "--rejects", "w/s3.rej")
	got, _ := os.ReadFile(filepath.Join(dir, "w/s3.jsonl"))
	want, _ := os.ReadFile(filepath.Join(dir, "w/expected.jsonl"))
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("the output finalised from S3 (%d bytes) differs from the export's (%d bytes)", len(got), len(want))
	}
	gotRej, _ := os.ReadFile(filepath.Join(dir, "w/s3.rej"))
	wantRej, _ := os.ReadFile(filepath.Join(dir, "w/expected.rej"))
	gotRej = bytes.ReplaceAll(gotRej, []byte(`"file":"`+prefix+`in/`), []byte(`"file":"w/`))
	if len(wantRej) == 0 || !bytes.Equal(gotRej, wantRej) {
		t.Errorf("the rejects finalised from S3 differ from the export's but for the inputs' names")
	}
	bm, err := export.ReadManifest(filepath.Join(dir, "w/s3.jsonl.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	em, err := export.ReadManifest(filepath.Join(dir, "w/expected.jsonl.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bm.RecordsRoot != em.RecordsRoot || bm.Counts.Included != em.Counts.Included || bm.Subjects != em.Subjects || em.Counts.Included == 0 ||
		bm.Inputs[0].File != inputs[0] || bm.Inputs[0].SHA256 != em.Inputs[0].SHA256 || bm.Inputs[1].Bytes != em.Inputs[1].Bytes {
		t.Fatalf("manifests differ:\n%+v\n%+v", bm, em)
	}

	listed := func(p string) int {
		es, err := blobio.List(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	before := listed(prefix)
	refused := func(what string, c pipeline.Config, want string) {
		t.Helper()
		err := runOnPrism(c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", what, err, want)
		}
	}
	refused("a used shard prefix", c, "the shard folder "+prefix+"shards/ already holds "+prefix+"shards/")
	mixed := c
	mixed.Inputs, mixed.OutDir = []string{inputs[0], prefix + "in/x.parquet"}, prefix+"mixed/"
	refused("JSON Lines and Parquet", mixed, "the inputs of one export are all Parquet or all JSON Lines")
	if n := listed(prefix); n != before {
		t.Errorf("the refused runs changed the objects under the prefix: %d, then %d", before, n)
	}
	notParquet := c
	upload(t, filepath.Join(dir, "w/posts.jsonl"), prefix+"in/posts.parquet")
	notParquet.Inputs, notParquet.OutDir = []string{prefix + "in/posts.parquet"}, prefix+"bad/"
	refused("a .parquet input that is not Parquet", notParquet, "input "+prefix+"in/posts.parquet: not a readable Parquet file")
	if n := listed(prefix + "bad/"); n != 0 {
		t.Errorf("the failed run left %d objects under its shard prefix", n)
	}
	// Parquet inputs of two schemas: the run ends without a job.json,
	// naming both, and finalize refuses the prefix.
	type postA struct {
		ID        string `parquet:"id"`
		Kind      string `parquet:"kind"`
		Author    string `parquet:"author"`
		CreatedAt string `parquet:"created_at"`
	}
	type postB struct {
		postA
		Likes int64 `parquet:"likes"`
	}
	a := filepath.Join(dir, "a.parquet")
	if err := parquet.WriteFile(a, []postA{{"p1", "user.content.public", "m00001", "2024-10-01T00:00:00Z"}}); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.parquet")
	if err := parquet.WriteFile(b, []postB{{postA{"p2", "user.content.public", "m00002", "2024-10-01T00:00:00Z"}, 3}}); err != nil {
		t.Fatal(err)
	}
	upload(t, a, prefix+"in/a.parquet")
	upload(t, b, prefix+"in/b.parquet")
	two := c
	two.Inputs, two.OutDir = []string{prefix + "in/a.parquet", prefix + "in/b.parquet"}, prefix+"two/"
	refused("Parquet inputs of two schemas", two, "input "+prefix+"in/b.parquet: its Parquet schema differs from that of "+prefix+"in/a.parquet")
	if _, errOut, err := runErr(bin, dir, store, "export", "finalize", "--dir", prefix+"two/", "--out", "w/two.parquet"); err == nil || !strings.Contains(errOut, "job.json") {
		t.Errorf("finalize of the refused run: %v %s", err, errOut)
	}
	t.Logf("%d shards on S3; %d records read, %d included, records_root %s", job.Shards, bm.Counts.Read, bm.Counts.Included, bm.RecordsRoot)
}
