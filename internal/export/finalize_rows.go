package export

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/blobio"
)

// A sharded export of Parquet inputs (job.json's "format": "parquet")
// keeps each shard's included rows, unchanged, in rows-i.parquet (with the
// inputs' schema) in place of out-i.jsonl; finalize copies them in shard
// order into one Parquet file of that schema, written as the export
// writes its own (rowSink: the same writer, the rows given to it in the
// same runs), so the output has the export's bytes.

// outKind is the kind of shard file that holds a job's included records.
func (j *Job) outKind(kind string) string {
	if kind == "out" && j.Format == "parquet" {
		return "rows"
	}
	return kind
}

// outputFormat is the manifest's output format.
func (j *Job) outputFormat() string {
	if j.Format == "parquet" {
		return "parquet"
	}
	return "jsonl"
}

// rowsAssembler copies rows shards into out.
type rowsAssembler struct {
	out    io.Writer
	sink   *rowSink
	schema *parquet.Schema
	first  string // the shard the schema is from
}

// add copies the rows of one rows shard (a local file or an object, read
// in ranges).
func (a *rowsAssembler) add(ctx context.Context, name string) error {
	r, err := blobio.Open(ctx, name)
	if err != nil {
		return err
	}
	defer r.Close()
	pf, err := parquet.OpenFile(r, r.Size(), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("%s: not a readable Parquet file: %w", name, err)
	}
	if a.sink == nil {
		a.schema, a.first = pf.Schema(), name
		a.sink = newRowSink(a.out, a.schema)
	} else if !parquet.EqualNodes(pf.Schema(), a.schema) {
		return fmt.Errorf("%s: its Parquet schema differs from that of %s: the inputs of one export share one schema", name, a.first)
	}
	buf := make([]parquet.Row, parquetRowsPerRead)
	for g, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, rerr := rows.ReadRows(buf)
			batch := make([]parquet.Row, n)
			for i := range batch {
				batch[i] = buf[i].Clone()
			}
			if err := a.sink.writeRows(batch); err != nil {
				rows.Close()
				return err
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				rows.Close()
				return fmt.Errorf("%s: row group %d: %w", name, g+1, rerr)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("%s: row group %d: %w", name, g+1, err)
		}
	}
	return nil
}

// close writes the rest of the rows and the file's footer.
func (a *rowsAssembler) close(dir string) error {
	if a.sink == nil {
		return fmt.Errorf("%s: a Parquet job without rows shards: the pipeline wrote none (every Parquet input has one at least)", dir)
	}
	return a.sink.Close()
}
