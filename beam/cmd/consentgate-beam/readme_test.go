package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/blobio/blobiotest"
	"github.com/consentgate/consentgate/internal/export"
)

// readmeParquetOnS3 holds what the README's S3 run wrote (the objects
// under the prefix the pipeline named in its output) to the one-machine
// export of the same Parquet file: the same Parquet bytes, rejects (but
// for the input's name), counts, records_root, subjects, policies and
// input digest.
func readmeParquetOnS3(t *testing.T, out, world string, same func(what string, a, b any)) {
	t.Helper()
	m := regexp.MustCompile(`shards in (s3://\S+)/shards/;`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the S3 run did not report its shards:\n%s", out)
	}
	run := m[1]
	got := blobiotest.ReadAll(t, run+"/dataset.parquet")
	want, err := os.ReadFile(filepath.Join(world, "one-machine.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || !bytes.Equal(got, want) || !bytes.HasPrefix(got, []byte("PAR1")) {
		t.Errorf("%s/dataset.parquet (%d bytes) differs from one-machine.parquet (%d bytes)", run, len(got), len(want))
	}
	gotRej := blobiotest.ReadAll(t, run+"/rejects.jsonl")
	wantRej, _ := os.ReadFile(filepath.Join(world, "one-machine.parquet.rejects.jsonl"))
	named := bytes.ReplaceAll(gotRej, []byte(`"file":"`+run+`/in/world.parquet"`), []byte(`"file":"world.parquet"`))
	if len(wantRej) == 0 || bytes.Equal(named, gotRej) || !bytes.Equal(named, wantRej) {
		t.Errorf("%s/rejects.jsonl differs from one-machine.parquet.rejects.jsonl but for the input's name", run)
	}
	var bm, em export.Manifest
	if err := json.Unmarshal(blobiotest.ReadAll(t, run+"/dataset.parquet.manifest.json"), &bm); err != nil {
		t.Fatal(err)
	}
	e, err := export.ReadManifest(filepath.Join(world, "one-machine.parquet.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	em = *e
	if em.Counts.Included == 0 || em.Counts.Excluded == 0 || em.Output.Format != "parquet" {
		t.Fatalf("the Parquet export should include and exclude records: %+v, format %q", em.Counts, em.Output.Format)
	}
	same("parquet counts", bm.Counts, em.Counts)
	same("parquet records_root", bm.RecordsRoot, em.RecordsRoot)
	same("parquet subjects included", bm.Subjects, em.Subjects)
	same("parquet policies", bm.Policies, em.Policies)
	same("parquet fields", bm.Fields, em.Fields)
	same("parquet output", []any{bm.Output.SHA256, bm.Output.Bytes, bm.Output.Format}, []any{em.Output.SHA256, em.Output.Bytes, em.Output.Format})
	if len(bm.Inputs) != 1 || len(em.Inputs) != 1 || bm.Inputs[0].File != run+"/in/world.parquet" {
		t.Fatalf("inputs: pipeline %+v, export %+v", bm.Inputs, em.Inputs)
	}
	same("parquet input digest", []any{bm.Inputs[0].SHA256, bm.Inputs[0].Bytes}, []any{em.Inputs[0].SHA256, em.Inputs[0].Bytes})
	if bm.LogIndex == nil || bm.Signature == nil {
		t.Fatalf("the manifest finalised on S3 is not logged and signed: %+v", bm)
	}
	// Several shards, so the rows were copied across shard boundaries.
	var job export.Job
	if err := json.Unmarshal(blobiotest.ReadAll(t, run+"/shards/job.json"), &job); err != nil {
		t.Fatal(err)
	}
	if job.Format != "parquet" || job.Shards < 2 {
		t.Fatalf("job.json on S3: format %q, %d shards (want parquet, several)", job.Format, job.Shards)
	}
	blobiotest.ReadAll(t, export.ShardFile(run+"/shards/", "rows", job.Shards-1))
	t.Logf("Parquet on S3 (%s): %d shards; %d records read, %d included, %d subjects, records_root %s", run, job.Shards, bm.Counts.Read, bm.Counts.Included, bm.Subjects, bm.RecordsRoot)
}

// readmeBlocks are the ```sh blocks of beam/README.md, in order.
func readmeBlocks(t *testing.T) (readme string, blocks []string) {
	t.Helper()
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme = string(src)
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```$").FindAllStringSubmatch(readme, -1) {
		blocks = append(blocks, m[1])
	}
	return readme, blocks
}

// sh runs script with sh -e in dir and returns its output.
func sh(t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-e", "-x", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %v\n%s", dir, err, out)
	}
	return string(out)
}

// TestReadme runs every command of beam/README.md exactly as it is written
// there — its sh blocks, extracted from the file, so the README cannot drift
// from what works: the install block at the repository's root with GOBIN a
// temporary folder (so consentgate and consentgate-beam are the binaries
// just built, first on PATH), then the others in order in an empty folder:
// the demo world, its snapshot, the pipeline through the consentgate-beam
// binary on prism (the default runner), export finalize, and the same
// export on one machine, compared with cmp; then the Parquet run on the
// S3 server (inputs, snapshot, shards and finalised outputs all objects)
// and its one-machine export. It then compares the manifests, and the
// objects finalize wrote with the one-machine files. The first block (`go
// test ./...`) is this test. The cluster runs (Flink, Spark, Dataflow)
// need a cluster and are not run: only their flags are checked against the
// binary's --help.
//
// The S3 server must answer (.ci/run starts it): the test fails, never
// skips, when it does not.
func TestReadme(t *testing.T) {
	blobiotest.Prefix(t) // the server answers and has the bucket; the test process can read it
	readme, blocks := readmeBlocks(t)
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	env := append(os.Environ(), "GOBIN="+bin, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var installed bool
	var script []string
	for _, b := range blocks {
		switch {
		case strings.Contains(b, "go test"):
			if !strings.HasPrefix(b, "cd beam && go test ./...") || strings.Count(b, "\n") != 1 {
				t.Fatalf("a README block runs go test and more than this test:\n%s", b)
			}
		case strings.Contains(b, "go install") || strings.Contains(b, " install "):
			sh(t, root, env, b)
			installed = true
		default:
			script = append(script, b)
		}
	}
	for _, name := range []string{"consentgate", "consentgate-beam", "demo-parquet"} {
		if _, err := os.Stat(filepath.Join(bin, name)); !installed || err != nil {
			t.Fatalf("the README's install block did not install %s into GOBIN", name)
		}
	}
	if len(script) < 2 {
		t.Fatalf("%d README blocks to run after installing: expected the pipeline's and the one-machine export's", len(script))
	}
	work := t.TempDir()
	out := sh(t, work, env, strings.Join(script, "\n"))
	if !strings.Contains(out, "shards in shards") {
		t.Fatalf("the pipeline did not report its shards:\n%s", out)
	}

	// The pipeline's finalised export and the one-machine export of the
	// same snapshot: the same bytes (cmp above, and here), the same
	// manifest but for its own names and log entry.
	world := filepath.Join(work, "world")
	for got, want := range map[string]string{"dataset.jsonl": "one-machine.jsonl", "rejects.jsonl": "one-machine.rejects.jsonl"} {
		g, _ := os.ReadFile(filepath.Join(world, got))
		w, _ := os.ReadFile(filepath.Join(world, want))
		if len(w) == 0 || !bytes.Equal(g, w) {
			t.Errorf("%s (%d bytes) differs from %s (%d bytes)", got, len(g), want, len(w))
		}
	}
	read := func(name string) *export.Manifest {
		m, err := export.ReadManifest(filepath.Join(world, name))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	bm, em := read("dataset.jsonl.manifest.json"), read("one-machine.jsonl.manifest.json")
	if em.Counts.Included == 0 || em.Counts.Excluded == 0 {
		t.Fatalf("the world should include and exclude records: %+v", em.Counts)
	}
	same := func(what string, a, b any) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: pipeline %s, export %s", what, ja, jb)
		}
	}
	same("counts", bm.Counts, em.Counts)
	same("records_root", bm.RecordsRoot, em.RecordsRoot)
	same("subjects included", bm.Subjects, em.Subjects)
	same("policies", bm.Policies, em.Policies)
	same("inputs", bm.Inputs, em.Inputs)
	same("fields", bm.Fields, em.Fields)
	same("as of", bm.AsOf, em.AsOf)
	same("output digest", bm.Output.SHA256, em.Output.SHA256)
	same("rejects digest", bm.Rejects.SHA256, em.Rejects.SHA256)
	if bm.LogIndex == nil || bm.Signature == nil || bm.SubjectsRoot == nil {
		t.Fatalf("the finalised manifest is not logged and signed: %+v", bm)
	}
	readmeParquetOnS3(t, out, world, same)
	// subjects_root is per export (its leaves are keyed by the export id),
	// so the two differ; the log checks the subject sets are the same.
	verify := exec.Command(filepath.Join(bin, "consentgate"), "--store", "sqlite:demo.db", "log", "verify")
	verify.Dir = world
	if out, err := verify.CombinedOutput(); err != nil || !strings.Contains(string(out), "exports' stored subject sets match") {
		t.Errorf("log verify after both exports: %v\n%s", err, out)
	}
	t.Logf("%d records read, %d included, %d subjects, records_root %s", bm.Counts.Read, bm.Counts.Included, bm.Subjects, bm.RecordsRoot)

	// Every flag the cluster section names is one the binary takes.
	help, _ := exec.Command(filepath.Join(bin, "consentgate-beam"), "--help").CombinedOutput()
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z_-]+)`).FindAllStringSubmatch(string(help), -1) {
		flags = append(flags, m[1])
	}
	if !slices.Contains(flags, "runner") || !slices.Contains(flags, "id-field") {
		t.Fatalf("consentgate-beam --help lists neither Beam's flags nor ours:\n%s", help)
	}
	cluster := readme[strings.Index(readme, "## Submitting to a cluster"):]
	cluster = cluster[:strings.Index(cluster, "\n## ")]
	var checked int
	for _, span := range regexp.MustCompile("`--[^`]*`").FindAllString(strings.ReplaceAll(cluster, "\n", " "), -1) {
		for _, m := range regexp.MustCompile(`--([a-z_-]+)`).FindAllStringSubmatch(span, -1) {
			if checked++; !slices.Contains(flags, m[1]) {
				t.Errorf("the README's %s names --%s, which consentgate-beam does not take", span, m[1])
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d cluster flags found in the README", checked)
	}

	// consentgate export's --id, given to the driver, is refused with the
	// flag to use instead (Beam would otherwise take it as its worker id).
	cmd := exec.Command(filepath.Join(bin, "consentgate-beam"), "--snapshot", "view.cgs", "--purpose", "p", "--recipient", "r",
		"--in", "posts.jsonl", "--out-dir", "shards2", "--id", "id")
	cmd.Dir = world
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--id-field id") {
		t.Errorf("--id given to the driver: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(world, "shards2")); err == nil {
		t.Errorf("the refused run wrote shards")
	}
}
