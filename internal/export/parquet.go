package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/record"
)

// Parquet inputs (SPEC §3, §5). The reader goroutine reads a run of rows
// into a batch, which retains the pages their values point into until it
// is reused (rowGroupReader), and hashes
// nothing: a goroutine of its own (hashFile) computes the file's SHA-256
// from start to end meanwhile. The worker that takes the batch
// (processRows) reads each row's fields from its values (record.RowReader)
// and decides it exactly as it would decide the row's line, its RFC 8785
// canonical JSON (record.RowEncoder), which it writes only for a row it
// includes (records_root hashes it in place of a line) or for a row the
// RowReader leaves to the JSON way; an included row is copied to the
// output unchanged from the batch. Line numbers are row numbers, from 1 in
// each file. A row with no JSON form is rejected as malformed, with the
// encoder's reason as detail.

// parquetRowsPerRead is how many rows are read from a row group at a time.
const parquetRowsPerRead = 512

// parquetBatchRows bounds the rows in one batch, and parquetBatchValues
// their values (for rows with long lists).
const (
	parquetBatchRows   = 4096
	parquetBatchValues = 1 << 16
)

// parquetBatch is a batch's Parquet side: the schema of its rows and the
// pages their values point into, which the batch retains (rowGroupReader).
type parquetBatch struct {
	schema *parquet.Schema
	pages  []parquet.Page
	values int // in the batch's rows
	// in is the share of the file's bytes the batch's rows stand for (by
	// their number), which the progress line counts as read.
	in int64
}

// inputBytes is how much of its input a batch stands for: its lines, or
// a Parquet batch's share of the file.
func (b *batch) inputBytes() int64 {
	if b.pq.schema != nil {
		return b.pq.in
	}
	return int64(len(b.data))
}

// rowWorker is a worker's means for Parquet rows: the reader of their
// fields and the encoder of their lines, made for the rows' schema.
type rowWorker struct {
	reader *record.RowReader
	line   []byte
}

// processRows decides a Parquet batch's rows and reports true; other
// batches it leaves to process. A row's fields are read from its values
// (record.RowReader), and its line — its canonical JSON — is written only
// when the row is included (rowLine) or when the RowReader leaves the row
// to the JSON way: then the line is written first and read as a JSON line
// is, or, when the row has no JSON form, rejected with the reason.
func (w *worker) processRows(b *batch) bool {
	if b.pq.schema == nil {
		return false
	}
	if w.rows.reader == nil || w.rows.reader.Encoder().Schema() != b.pq.schema {
		w.rows.reader = record.NewRowReader(record.NewRowEncoder(b.pq.schema), w.reader.Fields())
	}
	data := b.data[:0]
	for k, row := range b.rows {
		b.read++
		p := &w.group[w.n]
		p.n, p.line = b.line+k, nil
		var ok bool
		if p.id, p.err, ok = w.rows.reader.Read(row, &p.rec); !ok {
			start := len(data)
			var err error
			if data, err = w.rows.reader.Encoder().Append(data, row); err != nil {
				data = data[:start]
				p.id, p.err = nil, rowError(err.Error())
			} else {
				p.line = data[start:len(data):len(data)]
				p.id, p.err = w.reader.Read(p.line, &p.rec)
			}
		}
		w.n++
		if w.n == groupSize {
			w.flush(b)
		}
	}
	b.data = data
	w.flush(b)
	b.records = b.chunk.AppendTo(b.records[:0])
	return true
}

// rowLine returns the line of row n of a Parquet batch, which the
// RowReader read: its canonical JSON, which it has checked it has. The
// line is valid until the next call.
func (w *worker) rowLine(b *batch, n int) []byte {
	var err error
	if w.rows.line, err = w.rows.reader.Encoder().Append(w.rows.line[:0], b.rows[n-b.line]); err != nil {
		panic(fmt.Sprintf("export: row %d, read as having a JSON form, has none: %v", n, err)) // RowReader.Read promises it
	}
	return w.rows.line
}

// objectReadBuffer is the read buffer of a Parquet object's column
// chunks (and the footer read at once, optimistically): a page header and
// usually its page in one ranged GET, where a local file's 4 KiB reads
// would each be a request.
const objectReadBuffer = 1 << 20

// openParquet opens a Parquet input, a local file or an object (read in
// ranges where it lives, never downloaded whole first).
func openParquet(ctx context.Context, path string) (*blobio.Reader, *parquet.File, error) {
	f, pf, _, err := openParquetSpans(ctx, path)
	return f, pf, err
}

// openParquetSpans opens a Parquet input; for an object, its row groups'
// reads go through a spanReader (nil for a local file).
func openParquetSpans(ctx context.Context, path string) (*blobio.Reader, *parquet.File, *spanReader, error) {
	f, err := blobio.Open(ctx, path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("input %s: %w", path, err)
	}
	opts := []parquet.FileOption{parquet.SkipBloomFilters(true)}
	var at io.ReaderAt = f
	var spans *spanReader
	if blobio.IsURL(path) {
		opts = append(opts, parquet.ReadBufferSize(objectReadBuffer), parquet.OptimisticRead(true))
		spans = newSpanReader(f)
		at = spans
	}
	pf, err := parquet.OpenFile(at, f.Size(), opts...)
	if err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("input %s: not a readable Parquet file: %w", path, err)
	}
	if spans != nil && !spans.plan(pf) {
		spans.spans = nil // read by ranges, hashed apart
		spans = nil
	}
	return f, pf, spans, nil
}

// parquetSchema returns a Parquet input's schema.
func parquetSchema(ctx context.Context, path string) (*parquet.Schema, error) {
	f, pf, err := openParquet(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return pf.Schema(), nil
}

func (e *exporter) readParquet(fi int, path string, get func() (*batch, bool), send func(*batch, int, int) bool, digests []FileDigest) error {
	f, pf, spans, err := openParquetSpans(e.ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	if !parquet.EqualNodes(pf.Schema(), e.schema) {
		return fmt.Errorf("input %s: its Parquet schema differs from that of %s: the output of Parquet inputs has their one schema", path, e.o.Inputs[0])
	}
	var hash *fileHash
	if spans != nil {
		hash = spans.stream(e.ctx)
	} else {
		hash = hashFile(e.ctx, f)
	}
	defer hash.stop()
	b, ok := get()
	if !ok {
		return nil
	}
	b.pq.releasePages()
	b.pq.schema, b.pq.values = e.schema, 0
	row, first := 1, 1 // the next row's number, the batch's first
	// share is the bytes of the file rows first…row-1 stand for.
	total := pf.NumRows()
	var counted int64
	share := func() int64 {
		upto := pf.Size()
		if total > 0 && int64(row-1) < total {
			upto = int64(float64(pf.Size()) * float64(row-1) / float64(total))
		}
		d := upto - counted
		counted = upto
		return d
	}
	for g, rg := range pf.RowGroups() {
		if spans != nil {
			spans.enter(g)
		}
		rows := newRowGroupReader(rg)
		for {
			if cap(b.rows) < parquetBatchRows {
				b.rows = slices.Grow(b.rows, parquetBatchRows-len(b.rows))
			}
			k := len(b.rows)
			n, rerr := rows.readRows(b.rows[k:min(k+parquetRowsPerRead, parquetBatchRows)], &b.pq)
			b.rows = b.rows[:k+n]
			for _, r := range b.rows[k:] {
				b.pq.values += len(r)
			}
			row += n
			if len(b.rows) == parquetBatchRows || b.pq.values >= parquetBatchValues {
				b.pq.in = share()
				if !send(b, fi, first) {
					rows.Close()
					return nil
				}
				if b, ok = get(); !ok {
					rows.Close()
					return nil
				}
				b.pq.releasePages()
				b.pq.schema, b.pq.values = e.schema, 0
				rows.newBatch()
				first = row
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rows.Close()
				return fmt.Errorf("input %s: row group %d, near row %d: %w", path, g+1, row, rerr)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("input %s: row group %d: %w", path, g+1, err)
		}
	}
	b.pq.in = share()  // the rest of the file
	send(b, fi, first) // even empty: the batch goes back to the pool
	sum, size, err := hash.wait()
	if err != nil {
		return fmt.Errorf("input %s: %w", path, err)
	}
	digests[fi] = FileDigest{File: path, SHA256: hex.EncodeToString(sum), Bytes: size}
	return nil
}

// fileHash is the SHA-256 of a file, computed by a goroutine that reads it
// from start to end.
type fileHash struct {
	quit chan struct{}
	done chan struct{}
	sum  []byte
	size int64
	err  error
}

// hashFile starts hashing f: one streamed read from its start (a single
// GET on an object store), apart from the ranged reads of its rows.
func hashFile(ctx context.Context, f *blobio.Reader) *fileHash {
	fh := &fileHash{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(fh.done)
		rc, err := f.NewRangeReader(ctx, 0, -1)
		if err != nil {
			fh.err = err
			return
		}
		defer rc.Close()
		h := sha256.New()
		buf := make([]byte, 1<<20)
		for {
			select {
			case <-fh.quit:
				fh.err = errors.New("hashing stopped")
				return
			default:
			}
			n, err := io.ReadFull(rc, buf)
			h.Write(buf[:n])
			fh.size += int64(n)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				fh.sum = h.Sum(nil)
				return
			}
			if err != nil {
				fh.err = err
				return
			}
		}
	}()
	return fh
}

// wait returns the file's digest and size once the goroutine has read it.
func (fh *fileHash) wait() ([]byte, int64, error) {
	<-fh.done
	return fh.sum, fh.size, fh.err
}

// stop ends the goroutine if it is still reading, and waits for it.
func (fh *fileHash) stop() {
	select {
	case <-fh.done:
	default:
		close(fh.quit)
		<-fh.done
	}
}
