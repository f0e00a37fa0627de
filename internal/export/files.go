package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/faults"
)

// The files an export reads and writes (SPEC §5, "Files anywhere"): each
// input, output, rejects file and manifest is a local path or an
// object-store URL (s3://bucket/key, gs://, azblob://), in any mix.
//
//   - A local file takes the code paths it always took: os files, a
//     temporary file beside each output, renamed into place.
//   - An input object is read where it lives, never copied to disk first:
//     JSON Lines as one streamed ranged GET, Parquet through ranged reads
//     of its footer and column chunks.
//   - An output object waits in the store's pending upload (blobio.Writer:
//     an S3 multipart upload) until the export is logged, and is committed
//     where a local output is renamed, in the same order: output, rejects,
//     manifest last. A failed or killed export leaves nothing under the
//     final keys.
//   - What a local output's folder is checked for before anything is read
//     or logged (there, and writable), an object's bucket is
//     (blobio.CheckWritable: there, and for S3 a trial upload started and
//     aborted under the key).

// An output is one of an export's files while it is written: a local
// one's temporary file beside it, or an object's pending upload.
type output struct {
	final string
	f     *os.File
	ff    flushingFile // f, written back as it goes
	w     *blobio.Writer
	n     int64
}

// createOutput starts writing final: a temporary file beside a local
// path (atomicfile.Temp), or the pending upload of an object.
func createOutput(ctx context.Context, final string) (*output, error) {
	o := &output{final: final}
	if blobio.IsURL(final) {
		w, err := blobio.Create(ctx, final)
		if err != nil {
			return nil, err
		}
		o.w = w
		return o, nil
	}
	f, err := atomicfile.Temp(final)
	if err != nil {
		return nil, err
	}
	o.f, o.ff.f = f, f
	return o, nil
}

func (o *output) Write(p []byte) (int, error) {
	var n int
	var err error
	if o.f != nil {
		n, err = o.ff.Write(p)
	} else {
		n, err = o.w.Write(p)
	}
	o.n += int64(n)
	return n, err
}

// size is the number of bytes written.
func (o *output) size() int64 { return o.n }

// finish makes a local output durable under its temporary name; an
// object's bytes wait in its upload until commit.
func (o *output) finish() error {
	if o.f != nil {
		return atomicfile.SyncClose(o.f)
	}
	return nil
}

// Close closes a local output's temporary file (what abort and commit
// leave in place is theirs to say); an object holds nothing open.
func (o *output) Close() error {
	if o.f != nil {
		return o.f.Close()
	}
	return nil
}

// commit puts the output under its final name.
func (o *output) commit() error {
	if o.f != nil {
		if err := os.Rename(o.f.Name(), o.final); err != nil {
			return atomicfile.Named(err, o.f.Name(), o.final)
		}
		return nil
	}
	return o.w.Commit()
}

// abort removes what an unfinished output wrote: nothing stays under its
// final name.
func (o *output) abort() {
	if o.f != nil {
		o.f.Close()
		os.Remove(o.f.Name())
		return
	}
	o.w.Abort()
}

// commitAll puts the outputs (output, rejects, manifest: the order they
// were created in) under their final names in that order, the manifest
// last, and makes the local renames durable. After each commit is a
// fault-injection point, "after-rename-" and the output's role: output,
// rejects, manifest.
func commitAll(outs []*output) error {
	for i, o := range outs {
		if err := o.commit(); err != nil {
			return err
		}
		role := "rejects"
		switch {
		case i == 0:
			role = "output"
		case i == len(outs)-1:
			role = "manifest"
		}
		faults.Point("after-rename-" + role)
	}
	seen := map[string]bool{}
	for _, o := range outs {
		if d := filepath.Dir(o.final); o.f != nil && !seen[d] {
			seen[d] = true
			atomicfile.SyncDir(d)
		}
	}
	return nil
}

// tempFile starts one of the export's outputs; cleanup ends those not
// committed.
func (e *exporter) tempFile(final string) (*output, error) {
	o, err := createOutput(e.ctx, final)
	if err != nil {
		return nil, err
	}
	e.outs = append(e.outs, o)
	if o.f != nil {
		if e.finals == nil {
			e.finals = map[string]string{}
		}
		e.finals[o.f.Name()] = final
	}
	return o, nil
}

func (e *exporter) cleanup() {
	for _, o := range e.outs {
		o.abort()
	}
}

// DefaultManifest is where an export's manifest goes when none is named:
// beside the output, its name with .manifest.json added (before an
// object-store URL's bucket options, ?region=…).
func DefaultManifest(out string) string {
	if blobio.IsURL(out) {
		if name, query, ok := strings.Cut(out, "?"); ok {
			return name + ".manifest.json?" + query
		}
	}
	return out + ".manifest.json"
}

// inputSize checks that an input is there, a file, and returns its size:
// a local file by its status, an object by its attributes (a missing
// bucket or key named as such).
func inputSize(ctx context.Context, in string) (int64, error) {
	if blobio.IsURL(in) {
		size, err := blobio.CheckReadable(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("input %w", err)
		}
		return size, nil
	}
	st, err := os.Stat(in)
	if err != nil {
		return 0, fmt.Errorf("input %s: %w", in, err)
	}
	if st.IsDir() {
		return 0, fmt.Errorf("input %s is a directory", in)
	}
	return st.Size(), nil
}

// openInput opens an input to read it from start to end: a local file,
// or an object streamed in one ranged GET.
func openInput(ctx context.Context, path string) (io.ReadCloser, error) {
	if !blobio.IsURL(path) {
		return os.Open(path)
	}
	r, err := blobio.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	rc, err := r.NewRangeReader(ctx, 0, -1)
	if err != nil {
		r.Close()
		return nil, err
	}
	return rc, nil
}

// copyAll copies the whole of r to w: a local file through its own
// reads, an object in one streamed ranged GET (not one request per
// io.Copy buffer).
func copyAll(ctx context.Context, w io.Writer, r *blobio.Reader) (int64, error) {
	rc, err := r.NewRangeReader(ctx, 0, -1)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(w, rc)
}

// checkOutputs refuses outputs (by what they are: the output, the
// manifest, the rejects file) that could not be renamed into place once the
// export is logged: a path that is a directory, in a folder that does not
// exist; an object in a bucket that is not there or not writable.
func checkOutputs(ctx context.Context, outs map[string]string) error {
	for _, role := range []string{"output", "rejects file", "manifest"} {
		out := outs[role]
		if out == "" {
			continue
		}
		if blobio.IsURL(out) {
			if err := blobio.CheckWritable(ctx, out); err != nil {
				return fmt.Errorf("the %s %w", role, err)
			}
			continue
		}
		if fi, err := os.Stat(out); err == nil && fi.IsDir() {
			return fmt.Errorf("the %s %s is a directory: name a file", role, out)
		}
		dir := filepath.Dir(out)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("the %s %s: the folder %s does not exist", role, out, dir)
		}
	}
	return nil
}

// outputError words a failure to create an output's temporary file with
// the output's own path.
func outputError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) && !blobio.IsURL(path) {
		return fmt.Errorf("output %s: the folder %s is not writable", path, filepath.Dir(path))
	}
	return fmt.Errorf("output %s: %w", path, err)
}

// sameFile reports whether two names name the same file (or would): two
// local paths by their cleaned form or their file, an object by its URL.
func sameFile(a, b string) bool {
	if blobio.IsURL(a) || blobio.IsURL(b) {
		return a == b
	}
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
