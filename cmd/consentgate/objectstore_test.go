package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/blobio/blobiotest"
	"github.com/consentgate/consentgate/internal/export"
)

// The object stores of these tests are the ones internal/blobio's tests
// use (blobiotest.Stores): SeaweedFS's S3 on 127.0.0.1:8333,
// fake-gcs-server on 127.0.0.1:4443 and Azurite on 127.0.0.1:10000, built
// or installed and started by .ci/run (CONSENTGATE_TEST_S3, _GCS and
// _AZBLOB name others). The binary reads each store's usual settings
// (AWS_*, STORAGE_EMULATOR_HOST, AZURE_STORAGE_*), set here on the test
// process and so inherited by each command cg runs.

// s3Prefix points the process (and the commands it runs) at the test
// server and returns a fresh s3://BUCKET/RUN/ prefix for one test.
func s3Prefix(t *testing.T) string { return blobiotest.Prefix(t) }

// readObject reads name (local or an object) whole.
func readObject(t *testing.T, name string) []byte { return blobiotest.ReadAll(t, name) }

// absentObject fails the test unless nothing is under name.
func absentObject(t *testing.T, name string) {
	t.Helper()
	if _, err := blobio.Open(context.Background(), name); !errors.Is(err, blobio.ErrNotExist) {
		t.Fatalf("%s: Open = %v, want nothing there", name, err)
	}
}

// listed lists the files under prefix, each name without the prefix.
func listed(t *testing.T, prefix string) []string {
	t.Helper()
	es, err := blobio.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimPrefix(filepath.ToSlash(e.Name), filepath.ToSlash(prefix)))
	}
	return out
}

// onStores runs a test on each object store's server: S3 (SeaweedFS),
// GCS (fake-gcs-server) and Azure Blob Storage (Azurite), with a fresh
// prefix there, the process (and so the commands cg runs) pointed at it.
func onStores(t *testing.T, f func(t *testing.T, prefix string)) {
	for _, s := range blobiotest.Stores {
		t.Run(s.Scheme, func(t *testing.T) { f(t, s.Prefix(t)) })
	}
}

// TestSnapshotOnObjectStores writes a snapshot to each object store and
// exports from it: the same snapshot bytes as a local one, and the same
// export output.
func TestSnapshotOnObjectStores(t *testing.T) { onStores(t, snapshotOn) }

func snapshotOn(t *testing.T, prefix string) {
	dir := setupE2E(t)
	remote := prefix + "views/snap.cgs"
	ok(t, dir, "snapshot", "--as-of", "2025-01-01T00:00:00Z", "--out", "snap.cgs")
	out := ok(t, dir, "snapshot", "--as-of", "2025-01-01T00:00:00Z", "--out", remote)
	if !strings.Contains(out, "wrote "+remote+": as of 2025-01-01T00:00:00Z") {
		t.Fatalf("snapshot: %s", out)
	}
	// The object is the whole file the summary describes (a snapshot
	// records when it was made, so its bytes differ from the local one's).
	got := readObject(t, remote)
	if sum := sha256.Sum256(got[:len(got)-sha256.Size]); !strings.Contains(out, fmt.Sprintf("%d bytes\nsha256 %x", len(got), sum)) {
		t.Fatalf("the snapshot in the store (%d bytes, sha256 %x) is not the one written:\n%s", len(got), sum, out)
	}
	if out := ok(t, dir, "snapshot", "verify", remote); !strings.Contains(out, "verified "+remote) {
		t.Fatalf("snapshot verify: %s", out)
	}

	export := func(snap, out string) {
		args := append(slices.Clone(e2eExport), "--snapshot", snap, "--out", out)
		args = slices.Delete(args, 5, 7) // the snapshot's as-of time
		ok(t, dir, args...)
	}
	export("snap.cgs", "local.jsonl")
	export(remote, "remote.jsonl")
	if l, r := readObject(t, filepath.Join(dir, "local.jsonl")), readObject(t, filepath.Join(dir, "remote.jsonl")); !bytes.Equal(l, r) || len(l) == 0 {
		t.Fatalf("the export from the snapshot in the store differs from the local one:\n%s\n---\n%s", r, l)
	}
	want := readObject(t, filepath.Join(dir, "expected.jsonl"))
	if l := readObject(t, filepath.Join(dir, "local.jsonl")); !bytes.Equal(l, want) {
		t.Fatalf("export from the local snapshot:\n%s", l)
	}

	// A snapshot that cannot be completed leaves nothing under its key: no
	// published policy (checked before writing) and a snapshot of a store
	// that is not there.
	failed := prefix + "views/failed.cgs"
	if _, errOut, code := cg(t, t.TempDir(), "snapshot", "--out", failed); code == 0 {
		t.Fatalf("snapshot of an empty store succeeded: %s", errOut)
	}
	absentObject(t, failed)
	// Killed with the whole file written, before the commit: nothing.
	killed := prefix + "views/killed.cgs"
	t.Setenv("CONSENTGATE_TEST_CRASH", "snapshot-before-commit")
	if _, errOut, code := cg(t, dir, "snapshot", "--out", killed); code != 137 {
		t.Fatalf("the killed snapshot: exit %d %s", code, errOut)
	}
	os.Unsetenv("CONSENTGATE_TEST_CRASH")
	absentObject(t, killed)
	if got := listed(t, prefix+"views/"); !slices.Equal(got, []string{"snap.cgs"}) {
		t.Fatalf("under views/: %q", got)
	}
}

// TestLogTilesOnObjectStores writes the log's tiles to each object store
// and to a local folder: the same objects, byte for byte; a second run
// keeps the tiles already there and writes only what the log grew by.
func TestLogTilesOnObjectStores(t *testing.T) { onStores(t, logTilesOn) }

func logTilesOn(t *testing.T, prefix string) {
	prefix += "log/"
	dir := logged(t)
	var lines bytes.Buffer
	for i := range 300 {
		fmt.Fprintf(&lines, `{"subject":"a%03d","purpose":"train_ai_system","state":"denied","at":"2024-02-01T00:00:00Z","source":"settings"}`+"\n", i)
	}
	os.WriteFile(filepath.Join(dir, "more.jsonl"), lines.Bytes(), 0o644)
	ok(t, dir, "consent", "import", "more.jsonl")
	same := func() {
		t.Helper()
		ok(t, dir, "log", "tiles", "--out", "tiles")
		local := listed(t, filepath.Join(dir, "tiles")+string(filepath.Separator))
		remote := listed(t, prefix)
		if !slices.Equal(local, remote) || !slices.Contains(remote, "checkpoint") || len(remote) < 4 {
			t.Fatalf("tiles in the store %q, in the folder %q", remote, local)
		}
		for _, name := range remote {
			if l, r := readObject(t, filepath.Join(dir, "tiles", name)), readObject(t, prefix+name); !bytes.Equal(l, r) {
				t.Fatalf("%s differs in the store", name)
			}
		}
	}
	out := ok(t, dir, "log", "tiles", "--out", strings.TrimSuffix(prefix, "/")) // with or without the slash
	if !strings.Contains(out, "and the checkpoint to "+strings.TrimSuffix(prefix, "/")) {
		t.Fatalf("log tiles: %s", out)
	}
	same()
	// Again after the log grew: the tiles already there are kept.
	os.WriteFile(filepath.Join(dir, "more2.jsonl"), bytes.ReplaceAll(lines.Bytes(), []byte(`"subject":"a`), []byte(`"subject":"b`)), 0o644)
	ok(t, dir, "consent", "import", "more2.jsonl")
	out = ok(t, dir, "log", "tiles", "--out", prefix)
	if strings.Contains(out, "wrote 0 tiles") {
		t.Fatalf("log tiles after the log grew: %s", out)
	}
	again := ok(t, dir, "log", "tiles", "--out", prefix)
	if !strings.Contains(again, "wrote 0 tiles") {
		t.Fatalf("log tiles with nothing new: %s", again)
	}
	same()
}

// TestFinalizeOnObjectStores runs `export finalize` on a pipeline's
// folder in each object store, to outputs there: the output, rejects and
// manifest appear under their keys; killed after the manifest is logged
// and before the commits, nothing is under them, and the export is marked
// abandoned when the store is next opened. (internal/export's
// TestDeciderShardsFinalize compares a real sharded export's bytes
// finalised from S3 with local.)
func TestFinalizeOnObjectStores(t *testing.T) { onStores(t, finalizeOn) }

func finalizeOn(t *testing.T, prefix string) {
	dir := setupE2E(t)
	// A pipeline's folder: one shard, whose one record was rejected.
	job := `{"purpose":"train_ai_system.generative","recipient":"partner-x","recipient_class":"","as_of":"2025-01-01T00:00:00Z",` +
		`"fields":{"id":"id"},"inputs":[],"shards":1,"rejects":true,"versions":[{"version":"","sha256":""}],"version_at_as_of":0}`
	rejLine := `{"file":"posts.jsonl","line":1,"reason":"malformed: not JSON"}` + "\n"
	files := map[string]string{
		"job.json":            job,
		"shard-00000.json":    `{"read":1,"included":0,"excluded_by_reason":{"malformed: not JSON":1},"versions":[],"subjects":[]}`,
		"out-00000.jsonl":     "",
		"rejects-00000.jsonl": rejLine,
		"leaves-00000.bin":    "",
		"records-00000.bin":   "",
	}
	for name, body := range files {
		w, err := blobio.Create(context.Background(), prefix+"shards/"+name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	out, rej := prefix+"out/x.jsonl", prefix+"out/x.rej"
	ok(t, dir, "export", "finalize", "--dir", prefix+"shards/", "--out", out, "--rejects", rej)
	if got := listed(t, prefix+"out/"); !slices.Equal(got, []string{"x.jsonl", "x.jsonl.manifest.json", "x.rej"}) {
		t.Fatalf("under out/: %q", got)
	}
	if got := string(readObject(t, rej)); got != rejLine {
		t.Fatalf("rejects in the store: %q", got)
	}
	if m := string(readObject(t, out+".manifest.json")); !strings.Contains(m, `"file": "`+out+`"`) {
		t.Fatalf("manifest in the store: %s", m)
	}

	// Killed once the manifest is logged, before any commit.
	killed := prefix + "killed/"
	args := []string{"export", "finalize", "--dir", prefix + "shards", "--out", killed + "y.jsonl", "--rejects", killed + "y.rej"}
	t.Setenv("CONSENTGATE_TEST_CRASH", "after-log")
	if _, errOut, code := cg(t, dir, args...); code != 137 {
		t.Fatalf("the killed finalize: exit %d %s", code, errOut)
	}
	os.Unsetenv("CONSENTGATE_TEST_CRASH")
	if got := listed(t, killed); len(got) != 0 {
		t.Fatalf("a killed finalize left %q under its keys", got)
	}
	for _, name := range []string{"y.jsonl", "y.rej", "y.jsonl.manifest.json"} {
		absentObject(t, killed+name)
	}
	if _, errOut, _ := cg(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-02-01T00:00:00Z"); !strings.Contains(errOut, "marked abandoned") {
		t.Fatalf("the next writer did not mark the killed finalize abandoned: %s", errOut)
	}
}

// s3Export is e2eExport reading its two inputs from under prefix.
func s3Export(prefix string) []string {
	args := slices.Clone(e2eExport)
	i := slices.Index(args, "--in")
	args[i+1], args[i+2] = prefix+args[i+1], prefix+args[i+2]
	return args
}

// putInputs copies the e2e inputs (and any other files named) from dir
// to the S3 server under prefix.
func putInputs(t *testing.T, dir, prefix string, names ...string) {
	t.Helper()
	for _, f := range append([]string{"posts.jsonl", "messages.jsonl"}, names...) {
		blobiotest.Write(t, prefix+f, readObject(t, filepath.Join(dir, f)))
	}
}

// manifestAt reads the manifest under name (local or an object).
func manifestAt(t *testing.T, name string) export.Manifest {
	t.Helper()
	var m export.Manifest
	if err := json.Unmarshal(readObject(t, name), &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// TestExportOnS3 (SPEC §5, "Files anywhere"): `export --in s3://…
// --out/--rejects s3://…` gives the bytes of the same export of local
// files — the output, the rejects (whose lines name the inputs as given)
// and the manifest's digests and records_root — from JSON Lines and from
// Parquet, and `manifest verify` checks the manifest and every file it
// names where they are.
func TestExportOnS3(t *testing.T) {
	prefix := s3Prefix(t)
	dir := setupE2E(t)
	storePath := filepath.Join(dir, "consentgate.db")
	writeWorld(t, dir, "world", pqWorld(t), nestedLine)
	putInputs(t, dir, prefix+"in/", "world.parquet")

	ok(t, dir, append(slices.Clone(e2eExport), "--out", "local.jsonl", "--rejects", "local.rej")...)
	out := prefix + "out/x.jsonl"
	summary := ok(t, dir, append(s3Export(prefix+"in/"), "--out", out, "--rejects", prefix+"out/x.rej", "--lineage", "lineage.jsonl")...)
	if !strings.Contains(summary, "output   "+out+" (sha256 ") || !strings.Contains(summary, "manifest "+out+".manifest.json (records_root ") {
		t.Fatalf("export summary:\n%s", summary)
	}
	if got := listed(t, prefix+"out/"); !slices.Equal(got, []string{"x.jsonl", "x.jsonl.manifest.json", "x.rej"}) {
		t.Fatalf("under out/: %q", got)
	}
	if l, r := readObject(t, filepath.Join(dir, "local.jsonl")), readObject(t, out); !bytes.Equal(l, r) || len(l) == 0 {
		t.Fatalf("the output on S3 differs from the local one:\n%s\n---\n%s", r, l)
	}
	rej := string(readObject(t, prefix+"out/x.rej"))
	for _, f := range []string{"posts.jsonl", "messages.jsonl"} {
		rej = strings.ReplaceAll(rej, `"file":"`+prefix+"in/"+f+`"`, `"file":"`+f+`"`)
	}
	if l := string(readObject(t, filepath.Join(dir, "local.rej"))); rej != l || l == "" {
		t.Fatalf("the rejects on S3 differ from the local ones:\n%s\n---\n%s", rej, l)
	}
	lm, rm := manifestAt(t, filepath.Join(dir, "local.jsonl.manifest.json")), manifestAt(t, out+".manifest.json")
	if lm.Output.SHA256 != rm.Output.SHA256 || lm.RecordsRoot != rm.RecordsRoot || !reflect.DeepEqual(lm.Counts, rm.Counts) || lm.Subjects != rm.Subjects ||
		len(rm.Inputs) != 2 || lm.Inputs[0].SHA256 != rm.Inputs[0].SHA256 || lm.Inputs[1].SHA256 != rm.Inputs[1].SHA256 ||
		rm.Inputs[0].File != prefix+"in/posts.jsonl" || rm.Output.File != out {
		t.Fatalf("manifest on S3 %+v\nlocal %+v", rm, lm)
	}
	if got := exportStatus(t, dir, storePath, lastExportID(t, dir, storePath)); got != "complete" {
		t.Fatalf("the export on S3 is %s", got)
	}

	// manifest verify reads the manifest, the output, the rejects and the
	// inputs from the S3 server.
	v := ok(t, dir, "manifest", "verify", out+".manifest.json")
	for _, want := range []string{"ok   signature", "ok   output " + out, "ok   rejects " + prefix + "out/x.rej",
		"ok   input " + prefix + "in/posts.jsonl", "ok   input " + prefix + "in/messages.jsonl", "ok   log inclusion"} {
		if !strings.Contains(v, want) {
			t.Fatalf("manifest verify: no %q in\n%s", want, v)
		}
	}
	// The lineage events name the objects as OpenLineage does (namespace
	// s3://BUCKET, the key), and a training job that read the output from
	// the bucket is linked to the export.
	bucket, key, _ := strings.Cut(strings.TrimPrefix(out, "s3://"), "/")
	if ev := string(readObject(t, filepath.Join(dir, "lineage.jsonl"))); !strings.Contains(ev, `"outputs":[{"namespace":"s3://`+bucket+`","name":"`+key+`"`) {
		t.Fatalf("lineage events:\n%s", ev)
	}
	train := strings.Replace(runEvent("llm", "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e0f", "2025-02-15T06:00:00Z", key), `"namespace":"file"`, `"namespace":"s3://`+bucket+`"`, 1)
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(train+"\n"), 0o644)
	if got := ok(t, dir, "lineage", "import", "train.jsonl"); !strings.Contains(got, "1 run linked") {
		t.Fatalf("lineage import of a job that read the output from S3: %s", got)
	}

	// A recipient's copy of the output, beside the manifest, is what is
	// checked; a changed one fails.
	blobiotest.Write(t, prefix+"copy/x.jsonl.manifest.json", readObject(t, out+".manifest.json"))
	blobiotest.Write(t, prefix+"copy/x.jsonl", []byte("{}\n"))
	if got, _, code := cg(t, dir, "manifest", "verify", "--only-output", prefix+"copy/x.jsonl.manifest.json"); code != 1 ||
		!strings.Contains(got, "FAIL output "+out+" ") || !strings.Contains(got, "("+prefix+"copy/x.jsonl), the manifest says "+rm.Output.SHA256) {
		t.Fatalf("manifest verify of a changed copy: exit %d\n%s", code, got)
	}

	// A recipient who downloaded the manifest and the output checks them
	// on disk: the output named by its URL is found beside the manifest.
	got := t.TempDir()
	os.WriteFile(filepath.Join(got, "x.jsonl.manifest.json"), readObject(t, out+".manifest.json"), 0o644)
	os.WriteFile(filepath.Join(got, "x.jsonl"), readObject(t, out), 0o644)
	if v := ok(t, got, "manifest", "verify", "--only-output", "--key", filepath.Join(dir, "consentgate.db.keys", "log.pub"), "x.jsonl.manifest.json"); !strings.Contains(v, "ok   output "+out+" ") || !strings.Contains(v, "(x.jsonl)") {
		t.Fatalf("manifest verify of a downloaded copy:\n%s", v)
	}

	// Parquet in the bucket: read in ranges there, the same Parquet bytes.
	fields := []string{"--id", "id", "--time", "created_at", "--category-field", "meta.kind",
		"--subject", "author=meta.author", "--subject", "recipient=to", "--workers", "2"}
	ok(t, dir, exportArgs("world.parquet", "pq.parquet", fields...)...)
	ok(t, dir, exportArgs(prefix+"in/world.parquet", prefix+"out/pq.parquet", fields...)...)
	if l, r := readObject(t, filepath.Join(dir, "pq.parquet")), readObject(t, prefix+"out/pq.parquet"); !bytes.Equal(l, r) || len(l) == 0 {
		t.Fatalf("the Parquet output from S3 (%d bytes) differs from the local one (%d bytes)", len(r), len(l))
	}
	lp, rp := manifestAt(t, filepath.Join(dir, "pq.parquet.manifest.json")), manifestAt(t, prefix+"out/pq.parquet.manifest.json")
	if lp.RecordsRoot != rp.RecordsRoot || lp.Output.SHA256 != rp.Output.SHA256 || lp.Inputs[0].SHA256 != rp.Inputs[0].SHA256 || rp.Output.Format != "parquet" {
		t.Fatalf("Parquet manifest on S3 %+v\nlocal %+v", rp, lp)
	}
}

// TestExportKilledOnS3 (SPEC §5): an export to the S3 server killed once
// its manifest is logged — before any commit, or after the output's or
// the rejects' — leaves nothing that looks complete under its keys: the
// next writing session marks it abandoned and removes what it had
// committed (holding the logged digests). Killed after the manifest's
// commit, all its files there, it is complete. A session that cannot
// reach the server cannot tell, and leaves the export logged.
func TestExportKilledOnS3(t *testing.T) {
	for _, c := range []struct {
		point     string
		committed []string
		want      string
	}{
		{"after-log", nil, "abandoned"},
		{"after-rename-output", []string{"k.jsonl"}, "abandoned"},
		{"after-rename-rejects", []string{"k.jsonl", "k.rej"}, "abandoned"},
		{"after-rename-manifest", []string{"k.jsonl", "k.jsonl.manifest.json", "k.rej"}, "complete"},
	} {
		t.Run(c.point, func(t *testing.T) {
			prefix := s3Prefix(t)
			dir := setupE2E(t)
			storePath := filepath.Join(dir, "consentgate.db")
			putInputs(t, dir, prefix+"in/")
			killed := prefix + "killed/"
			t.Setenv("CONSENTGATE_TEST_CRASH", c.point)
			if _, errOut, code := cg(t, dir, append(s3Export(prefix+"in/"), "--out", killed+"k.jsonl", "--rejects", killed+"k.rej")...); code != 137 {
				t.Fatalf("the killed export: exit %d %s", code, errOut)
			}
			os.Unsetenv("CONSENTGATE_TEST_CRASH")
			if got := listed(t, killed); !slices.Equal(got, c.committed) {
				t.Fatalf("killed %s, under its keys: %q, want %q", c.point, got, c.committed)
			}
			id := lastExportID(t, dir, storePath)

			if c.want == "complete" {
				// The server out of reach: neither a read-only look nor a
				// writing session can tell, and the export stays logged
				// rather than be taken for abandoned.
				endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
				t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
				t.Setenv("AWS_MAX_ATTEMPTS", "1")
				if got := exportStatus(t, dir, storePath, id); got != "logged" {
					t.Fatalf("seen read-only with the server out of reach: %s, want logged", got)
				}
				_, errOut, code := cg(t, dir, "log", "checkpoint")
				if code != 0 || !strings.Contains(errOut, "export "+id+" was logged, and whether its files all appeared cannot be told now") || strings.Contains(errOut, "abandoned") {
					t.Fatalf("a writing command with the server out of reach: exit %d %q", code, errOut)
				}
				if got := exportStatus(t, dir, storePath, id); got != "logged" {
					t.Fatalf("after a writing command with the server out of reach: %s, want logged", got)
				}
				t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
				os.Unsetenv("AWS_MAX_ATTEMPTS")
			}

			if got := exportStatus(t, dir, storePath, id); got != c.want {
				t.Fatalf("seen read-only: %s, want %s", got, c.want)
			}
			_, errOut, code := cg(t, t.TempDir(), "--store", "sqlite:"+storePath, "log", "checkpoint")
			if code != 0 || (c.want == "abandoned") != strings.Contains(errOut, "export "+id+" was logged but its files never all appeared") {
				t.Fatalf("the next writing command: exit %d %q", code, errOut)
			}
			if c.want == "abandoned" {
				for _, f := range c.committed {
					if !strings.Contains(errOut, killed+f) {
						t.Errorf("the warning does not name the removed %s: %s", killed+f, errOut)
					}
				}
				if got := listed(t, killed); len(got) != 0 {
					t.Fatalf("after the abandoned export was settled, under its keys: %q", got)
				}
			} else if got := listed(t, killed); !slices.Equal(got, c.committed) {
				t.Fatalf("after the complete export was settled, under its keys: %q", got)
			}
			if got := exportStatus(t, dir, storePath, id); got != c.want {
				t.Fatalf("after the next writing command: %s, want %s", got, c.want)
			}
			if v, code := verifyJSON(t, dir); code != 0 || !v.OK {
				t.Fatalf("log verify after the crash: %+v", v)
			}
		})
	}
}

// TestExportOnS3Refused: a missing bucket for an output, or a missing
// input object or bucket, is refused before anything is read or logged,
// with a message naming the URL; nothing is written.
func TestExportOnS3Refused(t *testing.T) {
	prefix := s3Prefix(t)
	dir := setupE2E(t)
	putInputs(t, dir, prefix+"in/")
	const noBucket = "consentgate-no-such-bucket"
	size := func() string { return strings.SplitN(ok(t, dir, "log", "verify"), ",", 2)[0] }
	before := size()
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(s3Export(prefix+"in/"), "--out", "s3://"+noBucket+"/x.jsonl"),
			"the output s3://" + noBucket + "/x.jsonl: the bucket " + noBucket + " does not exist"},
		{append(s3Export(prefix+"in/"), "--out", prefix+"out/x.jsonl", "--rejects", "s3://"+noBucket+"/x.rej"),
			"the rejects file s3://" + noBucket + "/x.rej: the bucket " + noBucket + " does not exist"},
		{append(s3Export(prefix+"nothing/"), "--out", prefix+"out/x.jsonl"),
			"input " + prefix + "nothing/posts.jsonl: nothing under the key "},
		{append(s3Export("s3://"+noBucket+"/"), "--out", prefix+"out/x.jsonl"),
			"input s3://" + noBucket + "/posts.jsonl: the bucket " + noBucket + " does not exist"},
	} {
		if _, errOut, code := cg(t, dir, c.args...); code != 1 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d %q, want one line with %q", c.args[len(c.args)-2:], code, errOut, c.want)
		}
	}
	if after := size(); after != before {
		t.Fatalf("refused exports were logged: %s → %s", before, after)
	}
	if got := listed(t, prefix+"out/"); len(got) != 0 {
		t.Fatalf("refused exports wrote %q", got)
	}
}

// TestAzblobURLOptions points the commands at Azurite through gocloud's
// URL options alone (localemu=, protocol=, domain=; the account and key
// from the environment, no AZURE_STORAGE_DOMAIN): a snapshot written,
// verified and exported from, and the log's tiles under a prefix whose
// options stay after its slash.
func TestAzblobURLOptions(t *testing.T) {
	prefix := blobiotest.AzblobPrefix(t)
	opts := "?localemu=true&protocol=http&domain=" + os.Getenv("AZURE_STORAGE_DOMAIN")
	for _, v := range []string{"AZURE_STORAGE_DOMAIN", "AZURE_STORAGE_PROTOCOL", "AZURE_STORAGE_IS_LOCAL_EMULATOR"} {
		t.Setenv(v, "") // for the commands; this process's opener read them already
	}
	dir := setupE2E(t)
	snap := prefix + "views/snap.cgs" + opts
	ok(t, dir, "snapshot", "--as-of", "2025-01-01T00:00:00Z", "--out", snap)
	if out := ok(t, dir, "snapshot", "verify", snap); !strings.Contains(out, "verified "+snap) {
		t.Fatalf("snapshot verify: %s", out)
	}
	args := append(slices.Clone(e2eExport), "--snapshot", snap, "--out", "out.jsonl")
	ok(t, dir, slices.Delete(args, 5, 7)...)
	if got, want := readObject(t, filepath.Join(dir, "out.jsonl")), readObject(t, filepath.Join(dir, "expected.jsonl")); !bytes.Equal(got, want) {
		t.Fatalf("export from the snapshot named with URL options:\n%s", got)
	}
	ok(t, dir, "log", "tiles", "--out", prefix+"log/"+opts)
	if got := listed(t, prefix+"log/"); !slices.Contains(got, "checkpoint") || len(got) < 2 {
		t.Fatalf("under log/: %q", got)
	}
}
