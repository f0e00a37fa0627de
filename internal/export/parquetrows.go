package export

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// rowGroupReader reads the rows of one row group into the rows of
// batches. A BYTE_ARRAY value keeps pointing into its page: the batch
// retains the page (parquet.Retain) and releases it when it is reused
// (releasePages), so that the page's buffers go back to parquet-go's pool
// only once no row refers to them. (parquet-go's own row reader, which
// cannot know when its rows are done with, keeps every such page from the
// pool instead, which for a Parquet export allocated as many bytes as the
// file holds; copying the bytes out cost more than the rest of reading.)
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
	flat   bool         // not repeated: one value a row
	bytes  bool         // BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY
	held   parquet.Page // the page the current batch has retained
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

// readRows reads up to len(rows) rows of batch b into rows (reusing their
// arrays) and returns how many it read, and io.EOF after the last row.
func (r *rowGroupReader) readRows(rows []parquet.Row, b *parquetBatch) (int, error) {
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
							return 0, err
						}
					}
					if c.eof {
						if ci == 0 {
							n = i
							break
						}
						return 0, fmt.Errorf("column %d holds fewer rows than column 0: %w", ci, errors.New("the row group is corrupt"))
					}
				}
				if c.bytes {
					c.hold(b)
				}
				rows[i] = append(rows[i], c.buf[c.off])
				c.off++
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
						return 0, err
					}
					if c.eof {
						break
					}
				}
				v := c.buf[c.off]
				if !first && v.RepetitionLevel() == 0 { // the next row's
					break
				}
				if c.bytes {
					c.hold(b)
				}
				rows[i] = append(rows[i], v)
				c.off++
				first = false
			}
			if first { // the column has no more rows
				if ci == 0 {
					n = i
					break
				}
				return 0, fmt.Errorf("column %d holds fewer rows than column 0: %w", ci, errors.New("the row group is corrupt"))
			}
		}
	}
	if n < len(rows) {
		return n, io.EOF
	}
	return n, nil
}

// hold makes batch b retain the column's current page, once.
func (c *columnReader) hold(b *parquetBatch) {
	if c.held == c.page {
		return
	}
	parquet.Retain(c.page)
	b.pages = append(b.pages, c.page)
	c.held = c.page
}

// newBatch starts a batch: each column's page is retained anew.
func (r *rowGroupReader) newBatch() {
	for i := range r.cols {
		r.cols[i].held = nil
	}
}

// releasePages releases the pages a batch retained, when the batch is
// reused and no row refers to them any more.
func (b *parquetBatch) releasePages() {
	for _, p := range b.pages {
		parquet.Release(p)
	}
	clear(b.pages)
	b.pages = b.pages[:0]
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
