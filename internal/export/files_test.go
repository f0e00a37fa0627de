package export_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/blobio/blobiotest"
	"github.com/consentgate/consentgate/internal/export"
)

// filesWorld is an input of a few megabytes (several batches), with
// excluded and malformed lines, as JSON Lines.
func filesWorld() []byte {
	var in bytes.Buffer
	for i := 0; i < 30_000; i++ {
		author := fmt.Sprintf("u%d", i%100)
		if i%7 == 0 {
			author = fmt.Sprintf("d%d", i%10)
		}
		fmt.Fprintf(&in, `{"id":"r%d","t":"2024-01-01T00:00:00Z","a":%q,"pad":"%s"}`+"\n", i, author, strings.Repeat("x", i%150))
		if i%1000 == 0 {
			in.WriteString("not json\n")
		}
	}
	return in.Bytes()
}

// pqRow is a Parquet input row of the test plan's fields.
type pqRow struct {
	ID  string `parquet:"id"`
	T   string `parquet:"t"`
	A   string `parquet:"a"`
	Pad string `parquet:"pad"`
}

// filesParquet is the same kind of world as Parquet, in row groups of
// 4000 rows.
func filesParquet(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := parquet.NewGenericWriter[pqRow](&b)
	var rows []pqRow
	for i := 0; i < 20_000; i++ {
		author := fmt.Sprintf("u%d", i%100)
		if i%7 == 0 {
			author = fmt.Sprintf("d%d", i%10)
		}
		rows = append(rows, pqRow{fmt.Sprintf("r%d", i), "2024-01-01T00:00:00Z", author, strings.Repeat("y", i%150)})
		if len(rows) == 4000 {
			if _, err := w.Write(rows); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Several row groups: an object's are streamed one after another, each
	// held while it is decoded (the export's spanReader).
	if pf, err := parquet.OpenFile(bytes.NewReader(b.Bytes()), int64(b.Len())); err != nil || len(pf.RowGroups()) != 5 {
		t.Fatalf("the Parquet world: %v, want 5 row groups", err)
	}
	return b.Bytes()
}

// place is where one export of TestExportFilesOnS3 reads and writes.
type place struct{ in, out string }

// exportAt runs the test plan's export of in to out (with out.rej and
// out.manifest.json) and returns its manifest and the three files' bytes.
func exportAt(t *testing.T, in, out string) (*export.Manifest, []byte, []byte, []byte) {
	t.Helper()
	m, err := export.Run(context.Background(), export.Options{Plan: testPlan(t), Fields: testFields, Inputs: []string{in},
		Out: out, Rejects: out + ".rej", Manifest: out + ".manifest.json", Workers: 2, Now: 1, ID: "exp-files"})
	if err != nil {
		t.Fatal(err)
	}
	return m, blobiotest.ReadAll(t, out), blobiotest.ReadAll(t, out+".rej"), blobiotest.ReadAll(t, out+".manifest.json")
}

// TestExportFilesOnS3: the same export read from and written to the S3
// server, in every mix with local files, gives the bytes of the local
// export — output, rejects (whose lines name the input as it was given)
// and manifest digests and records_root — from JSON Lines and from
// Parquet inputs; the manifest written is the one returned.
func TestExportFilesOnS3(t *testing.T) {
	prefix := blobiotest.Prefix(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
	}{{"in.jsonl", filesWorld()}, {"in.parquet", filesParquet(t)}} {
		t.Run(c.name, func(t *testing.T) {
			local, remote := filepath.Join(dir, c.name), prefix+c.name
			if err := os.WriteFile(local, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			blobiotest.Write(t, remote, c.data)
			ext := filepath.Ext(c.name)
			wantM, want, wantRej, _ := exportAt(t, local, filepath.Join(dir, "want"+ext))
			if wantM.Counts.Excluded == 0 || wantM.Counts.Included == 0 {
				t.Fatalf("the world should include and exclude some: %+v", wantM.Counts)
			}
			for _, p := range []place{
				{local, prefix + "out/local-in" + ext},
				{remote, filepath.Join(dir, "remote-in"+ext)},
				{remote, prefix + "out/remote-in" + ext},
			} {
				m, out, rej, man := exportAt(t, p.in, p.out)
				if !bytes.Equal(out, want) {
					t.Errorf("%s → %s: the output differs from the local export's (%d bytes, want %d)", p.in, p.out, len(out), len(want))
				}
				if got := bytes.ReplaceAll(rej, []byte(`"file":"`+remote+`"`), []byte(`"file":"`+local+`"`)); !bytes.Equal(got, wantRej) {
					t.Errorf("%s → %s: the rejects differ from the local export's:\n%.300s\nwant\n%.300s", p.in, p.out, rej, wantRej)
				}
				if m.Output.SHA256 != wantM.Output.SHA256 || m.Output.Bytes != wantM.Output.Bytes || m.RecordsRoot != wantM.RecordsRoot ||
					!reflect.DeepEqual(m.Counts, wantM.Counts) || m.Inputs[0].SHA256 != wantM.Inputs[0].SHA256 || m.Inputs[0].Bytes != wantM.Inputs[0].Bytes {
					t.Errorf("%s → %s: manifest %+v\nwant (local) %+v", p.in, p.out, m, wantM)
				}
				if p.in == local && m.Rejects.SHA256 != wantM.Rejects.SHA256 {
					t.Errorf("%s → %s: rejects sha256 %s, want %s", p.in, p.out, m.Rejects.SHA256, wantM.Rejects.SHA256)
				}
				if m.Output.File != p.out || m.Inputs[0].File != p.in || m.Rejects.File != p.out+".rej" {
					t.Errorf("the manifest names %s, %s, %s", m.Inputs[0].File, m.Output.File, m.Rejects.File)
				}
				if body, _ := export.MarshalManifest(m); !bytes.Equal(body, man) {
					t.Errorf("%s: the manifest written is not the one returned", p.out+".manifest.json")
				}
			}
		})
	}
}

// TestExportFilesOnS3Fail: an export to the S3 server that fails once its
// outputs are complete (the log append refused) leaves nothing under the
// final keys and no pending upload; a missing bucket, output or input, or
// a missing input key is refused before anything is read or logged,
// naming the URL.
func TestExportFilesOnS3Fail(t *testing.T) {
	prefix := blobiotest.Prefix(t)
	in := prefix + "in.jsonl"
	blobiotest.Write(t, in, filesWorld())
	bucket, _, _ := strings.Cut(strings.TrimPrefix(prefix, "s3://"), "/")
	run := func(o export.Options) (called bool, err error) {
		o.Plan, o.Fields, o.Workers, o.Now = testPlan(t), testFields, 2, 1
		if o.Inputs == nil {
			o.Inputs = []string{in}
		}
		o.BeforeRename = func(*export.Manifest, *export.Included) error {
			called = true
			return errors.New("the log append failed")
		}
		_, err = export.Run(context.Background(), o)
		return called, err
	}

	out := prefix + "failed/o.jsonl"
	called, err := run(export.Options{Out: out, Rejects: out + ".rej"})
	if !called || err == nil || err.Error() != "the log append failed" {
		t.Fatalf("the hook's failure: called %v, %v", called, err)
	}
	if es, err := blobio.List(context.Background(), prefix+"failed/"); err != nil || len(es) != 0 {
		t.Fatalf("a failed export left %v (%v)", es, err)
	}
	for _, name := range []string{out, out + ".rej", out + ".manifest.json"} {
		if ups := blobiotest.Pending(t, name); len(ups) != 0 {
			t.Errorf("%s: pending uploads %v after the failed export", name, ups)
		}
	}

	const noBucket = "consentgate-no-such-bucket"
	for _, c := range []struct {
		name string
		o    export.Options
		want string
	}{
		{"output bucket", export.Options{Out: "s3://" + noBucket + "/o.jsonl"},
			"the output s3://" + noBucket + "/o.jsonl: the bucket " + noBucket + " does not exist"},
		{"rejects bucket", export.Options{Out: prefix + "x/o.jsonl", Rejects: "s3://" + noBucket + "/o.rej"},
			"the rejects file s3://" + noBucket + "/o.rej: the bucket " + noBucket + " does not exist"},
		{"manifest bucket", export.Options{Out: prefix + "x/o.jsonl", Manifest: "s3://" + noBucket + "/m.json"},
			"the manifest s3://" + noBucket + "/m.json: the bucket " + noBucket + " does not exist"},
		{"input key", export.Options{Out: prefix + "x/o.jsonl", Inputs: []string{prefix + "missing.jsonl"}},
			"input " + prefix + "missing.jsonl: nothing under the key " + strings.TrimPrefix(prefix, "s3://"+bucket+"/") + "missing.jsonl"},
		{"input bucket", export.Options{Out: prefix + "x/o.jsonl", Inputs: []string{"s3://" + noBucket + "/in.parquet"}},
			"input s3://" + noBucket + "/in.parquet: the bucket " + noBucket + " does not exist"},
		{"input is output", export.Options{Out: in},
			in + " is named twice among the inputs and outputs: an export never overwrites its own input or writes two outputs to one file"},
		{"no key", export.Options{Out: prefix + "x/"},
			prefix + "x/: the URL names no object (want s3://" + bucket + "/KEY)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			called, err := run(c.o)
			if err == nil || called || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v (hook called: %v), want %q", err, called, c.want)
			}
		})
	}
	if es, err := blobio.List(context.Background(), prefix+"x/"); err != nil || len(es) != 0 {
		t.Fatalf("refused exports left %v (%v)", es, err)
	}
	// The outputs checked writable there (by a trial upload) have no
	// pending upload left either.
	for _, name := range []string{prefix + "x/o.jsonl", prefix + "x/o.jsonl.manifest.json"} {
		if ups := blobiotest.Pending(t, name); len(ups) != 0 {
			t.Errorf("%s: the writability check left pending uploads %v", name, ups)
		}
	}
}

func TestDefaultManifest(t *testing.T) {
	for in, want := range map[string]string{
		"out.jsonl":                         "out.jsonl.manifest.json",
		"s3://b/k/out.jsonl":                "s3://b/k/out.jsonl.manifest.json",
		"s3://b/out.jsonl?region=eu-west-1": "s3://b/out.jsonl.manifest.json?region=eu-west-1",
		"dir/out?x.jsonl":                   "dir/out?x.jsonl.manifest.json", // a local name may hold a ?
	} {
		if got := export.DefaultManifest(in); got != want {
			t.Errorf("DefaultManifest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExportFilesOnS3Multipart: an output larger than one part
// (blobio.PartSize) is sent in parts while the export runs and completed
// only after the hook: it is the local export's bytes; refused by the
// hook, its upload is aborted with the parts already sent, and nothing is
// under the final keys.
func TestExportFilesOnS3Multipart(t *testing.T) {
	prefix := blobiotest.Prefix(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	world := filesWorld()
	if err := os.WriteFile(in, bytes.Repeat(world, (2*blobio.PartSize)/len(world)+2), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want, wantRej, _ := exportAt(t, in, filepath.Join(dir, "want.jsonl"))
	if len(want) <= blobio.PartSize {
		t.Fatalf("the output (%d bytes) should be larger than one part", len(want))
	}
	out := prefix + "big/out.jsonl"
	_, got, rej, _ := exportAt(t, in, out)
	if !bytes.Equal(got, want) || !bytes.Equal(rej, wantRej) {
		t.Fatalf("the output in parts (%d bytes) differs from the local one (%d bytes)", len(got), len(want))
	}

	failed := prefix + "failed/out.jsonl"
	var parts int32
	_, err := export.Run(context.Background(), export.Options{Plan: testPlan(t), Fields: testFields, Inputs: []string{in},
		Out: failed, Workers: 2, Now: 1,
		BeforeRename: func(*export.Manifest, *export.Included) error {
			parts = int32(len(blobiotest.Pending(t, failed)))
			return errors.New("the log append failed")
		}})
	if err == nil || parts != 1 {
		t.Fatalf("export: %v; pending uploads of the output at the hook: %d, want 1 (its parts being sent)", err, parts)
	}
	if es, err := blobio.List(context.Background(), prefix+"failed/"); err != nil || len(es) != 0 {
		t.Fatalf("a failed export left %v (%v)", es, err)
	}
	if ups := blobiotest.Pending(t, failed); len(ups) != 0 {
		t.Fatalf("a failed export left pending uploads %v", ups)
	}
}
