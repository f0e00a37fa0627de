package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/record"
)

// Parquet inputs (SPEC §5): the splitting worker reads a Parquet file's
// rows, row group by row group, and makes batches of them: the rows' RFC
// 8785 canonical JSON, one line each (record.RowEncoder, as `consentgate
// export` reads them; a row with no JSON form is a 0 byte and the reason,
// rejected as malformed), and the rows themselves as a small Parquet file
// of the input's schema (Batch.Rows), since Beam carries bytes, not
// parquet-go's rows. Decided passes the rows on with the places of those
// included (Kept); each shard's included rows go to kKEY.rows, a Parquet
// file of the input's schema, which Finish names rows-N.parquet and
// `consentgate export finalize` copies into the output.
//
// Parquet is read from its end (the footer) and by column chunks, so an
// object is first copied to a temporary file on the splitting worker's
// local disk (Beam's filesystem reads objects as one stream); a local file
// is read where it is.

// parquetRowsPerRead is how many rows are read from a row group at a time.
const parquetRowsPerRead = 512

// openParquetInput opens input path for row reading, hashing the whole
// file as it goes; cleanup removes what it made.
func openParquetInput(ctx context.Context, path string) (pf *parquet.File, digest export.FileDigest, cleanup func(), err error) {
	r, err := openRead(ctx, path)
	if err != nil {
		return nil, digest, nil, err
	}
	h := sha256.New()
	var ra io.ReaderAt
	var size int64
	cleanup = func() { r.Close() }
	if f, ok := r.(*os.File); ok {
		size, err = io.Copy(h, f)
		ra = f
	} else {
		tmp, terr := os.CreateTemp("", "consentgate-beam-*.parquet")
		if terr != nil {
			r.Close()
			return nil, digest, nil, terr
		}
		cleanup = func() { r.Close(); tmp.Close(); os.Remove(tmp.Name()) }
		size, err = io.Copy(io.MultiWriter(tmp, h), r)
		ra = tmp
	}
	if err != nil {
		cleanup()
		return nil, digest, nil, fmt.Errorf("input %s: %w", path, err)
	}
	pf, err = parquet.OpenFile(ra, size, parquet.SkipBloomFilters(true))
	if err != nil {
		cleanup()
		return nil, digest, nil, fmt.Errorf("input %s: not a readable Parquet file: %w", path, err)
	}
	return pf, export.FileDigest{File: path, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: size}, cleanup, nil
}

// splitParquet reads Parquet input i into batches of rows (at least one,
// empty for a file of no rows, so that every input has a rows shard that
// carries its schema).
func (f *SplitFn) splitParquet(ctx context.Context, i int, emit func(int64, Batch)) (inputDigest, error) {
	path := f.Inputs[i]
	pf, fd, cleanup, err := openParquetInput(ctx, path)
	if err != nil {
		return inputDigest{}, err
	}
	defer cleanup()
	schema := pf.Schema()
	digest := inputDigest{FileDigest: fd, Schema: schema.String()}
	enc := record.NewRowEncoder(schema)
	var n int64
	row, first := 1, 1 // the next row's number, the batch's first
	var data []byte
	var rows []parquet.Row
	flush := func() error {
		b, err := encodeRows(schema, rows)
		if err != nil {
			return fmt.Errorf("input %s: %w", path, err)
		}
		order := int64(i)<<32 | n
		emit(order, Batch{Order: order, File: i, Line: first, Data: data, Rows: b})
		n++
		data, rows, first = nil, nil, row
		return nil
	}
	buf := make([]parquet.Row, parquetRowsPerRead)
	for g, rg := range pf.RowGroups() {
		rr := rg.Rows()
		for {
			k, rerr := rr.ReadRows(buf)
			for _, r := range buf[:k] {
				rows = append(rows, r.Clone())
				start := len(data)
				var err error
				if data, err = enc.Append(data, r); err != nil {
					data = append(append(data[:start], 0), err.Error()...)
				}
				data = append(data, '\n')
				row++
			}
			if len(data) >= f.BatchBytes {
				if err := flush(); err != nil {
					rr.Close()
					return digest, err
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rr.Close()
				return digest, fmt.Errorf("input %s: row group %d, near row %d: %w", path, g+1, row, rerr)
			}
		}
		if err := rr.Close(); err != nil {
			return digest, fmt.Errorf("input %s: row group %d: %w", path, g+1, err)
		}
	}
	if len(rows) > 0 || n == 0 {
		if err := flush(); err != nil {
			return digest, err
		}
	}
	return digest, nil
}

// encodeRows writes rows as a Parquet file of schema (uncompressed: it
// only crosses the pipeline).
func encodeRows(schema *parquet.Schema, rows []parquet.Row) ([]byte, error) {
	var b bytes.Buffer
	w := parquet.NewWriter(&b, schema)
	if _, err := w.WriteRows(rows); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeRows reads the rows encodeRows wrote, and their schema.
func decodeRows(b []byte) (*parquet.Schema, []parquet.Row, error) {
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	var rows []parquet.Row
	buf := make([]parquet.Row, parquetRowsPerRead)
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		for {
			k, err := rr.ReadRows(buf)
			for _, r := range buf[:k] {
				rows = append(rows, r.Clone())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rr.Close()
				return nil, nil, err
			}
		}
		rr.Close()
	}
	return pf.Schema(), rows, nil
}

// writeRowsShard writes the included rows of a shard's batches (in
// order) to name, a Parquet file of their schema.
func writeRowsShard(ctx context.Context, name string, batches []Decided) error {
	var schema *parquet.Schema
	var kept []parquet.Row
	for _, b := range batches {
		s, rows, err := decodeRows(b.Rows)
		if err != nil {
			return fmt.Errorf("the rows of batch %x: %w", b.Order, err)
		}
		if schema == nil {
			schema = s
		}
		for _, k := range b.Kept {
			kept = append(kept, rows[k])
		}
	}
	w, err := create(ctx, name)
	if err != nil {
		return err
	}
	pw := parquet.NewWriter(w, schema, parquet.Compression(&parquet.Snappy))
	if _, err := pw.WriteRows(kept); err != nil {
		w.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := pw.Close(); err != nil {
		w.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
