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
		return &rowSink{w: parquet.NewWriter(hw, schema,
			parquet.Compression(&parquet.Snappy), parquet.CreatedBy("consentgate", "", ""))}
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
	w    *parquet.Writer
	rows []parquet.Row
}

func (s *rowSink) Write(b *batch) error {
	s.rows = s.rows[:0]
	for _, k := range b.kept {
		s.rows = append(s.rows, b.rows[k])
	}
	if len(s.rows) == 0 {
		return nil
	}
	_, err := s.w.WriteRows(s.rows)
	return err
}

func (s *rowSink) Close() error { return s.w.Close() }

// MarshalManifest renders a manifest as indented JSON with a final newline.
func MarshalManifest(m *Manifest) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(m)
	return b.Bytes(), err
}
