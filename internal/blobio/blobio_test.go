package blobio_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/blobio/blobiotest"
)

// s3Prefix points the process at the test server and returns a fresh
// s3://BUCKET/RUN/ prefix for one test, failing with the reason when the
// server does not answer.
func s3Prefix(t testing.TB) string { return blobiotest.Prefix(t) }

func s3Client(t testing.TB) *s3.Client {
	t.Helper()
	c, err := blobio.S3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// places runs a test on a local directory and on each object store's
// server: S3 (SeaweedFS), GCS (fake-gcs-server), Azure (Azurite).
func places(t *testing.T, f func(t *testing.T, prefix string)) {
	t.Run("local", func(t *testing.T) { f(t, t.TempDir()+string(filepath.Separator)) })
	for _, s := range blobiotest.Stores {
		t.Run(s.Scheme, func(t *testing.T) { f(t, s.Prefix(t)) })
	}
}

// scheme is the URL scheme of name, "" for a local path.
func scheme(name string) string {
	if !blobio.IsURL(name) {
		return ""
	}
	s, _, _ := strings.Cut(name, "://")
	return s
}

func randomBytes(n int, seed uint64) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func write(t *testing.T, name string, data []byte) { blobiotest.Write(t, name, data) }

func readAll(t *testing.T, name string) []byte { return blobiotest.ReadAll(t, name) }

func absent(t *testing.T, name string) {
	t.Helper()
	_, err := blobio.Open(context.Background(), name)
	if !errors.Is(err, blobio.ErrNotExist) {
		t.Fatalf("%s: Open = %v, want nothing there (ErrNotExist)", name, err)
	}
}

// names lists under base+sub, each name without base.
func names(t *testing.T, base, sub string) []string {
	t.Helper()
	prefix := base + sub
	es, err := blobio.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimPrefix(e.Name, base))
	}
	return out
}

// TestCommitReadBack writes objects of several sizes — empty, smaller than
// a part, several parts with a short last one — and reads each back whole.
func TestCommitReadBack(t *testing.T) {
	places(t, func(t *testing.T, prefix string) {
		for _, size := range []int{0, 1, 1000, 2*blobio.PartSize + 12345} {
			name := fmt.Sprintf("%sobj-%d.bin", prefix, size)
			data := randomBytes(size, uint64(size))
			ctx := context.Background()
			w, err := blobio.Create(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			// Written in uneven pieces, as an export's buffers are.
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+len(rest)/3)
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			absent(t, name) // nothing before Commit
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, name); !bytes.Equal(got, data) {
				t.Fatalf("%s: read back %d bytes, differing from the %d written", name, len(got), len(data))
			}
			if err := w.Commit(); !errors.Is(err, blobio.ErrDone) {
				t.Fatalf("second Commit = %v, want ErrDone", err)
			}
		}
	})
}

// TestCommitReplaces: a commit over an existing file replaces it whole;
// an abort over one leaves it as it was.
func TestCommitReplaces(t *testing.T) {
	places(t, func(t *testing.T, prefix string) {
		name := prefix + "out.jsonl"
		write(t, name, []byte("old\n"))
		w, err := blobio.Create(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("new, longer\n"))
		if got := readAll(t, name); string(got) != "old\n" {
			t.Fatalf("before Commit: %q, want the old file", got)
		}
		w.Commit()
		if got := readAll(t, name); string(got) != "new, longer\n" {
			t.Fatalf("after Commit: %q", got)
		}
		w, _ = blobio.Create(context.Background(), name)
		w.Write([]byte("never"))
		w.Abort()
		if got := readAll(t, name); string(got) != "new, longer\n" {
			t.Fatalf("after Abort: %q, want the committed file unchanged", got)
		}
	})
}

// TestRangedReads reads ranges of an object through ReadAt (io.ReaderAt's
// contract, short reads at the end) and NewRangeReader, concurrently.
func TestRangedReads(t *testing.T) {
	places(t, func(t *testing.T, prefix string) {
		const size = 3<<20 + 17
		data := randomBytes(size, 7)
		name := prefix + "ranged.bin"
		write(t, name, data)
		r, err := blobio.Open(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Size() != size {
			t.Fatalf("Size = %d, want %d", r.Size(), size)
		}
		cases := []struct {
			name    string
			off, n  int64
			wantN   int
			wantEOF bool
		}{
			{"head", 0, 100, 100, false},
			{"middle", 1 << 20, 1 << 20, 1 << 20, false},
			{"footer", size - 8, 8, 8, false},
			{"past the end", size - 5, 10, 5, true},
			{"at the end", size, 10, 0, true},
			{"empty", 10, 0, 0, false},
		}
		errc := make(chan error, len(cases))
		for _, c := range cases {
			go func() {
				p := make([]byte, c.n)
				n, err := r.ReadAt(p, c.off)
				switch {
				case n != c.wantN:
					errc <- fmt.Errorf("%s: ReadAt read %d bytes, want %d (err %v)", c.name, n, c.wantN, err)
				case c.wantEOF && err != io.EOF, !c.wantEOF && err != nil:
					errc <- fmt.Errorf("%s: ReadAt error %v", c.name, err)
				case !bytes.Equal(p[:n], data[c.off:c.off+int64(n)]):
					errc <- fmt.Errorf("%s: ReadAt bytes differ", c.name)
				default:
					errc <- nil
				}
			}()
		}
		for range cases {
			if err := <-errc; err != nil {
				t.Error(err)
			}
		}
		rc, err := r.NewRangeReader(context.Background(), 1000, 5000)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data[1000:6000]) {
			t.Fatalf("NewRangeReader(1000, 5000): %d bytes, err %v", len(got), err)
		}
		rc, err = r.NewRangeReader(context.Background(), size-3, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ = io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data[size-3:]) {
			t.Fatalf("NewRangeReader(size-3, -1) = %x", got)
		}
		absent(t, prefix+"nothing-here")
	})
}

// TestAbortLeavesNothing: an aborted write of several parts leaves nothing
// under its name or its prefix, and (on S3) no pending multipart upload.
func TestAbortLeavesNothing(t *testing.T) {
	places(t, func(t *testing.T, prefix string) {
		name := prefix + "aborted/out.parquet"
		if !blobio.IsURL(prefix) {
			os.MkdirAll(filepath.Dir(name), 0o755)
		}
		w, err := blobio.Create(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randomBytes(3*blobio.PartSize, 1)); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); !errors.Is(err, blobio.ErrDone) {
			t.Fatalf("Commit after Abort = %v, want ErrDone", err)
		}
		absent(t, name)
		if got := names(t, prefix, ""); len(got) != 0 {
			t.Fatalf("after Abort, under the prefix: %q", got)
		}
		if !blobio.IsURL(prefix) {
			if ents, _ := os.ReadDir(filepath.Dir(name)); len(ents) != 0 {
				t.Fatalf("after Abort the directory holds %v", ents)
			}
			return
		}
		// S3's abort removes the upload and its parts. Azure has no
		// request that drops uncommitted blocks (they go with the next
		// commit to the name, or after a week): what was staged stays,
		// never an object. GCS lists no upload sessions.
		if scheme(name) == "s3" {
			if ups := blobiotest.Pending(t, name); len(ups) != 0 {
				t.Fatalf("after Abort, pending multipart uploads: %v", ups)
			}
		}
	})
}

// The killed writer: TestKilledWriterLeavesNothing re-runs this test
// binary with these variables; the child writes parts to the name, says
// so on stdout and waits to be killed with SIGKILL before Commit.
const (
	childName  = "CONSENTGATE_BLOBIO_CHILD_NAME"
	childBytes = 3 * blobio.PartSize
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childName); name != "" {
		os.Exit(killedWriter(name))
	}
	os.Exit(m.Run())
}

func killedWriter(name string) int {
	w, err := blobio.Create(context.Background(), name)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if _, err := w.Write(randomBytes(childBytes, 2)); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("written")
	time.Sleep(time.Minute) // killed here, before Commit
	w.Commit()
	return 0
}

// TestKilledWriterLeavesNothing: a writer killed with SIGKILL after
// writing several parts, before Commit, leaves nothing under the final
// name or its prefix. On S3 its parts wait in an incomplete multipart
// upload, which the test sees and then aborts; on Azure they wait as the
// blob's uncommitted blocks, which the test sees (Azure drops them after
// a week, or with the next commit to the name); on GCS in a resumable
// upload session, which the API lists nowhere: there the child's word is
// the evidence (the storage client's Write returns only once its upload
// has read the bytes, and it reads a chunk only after sending the one
// before, so of 3 parts written at least 2 were sent); locally its
// temporary file is what atomicfile.CleanStale removes.
func TestKilledWriterLeavesNothing(t *testing.T) {
	places(t, func(t *testing.T, prefix string) {
		name := prefix + "killed/out.jsonl"
		if !blobio.IsURL(prefix) {
			os.MkdirAll(filepath.Dir(name), 0o755)
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childName+"="+name)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the child's word, then (on S3) for its parts to be on
		// the server, so the kill lands mid-upload.
		line := make(chan string, 1)
		go func() {
			l, _ := bufio.NewReader(out).ReadString('\n')
			line <- l
		}()
		deadline := time.Now().Add(60 * time.Second)
		select {
		case l := <-line:
			if !strings.HasPrefix(l, "written") {
				cmd.Process.Kill()
				t.Fatalf("the writer child said %q", l)
			}
		case <-time.After(time.Until(deadline)):
			cmd.Process.Kill()
			t.Fatal("the writer did not write its parts within 60 s")
		}
		if sc := scheme(name); sc == "s3" || sc == "azblob" {
			for len(blobiotest.Pending(t, name)) == 0 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("nothing pending on %s appeared for the killed writer", sc)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		absent(t, name)
		if got := names(t, prefix, ""); len(got) != 0 {
			t.Fatalf("after the kill, under the prefix: %q", got)
		}
		if !blobio.IsURL(name) {
			tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(name), ".out.jsonl.tmp-*"))
			if len(tmps) != 1 {
				t.Fatalf("want the killed writer's one temporary file, found %v", tmps)
			}
			return
		}
		switch scheme(name) {
		case "azblob":
			if ids := blobiotest.Pending(t, name); len(ids) == 0 {
				t.Fatal("the killed writer's uncommitted blocks are gone: was it killed mid-upload?")
			}
			// A commit to the name after the kill, of one block (Put Blob)
			// and of several (Put Block List), makes its blob whole; the
			// block list drops the blocks it does not name. (Azure's
			// documentation says Put Blob drops them too; Azurite 3.35.0
			// keeps them through it.)
			write(t, name, []byte("after the kill\n"))
			t.Logf("after a Put Blob: %d uncommitted blocks left", len(blobiotest.Pending(t, name)))
			if got := readAll(t, name); string(got) != "after the kill\n" {
				t.Fatalf("after the kill, a commit reads back %q", got)
			}
			big := randomBytes(2*blobio.PartSize+1, 3)
			write(t, name, big)
			if ids := blobiotest.Pending(t, name); len(ids) != 0 {
				t.Fatalf("after a Put Block List, %d uncommitted blocks are left", len(ids))
			}
			if got := readAll(t, name); !bytes.Equal(got, big) {
				t.Fatalf("after the kill, a commit of several blocks reads back %d bytes, not the %d written", len(got), len(big))
			}
			return
		case "gs":
			return
		}
		ids := blobiotest.Pending(t, name)
		if len(ids) != 1 {
			t.Fatalf("want the killed writer's one incomplete upload, found %v", ids)
		}
		bucket, key, _ := strings.Cut(strings.TrimPrefix(name, "s3://"), "/")
		if _, err := s3Client(t).AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(ids[0]),
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestList lists files under a prefix: nested names in order, sizes, and
// neither an uncommitted write nor a name merely sharing a directory.
func TestList(t *testing.T) {
	places(t, func(t *testing.T, prefix string) {
		local := !blobio.IsURL(prefix)
		if local {
			os.MkdirAll(prefix+"shards/sub", 0o755)
			os.MkdirAll(prefix+"other", 0o755)
		}
		for _, n := range []string{"shards/part-00001", "shards/part-00000", "shards/sub/part-9", "shards/index", "other/part-00000"} {
			write(t, prefix+n, []byte(n))
		}
		pending, err := blobio.Create(context.Background(), prefix+"shards/part-00002")
		if err != nil {
			t.Fatal(err)
		}
		pending.Write([]byte("pending"))
		defer pending.Abort()

		got := names(t, prefix, "shards/part-")
		want := []string{"shards/part-00000", "shards/part-00001"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List(shards/part-) = %q, want %q", got, want)
		}
		got = names(t, prefix, "shards/")
		want = []string{"shards/index", "shards/part-00000", "shards/part-00001", "shards/sub/part-9"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List(shards/) = %q, want %q", got, want)
		}
		es, _ := blobio.List(context.Background(), prefix+"shards/index")
		if len(es) != 1 || es[0].Size != int64(len("shards/index")) {
			t.Fatalf("List(shards/index) = %+v", es)
		}
		if got := names(t, prefix, "nothing/"); len(got) != 0 {
			t.Fatalf("List(nothing/) = %q", got)
		}
		for _, n := range want {
			if err := blobio.Remove(context.Background(), prefix+n); err != nil {
				t.Fatal(err)
			}
		}
		if got := names(t, prefix, "shards/"); len(got) != 0 {
			t.Fatalf("after Remove: %q", got)
		}
	})
}

// TestNames: what is a URL, and bad URLs refused with the reason.
func TestNames(t *testing.T) {
	for _, c := range []struct {
		name string
		url  bool
	}{
		{"s3://b/k", true}, {"gs://b/k", true}, {"azblob://c/k", true},
		{"out.jsonl", false}, {"/tmp/x", false}, {"./s3:/x", false}, {"http://h/x", false},
	} {
		if got := blobio.IsURL(c.name); got != c.url {
			t.Errorf("IsURL(%q) = %v", c.name, got)
		}
	}
	for _, bad := range []string{"s3:///key", "s3://bucket", "s3://bucket/dir/"} {
		if _, err := blobio.Create(context.Background(), bad); err == nil {
			t.Errorf("Create(%q) did not fail", bad)
		}
	}
}

// TestEndpointVariables: AWS_ENDPOINT_URL alone names the server as well
// as AWS_ENDPOINT_URL_S3 does (which wins when both are set), and a
// missing object or a second Remove is ErrNotExist.
func TestEndpointVariables(t *testing.T) {
	prefix := s3Prefix(t)
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	name := prefix + "generic-endpoint"
	write(t, name, []byte("via AWS_ENDPOINT_URL"))
	if got := readAll(t, name); string(got) != "via AWS_ENDPOINT_URL" {
		t.Fatalf("read back %q", got)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	if got := readAll(t, name); string(got) != "via AWS_ENDPOINT_URL" {
		t.Fatalf("with AWS_ENDPOINT_URL_S3 set too: read back %q", got)
	}
	if err := blobio.Remove(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if err := blobio.Remove(context.Background(), name); !errors.Is(err, blobio.ErrNotExist) {
		t.Fatalf("second Remove = %v, want ErrNotExist", err)
	}
	absent(t, name)
}

// TestAzblobURLOptions: gocloud's azblob:// URL options (localemu=,
// protocol=, domain=) pass through blobio's names to the service URL —
// over AZURE_STORAGE_DOMAIN — and stay on every name List returns.
func TestAzblobURLOptions(t *testing.T) {
	prefix := blobiotest.AzblobPrefix(t)
	opts := "?localemu=true&protocol=http&domain=" + os.Getenv("AZURE_STORAGE_DOMAIN")
	name := prefix + "opts/x.bin"
	write(t, name+opts, []byte("via URL options"))
	if got := readAll(t, name); string(got) != "via URL options" {
		t.Fatalf("without the options: read back %q", got)
	}
	es, err := blobio.List(context.Background(), prefix+"opts/"+opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Name != name+opts {
		t.Fatalf("List with the options = %+v, want %s", es, name+opts)
	}
	if got := readAll(t, es[0].Name); string(got) != "via URL options" {
		t.Fatalf("the listed name: read back %q", got)
	}
	// A domain where nothing answers: the request goes there.
	dead := name + "?localemu=true&protocol=http&domain=127.0.0.1:1"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // the SDK's retries would take 10 s
	defer cancel()
	if _, err := blobio.Open(ctx, dead); err == nil || errors.Is(err, blobio.ErrNotExist) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Open(%s) = %v, want a failure to reach 127.0.0.1:1", dead, err)
	}
}

// TestMissingAndRefusedWords: what a command prints when a URL's bucket
// is not there, when nothing is under its key, and when the store
// refuses the credentials — from Open and List alike, each naming the URL.
func TestMissingAndRefusedWords(t *testing.T) {
	ctx := context.Background()
	s3p := blobiotest.Prefix(t)
	az := blobiotest.AzblobPrefix(t)
	cases := []struct {
		name, want string
		is         []error
	}{
		{"s3://no-such-bucket-cg/k.json", "s3://no-such-bucket-cg/k.json: the bucket no-such-bucket-cg does not exist", []error{blobio.ErrNoBucket, blobio.ErrNotExist}},
		{s3p + "nothing/k.json", s3p + "nothing/k.json: nothing under the key ", []error{blobio.ErrNotExist}},
		{s3p + "raw/*.jsonl", "(a name is taken as it is, not as a pattern: name each object)", []error{blobio.ErrNotExist}},
		{"azblob://no-such-container-cg/k.json", "azblob://no-such-container-cg/k.json: the container no-such-container-cg does not exist", []error{blobio.ErrNoBucket}},
		{az + "nothing/k.json", "nothing under the key ", []error{blobio.ErrNotExist}},
	}
	for _, c := range cases {
		_, err := blobio.Open(ctx, c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) = %v, want %q", c.name, err, c.want)
		}
		for _, target := range c.is {
			if !errors.Is(err, target) {
				t.Errorf("Open(%s) = %v, not %v", c.name, err, target)
			}
		}
	}
	if _, err := blobio.List(ctx, "s3://no-such-bucket-cg/p/"); err == nil || !strings.Contains(err.Error(), "the bucket no-such-bucket-cg does not exist") {
		t.Errorf("List of a missing bucket = %v", err)
	}
	name := s3p + "refused/k.json"
	write(t, name, []byte("x"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	// A bucket is opened once per process and endpoint: a new endpoint
	// spelling gives a client with the wrong secret.
	t.Setenv("AWS_ENDPOINT_URL_S3", strings.Replace(blobio.Endpoint(), "127.0.0.1", "localhost", 1))
	_, err := blobio.Open(ctx, name)
	if err == nil || !strings.Contains(err.Error(), name+": the store refused the credentials, or none were found (s3:// uses AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") {
		t.Errorf("Open with a wrong secret = %v", err)
	}
}
