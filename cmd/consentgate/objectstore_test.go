package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/blobio/blobiotest"
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
