package export

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// rowGroupReader reads the rows of one row group, each value's bytes
// copied into the caller's arena as it goes into a row, so that a page can
// go back to parquet-go's buffer pool as soon as its values are copied.
// (parquet-go's own row reader keeps every page of a BYTE_ARRAY column
// instead — it cannot know that the rows will be copied — which for a
// Parquet export allocated as many bytes as the file holds.)
type rowGroupReader struct {
	cols []columnReader
}

// columnReader is one column chunk's pages and its decoded values not yet
// put into rows.
type columnReader struct {
	pages  parquet.Pages
	page   parquet.Page
	values parquet.ValueReader
	buf    []parquet.Value
	off    int
	eof    bool
	flat   bool // not repeated: one value a row
	bytes  bool // BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY
}

func newRowGroupReader(rg parquet.RowGroup) *rowGroupReader {
	chunks := rg.ColumnChunks()
	r := &rowGroupReader{cols: make([]columnReader, len(chunks))}
	schema := rg.Schema()
	for i, c := range chunks {
		k := c.Type().Kind()
		flat := false
		if i < len(schema.Columns()) {
			if leaf, ok := schema.Lookup(schema.Columns()[i]...); ok && leaf.ColumnIndex == i {
				flat = leaf.MaxRepetitionLevel == 0
			}
		}
		r.cols[i] = columnReader{pages: c.Pages(), buf: make([]parquet.Value, 0, parquetRowsPerRead),
			flat: flat, bytes: k == parquet.ByteArray || k == parquet.FixedLenByteArray}
	}
	return r
}

// fill decodes the column's next values, going on to its next page when
// the current one is done. Every value decoded before has been copied out
// of the page, so the page can be released.
func (c *columnReader) fill() error {
	for {
		if c.values == nil {
			p, err := c.pages.ReadPage()
			if err == io.EOF {
				c.eof = true
				return nil
			}
			if err != nil {
				return err
			}
			c.page, c.values = p, p.Values()
		}
		n, err := c.values.ReadValues(c.buf[:cap(c.buf)])
		c.buf, c.off = c.buf[:n], 0
		if n > 0 {
			return nil
		}
		if err == nil {
			return io.ErrNoProgress
		}
		if err != io.EOF {
			return err
		}
		parquet.Release(c.page)
		c.page, c.values = nil, nil
	}
}

// readRows reads up to len(rows) rows into rows (reusing their arrays) and
// returns how many it read, the arena, and io.EOF after the last row.
func (r *rowGroupReader) readRows(rows []parquet.Row, arena []byte) (int, []byte, error) {
	n := len(rows)
	for ci := range r.cols {
		c := &r.cols[ci]
		if c.flat { // one value a row: no levels to look at
			for i := 0; i < n; i++ {
				if ci == 0 {
					rows[i] = rows[i][:0]
				}
				if c.off == len(c.buf) {
					if !c.eof {
						if err := c.fill(); err != nil {
							return 0, arena, err
						}
					}
					if c.eof {
						if ci == 0 {
							n = i
							break
						}
						return 0, arena, fmt.Errorf("column %d holds fewer rows than column 0: %w", ci, errors.New("the row group is corrupt"))
					}
				}
				v := c.buf[c.off]
				c.off++
				if c.bytes {
					rows[i], arena = appendOwned(rows[i], v, arena)
				} else {
					rows[i] = append(rows[i], v)
				}
			}
			continue
		}
		for i := 0; i < n; i++ {
			if ci == 0 {
				rows[i] = rows[i][:0]
			}
			first := true
			for {
				if c.off == len(c.buf) {
					if c.eof {
						break
					}
					if err := c.fill(); err != nil {
						return 0, arena, err
					}
					if c.eof {
						break
					}
				}
				v := c.buf[c.off]
				if !first && v.RepetitionLevel() == 0 { // the next row's
					break
				}
				rows[i], arena = appendOwned(rows[i], v, arena)
				c.off++
				first = false
			}
			if first { // the column has no more rows
				if ci == 0 {
					n = i
					break
				}
				return 0, arena, fmt.Errorf("column %d holds fewer rows than column 0: %w", ci, errors.New("the row group is corrupt"))
			}
		}
	}
	if n < len(rows) {
		return n, arena, io.EOF
	}
	return n, arena, nil
}

// appendOwned appends v to row, its bytes (if any) copied into arena. A
// full arena is replaced, not grown: the rows already copied keep
// pointing into the old one.
func appendOwned(row parquet.Row, v parquet.Value, arena []byte) (parquet.Row, []byte) {
	k := v.Kind()
	if k != parquet.ByteArray && k != parquet.FixedLenByteArray || v.IsNull() {
		return append(row, v), arena
	}
	src := v.ByteArray()
	if cap(arena)-len(arena) < len(src) {
		arena = make([]byte, 0, max(2*cap(arena), parquetBatchBytes+parquetBatchBytes/4, len(src)))
	}
	start := len(arena)
	arena = append(arena, src...)
	own := arena[start:len(arena):len(arena)]
	var nv parquet.Value
	if k == parquet.ByteArray {
		nv = parquet.ByteArrayValue(own)
	} else {
		nv = parquet.FixedLenByteArrayValue(own)
	}
	return append(row, nv.Level(v.RepetitionLevel(), v.DefinitionLevel(), v.Column())), arena
}

// Close releases the row group's pages.
func (r *rowGroupReader) Close() error {
	var errs []error
	for i := range r.cols {
		c := &r.cols[i]
		if c.page != nil {
			parquet.Release(c.page)
			c.page, c.values = nil, nil
		}
		if err := c.pages.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
