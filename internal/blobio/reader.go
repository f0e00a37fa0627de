package blobio

import (
	"context"
	"io"
	"os"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// A Reader reads one file, local or in an object store, in ranges.
//
// ReadAt on an object is one ranged GET per call: read in large pieces
// (a Parquet footer, a row group, megabytes of lines), or stream a range
// with NewRangeReader. A Reader is safe for concurrent ReadAt and
// NewRangeReader calls, so workers can read their own ranges in parallel.
type Reader struct {
	name string
	size int64
	f    *os.File     // a local file
	b    *blob.Bucket // or an object: its bucket
	key  string       // and key
	ctx  context.Context
}

// Open opens name for reading: a local path (opened with os.Open) or an
// object-store URL. It fails with an error wrapping ErrNotExist when
// nothing is there. For an object, ctx bounds the reads made through
// ReadAt as well as Open's own request.
func Open(ctx context.Context, name string) (*Reader, error) {
	if !IsURL(name) {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if st.IsDir() {
			f.Close()
			return nil, &os.PathError{Op: "open", Path: name, Err: errIsDir}
		}
		return &Reader{name: name, size: st.Size(), f: f, ctx: ctx}, nil
	}
	l, b, err := locate(ctx, name, true)
	if err != nil {
		return nil, err
	}
	attrs, err := b.Attributes(ctx, l.key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, missing(ctx, b, l, name)
	}
	if err != nil {
		return nil, wrap(name, err)
	}
	return &Reader{name: name, size: attrs.Size, b: b, key: l.key, ctx: ctx}, nil
}

// Name is the name the Reader was opened with.
func (r *Reader) Name() string { return r.name }

// Size is the file's size in bytes when it was opened.
func (r *Reader) Size() int64 { return r.size }

// ReadAt reads len(p) bytes at off, as io.ReaderAt does: fewer only with
// an error, io.EOF at the end of the file.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if r.f != nil {
		return r.f.ReadAt(p, off)
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	want := int64(len(p))
	short := false
	if off+want > r.size {
		want, short = r.size-off, true
	}
	rc, err := r.b.NewRangeReader(r.ctx, r.key, off, want, nil)
	if err != nil {
		return 0, wrap(r.name, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			// The object shrank or was replaced since Open.
			return n, wrap(r.name, io.ErrUnexpectedEOF)
		}
		return n, wrap(r.name, err)
	}
	if short {
		return n, io.EOF
	}
	return n, nil
}

// NewRangeReader streams length bytes from off (to the end when length is
// negative): for an object one GET of that range, read as it arrives.
// The caller closes it.
func (r *Reader) NewRangeReader(ctx context.Context, off, length int64) (io.ReadCloser, error) {
	if length < 0 || off+length > r.size {
		length = max(r.size-off, 0)
	}
	if r.f != nil {
		return io.NopCloser(io.NewSectionReader(r.f, off, length)), nil
	}
	if length == 0 {
		// S3 refuses a range of an empty object.
		return io.NopCloser(strings.NewReader("")), nil
	}
	rc, err := r.b.NewRangeReader(ctx, r.key, off, length, nil)
	if err != nil {
		return nil, wrap(r.name, err)
	}
	return rc, nil
}

// Close releases the Reader (the local file; an object holds nothing
// open between reads).
func (r *Reader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

var _ io.ReaderAt = (*Reader)(nil)

// ReadFile reads a local file or an object whole (a manifest, a shard's
// leaves): os.ReadFile for a path, one GET for an object.
func ReadFile(ctx context.Context, name string) ([]byte, error) {
	if !IsURL(name) {
		return os.ReadFile(name)
	}
	r, err := Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := make([]byte, r.Size())
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}
