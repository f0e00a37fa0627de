package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/record"
)

// Parquet inputs (SPEC §3, §5): each row becomes one line of a batch, its
// RFC 8785 canonical JSON (record.RowEncoder), which the workers decide
// exactly as a JSON line and records_root hashes in place of a line; the
// row itself rides along in the batch so that an included row is copied
// to the output unchanged. Line numbers are row numbers, from 1 in each
// file. A row with no JSON form becomes a line the workers reject as
// malformed (a 0 byte, then the reason).

// parquetRowsPerRead is how many rows are read from a row group at a time.
const parquetRowsPerRead = 512

// maxBatchRows bounds the rows in one batch (with batchSize/2 of JSON).
const maxBatchRows = 16384

// objectReadBuffer is the read buffer of a Parquet object's column
// chunks (and the footer read at once, optimistically): a page header and
// usually its page in one ranged GET, where a local file's 4 KiB reads
// would each be a request.
const objectReadBuffer = 1 << 20

// openParquet opens a Parquet input, a local file or an object (read in
// ranges where it lives, never downloaded whole first).
func openParquet(ctx context.Context, path string) (*blobio.Reader, *parquet.File, error) {
	f, err := blobio.Open(ctx, path)
	if err != nil {
		return nil, nil, fmt.Errorf("input %s: %w", path, err)
	}
	opts := []parquet.FileOption{parquet.SkipBloomFilters(true)}
	if blobio.IsURL(path) {
		opts = append(opts, parquet.ReadBufferSize(objectReadBuffer), parquet.OptimisticRead(true))
	}
	pf, err := parquet.OpenFile(f, f.Size(), opts...)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("input %s: not a readable Parquet file: %w", path, err)
	}
	return f, pf, nil
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
	f, pf, err := openParquet(e.ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	if !parquet.EqualNodes(pf.Schema(), e.schema) {
		return fmt.Errorf("input %s: its Parquet schema differs from that of %s: the output of Parquet inputs has their one schema", path, e.o.Inputs[0])
	}
	h := sha256.New()
	size, err := copyAll(e.ctx, h, f)
	if err != nil {
		return fmt.Errorf("input %s: %w", path, err)
	}
	enc := record.NewRowEncoder(pf.Schema())
	b, ok := get()
	if !ok {
		return nil
	}
	row, first := 1, 1 // the next row's number, the batch's first
	buf := make([]parquet.Row, parquetRowsPerRead)
	for g, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, rerr := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				b.rows = append(b.rows, r.Clone())
				start := len(b.data)
				var err error
				if b.data, err = enc.Append(b.data, r); err != nil {
					b.data = append(append(b.data[:start], 0), err.Error()...)
				}
				b.data = append(b.data, '\n')
				row++
			}
			if len(b.data) >= batchSize/2 || len(b.rows) >= maxBatchRows {
				if !send(b, fi, first) {
					rows.Close()
					return nil
				}
				if b, ok = get(); !ok {
					rows.Close()
					return nil
				}
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
	send(b, fi, first) // even empty: the batch goes back to the pool
	digests[fi] = FileDigest{File: path, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: size}
	return nil
}
