package export

import (
	"bytes"
	"encoding/json"
	"hash"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
)

// sink writes the included lines in one output format.
type sink interface {
	// Write takes a batch's included records: b.out, a run of lines each
	// ending in '\n', or from Parquet inputs the rows b.kept names.
	Write(b *batch) error
	// Close flushes what is buffered; every byte written to the file has
	// then also gone through the hash given to newSink.
	Close() error
}

// newSink returns the sink for format; with a schema (Parquet inputs), the
// sink copies rows into Parquet of that schema.
func newSink(format string, w io.Writer, h hash.Hash, schema *parquet.Schema) sink {
	hw := &hashWriter{w: w, h: h}
	if schema != nil {
		return newRowSink(hw, schema)
	}
	if format == "parquet" {
		return &parquetSink{w: parquet.NewGenericWriter[ParquetRow](hw,
			parquet.Compression(&parquet.Snappy), parquet.CreatedBy("consentgate", "", ""))}
	}
	return &jsonlSink{hw}
}

type jsonlSink struct{ w io.Writer }

func (s *jsonlSink) Write(b *batch) error {
	lines := b.out
	if len(lines) == 0 {
		return nil
	}
	_, err := s.w.Write(lines)
	return err
}

func (s *jsonlSink) Close() error { return nil }

// ParquetRow is one row of Parquet output: the record's JSON text as read.
type ParquetRow struct {
	Record string `parquet:"record"`
}

type parquetSink struct {
	w    *parquet.GenericWriter[ParquetRow]
	rows []ParquetRow
}

// flushingFile asks the kernel to start writing out every few megabytes
// written, so that the fsync at the end of an export has little left to do.
type flushingFile struct {
	f       *os.File
	written int64
	started int64
}

const writebackEvery = 8 << 20

func (ff *flushingFile) Write(p []byte) (int, error) {
	n, err := ff.f.Write(p)
	ff.written += int64(n)
	if ff.written-ff.started >= writebackEvery {
		startWriteback(ff.f, ff.started, ff.written-ff.started)
		ff.started = ff.written
	}
	return n, err
}

type hashWriter struct {
	w io.Writer
	h hash.Hash
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	return hw.w.Write(p)
}

func (s *parquetSink) Write(b *batch) error {
	lines := b.out
	s.rows = s.rows[:0]
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		s.rows = append(s.rows, ParquetRow{Record: string(lines[:i])})
		lines = lines[i+1:]
	}
	_, err := s.w.Write(s.rows)
	return err
}

func (s *parquetSink) Close() error { return s.w.Close() }

// rowSink copies the included rows of Parquet inputs, unchanged, into
// Parquet of their schema.
type rowSink struct {
	w       *parquet.Writer
	pending []parquet.Row
}

// newRowSink writes Parquet of schema to w.
func newRowSink(w io.Writer, schema *parquet.Schema) *rowSink {
	return &rowSink{w: parquet.NewWriter(w, schema,
		parquet.Compression(&parquet.Snappy), parquet.CreatedBy("consentgate", "", ""))}
}

// rowRun is how many rows at a time go to the Parquet writer, whatever
// the batches they came in: the writer may end a page after each run it
// is given (up to 64 rows), so runs of 64 counted from the first row make
// the file's bytes depend on the rows alone — and `export finalize`,
// writing a sharded export's rows (rows shards, in other runs), writes the
// same bytes as the export.
const rowRun = 64

func (s *rowSink) Write(b *batch) error {
	for _, k := range b.kept {
		s.pending = append(s.pending, b.rows[k])
	}
	return s.flush(false)
}

// writeRows adds rows after those written so far.
func (s *rowSink) writeRows(rows []parquet.Row) error {
	s.pending = append(s.pending, rows...)
	return s.flush(false)
}

// flush writes the whole runs of rows pending (with all, the rest too).
// The rows it leaves for the next run outlive the batch whose pages and
// arena their values point into (the batch goes back to the pool as soon
// as Write returns): they are copied.
func (s *rowSink) flush(all bool) error {
	n := len(s.pending) / rowRun * rowRun
	if all {
		n = len(s.pending)
	}
	if n > 0 {
		if _, err := s.w.WriteRows(s.pending[:n]); err != nil {
			return err
		}
		rest := copy(s.pending, s.pending[n:])
		clear(s.pending[rest:])
		s.pending = s.pending[:rest]
	}
	for i, r := range s.pending { // fewer than rowRun
		s.pending[i] = r.Clone()
	}
	return nil
}

func (s *rowSink) Close() error {
	if err := s.flush(true); err != nil {
		return err
	}
	return s.w.Close()
}

// MarshalManifest renders a manifest as indented JSON with a final newline.
func MarshalManifest(m *Manifest) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(m)
	return b.Bytes(), err
}
