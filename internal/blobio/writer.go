package blobio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gocloud.dev/blob"

	"github.com/consentgate/consentgate/internal/atomicfile"
)

// ErrDone is what a Writer's methods return once it was committed or
// aborted.
var ErrDone = errors.New("blobio: the writer was already committed or aborted")

// errIsDir words a directory given where a file was wanted.
var errIsDir = errors.New("is a directory")

// Part sizes of an object write: the writer holds at most PartSize ×
// PartConcurrency bytes in memory, and sends that many parts at once.
const (
	PartSize        = 16 << 20
	PartConcurrency = 4
)

// A Writer writes one file whose bytes appear under its final name only
// on Commit: before it, the final name shows nothing new (an earlier
// file there stays as it was); after Abort, an error or the death of the
// process, it never does.
//
// Where the bytes wait until Commit:
//
//   - A local path: a temporary file beside it (atomicfile.Temp, so a
//     killed writer's leftover is recognised by atomicfile.CleanStale),
//     synced and renamed into place by Commit.
//   - An object: the store's own pending upload, which is the "temporary
//     key" of an object store and is never listed as an object — an S3
//     multipart upload (parts of PartSize, sent while writing, the upload
//     completed by Commit; an object smaller than one part is sent whole
//     by Commit), a GCS resumable upload (finalised by Commit), an Azure
//     block blob's uncommitted blocks (the block list committed by
//     Commit; an object smaller than one block is sent whole by Commit).
//     Commit is the one request that makes the object, so no reader ever
//     sees a part of it, and no copy doubles the bytes sent (S3's single
//     copy also stops at 5 GB). Abort cancels the upload; a killed
//     process leaves an incomplete upload that holds no object — S3 keeps
//     its parts until a bucket lifecycle rule
//     (AbortIncompleteMultipartUpload) or ListMultipartUploads and
//     AbortMultipartUpload remove them; GCS keeps an unfinalised
//     resumable session until it expires (a week); Azure keeps
//     uncommitted blocks, which no request removes, until the next
//     commit to that name or a week has passed (Azurite keeps them
//     through a one-block commit, Put Blob, too). Abort, too, leaves
//     Azure's staged blocks (no request drops them without making an
//     object) and GCS's session (the storage client sends no cancel for
//     it, and gocloud does not reach the session's URI) to expire.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	name string
	done bool
	err  error // the first write error: Commit then aborts

	// A local file:
	f *os.File

	// An object: s3:// and gs:// through gocloud's Writer, azblob://
	// through gocloud's Upload reading what Write sends down a pipe.
	w      *blob.Writer
	pw     *io.PipeWriter
	upload chan error // the Upload's result
	cancel context.CancelFunc
}

// errAborted ends an azblob:// upload's pipe on Abort: a read error, not
// EOF, so the upload stops without committing its block list.
var errAborted = errors.New("blobio: the write was aborted")

// Create starts writing name: a local path (a temporary file beside it)
// or an object-store URL. The caller ends it with Commit or Abort. For an
// object, cancelling ctx before Commit aborts the write.
func Create(ctx context.Context, name string) (*Writer, error) {
	if !IsURL(name) {
		if st, err := os.Stat(name); err == nil && st.IsDir() {
			return nil, &os.PathError{Op: "create", Path: name, Err: errIsDir}
		}
		f, err := atomicfile.Temp(name)
		if err != nil {
			return nil, err
		}
		return &Writer{name: name, f: f}, nil
	}
	l, b, err := locate(ctx, name, true)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	opts := &blob.WriterOptions{
		ContentType:    "application/octet-stream",
		BufferSize:     PartSize,
		MaxConcurrency: PartConcurrency,
	}
	if l.scheme == "azblob" {
		// gocloud's azblob Writer dereferences a nil pipe in Close when its
		// upload failed — as an aborted (cancelled) one always has — and so
		// panics on Abort. Its Upload path reads a reader of ours instead
		// and has no such Close: the same UploadStream (blocks staged while
		// writing, the block list committed at EOF), ended by our pipe.
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := b.Upload(wctx, l.key, pr, opts)
			pr.CloseWithError(err) // a Write after a failed upload fails, never blocks
			done <- err
		}()
		return &Writer{name: name, pw: pw, upload: done, cancel: cancel}, nil
	}
	w, err := b.NewWriter(wctx, l.key, opts)
	if err != nil {
		cancel()
		return nil, wrap(name, err)
	}
	return &Writer{name: name, w: w, cancel: cancel}, nil
}

// Name is the final name the Writer commits to.
func (w *Writer) Name() string { return w.name }

// Write writes p; the bytes appear under the final name only on Commit.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrDone
	}
	if w.err != nil {
		return 0, w.err
	}
	var n int
	var err error
	if w.f != nil {
		n, err = w.f.Write(p)
		err = atomicfile.Named(err, w.f.Name(), w.name)
	} else if w.pw != nil {
		n, err = w.pw.Write(p)
		err = wrap(w.name, err)
	} else {
		n, err = w.w.Write(p)
		err = wrap(w.name, err)
	}
	if err != nil {
		w.err = err
	}
	return n, err
}

// Commit makes the written bytes the file under the final name, durably
// (a local file is synced, renamed and its directory synced; an object's
// upload is completed). After a failed Write, Commit aborts and returns
// that error: nothing appears.
func (w *Writer) Commit() error {
	if w.done {
		return ErrDone
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	w.done = true
	if w.f != nil {
		tmp := w.f.Name()
		if err := atomicfile.SyncClose(w.f); err != nil {
			os.Remove(tmp)
			return atomicfile.Named(err, tmp, w.name)
		}
		if err := os.Rename(tmp, w.name); err != nil {
			os.Remove(tmp)
			return atomicfile.Named(err, tmp, w.name)
		}
		atomicfile.SyncDir(filepath.Dir(w.name))
		return nil
	}
	defer w.cancel()
	var err error
	if w.pw != nil {
		w.pw.Close() // EOF: the upload commits
		err = <-w.upload
	} else {
		err = w.w.Close()
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", w.name, err)
	}
	return nil
}

// Abort ends the write with nothing under the final name (an earlier file
// there is left as it was) and its temporary bytes removed. Aborting a
// committed or aborted Writer does nothing, so `defer w.Abort()` is the
// usual guard.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.f != nil {
		tmp := w.f.Name()
		w.f.Close()
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	// Cancelling the write's context before Close is gocloud's abort: the
	// pending upload is cancelled (S3: AbortMultipartUpload, on a fresh
	// context) and no object is made. Close then reports the cancellation,
	// which is the point, not an error.
	w.cancel()
	if w.pw != nil {
		w.pw.CloseWithError(errAborted)
		<-w.upload
		return nil
	}
	w.w.Close()
	return nil
}
