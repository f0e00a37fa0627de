package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Loading a view reads every event row. Row by row (pgx's extended
// protocol, a DataRow message and a Scan for each) that is an allocation
// per field and a decode plan per column; as one COPY … TO STDOUT in
// PostgreSQL's binary format the rows arrive as one stream of
// length-prefixed fields, and each is handed to the callback as slices of
// the message it came in, nothing copied (issue 17).

// copyBinary is an io.Writer for CopyTo in binary format: it parses the
// stream as it comes, calling row with each tuple's fields (nil for a
// NULL), which are valid only during the call. A tuple split across writes
// is carried over.
type copyBinary struct {
	columns int
	row     func(fields [][]byte) error
	header  bool
	done    bool
	carry   []byte
	scratch [][]byte
}

// copySignature opens every binary COPY stream.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

func (c *copyBinary) Write(p []byte) (int, error) {
	data := p
	if len(c.carry) > 0 {
		c.carry = append(c.carry, p...)
		data = c.carry
	}
	n, err := c.parse(data)
	if err != nil {
		return 0, err
	}
	rest := data[n:]
	if len(c.carry) > 0 {
		c.carry = c.carry[:copy(c.carry, rest)]
	} else {
		c.carry = append(c.carry, rest...)
	}
	return len(p), nil
}

// parse consumes the header and every whole tuple at the start of b,
// returning how many bytes it consumed.
func (c *copyBinary) parse(b []byte) (int, error) {
	off := 0
	if !c.header {
		if len(b) < len(copySignature)+8 {
			return 0, nil
		}
		if !bytes.Equal(b[:len(copySignature)], copySignature) {
			return 0, errors.New("postgres: COPY: not a binary COPY stream")
		}
		ext := int(binary.BigEndian.Uint32(b[len(copySignature)+4:]))
		if len(b) < len(copySignature)+8+ext {
			return 0, nil
		}
		off = len(copySignature) + 8 + ext
		c.header = true
	}
	if len(c.scratch) != c.columns {
		c.scratch = make([][]byte, c.columns)
	}
	fields := c.scratch
	for off < len(b) {
		if c.done {
			return 0, errors.New("postgres: COPY: data after the trailer")
		}
		if len(b)-off < 2 {
			return off, nil
		}
		n := int16(binary.BigEndian.Uint16(b[off:]))
		if n == -1 {
			c.done = true
			off += 2
			continue
		}
		if int(n) != c.columns {
			return 0, fmt.Errorf("postgres: COPY: a tuple of %d fields, want %d", n, c.columns)
		}
		p := off + 2
		for i := range fields {
			if len(b)-p < 4 {
				return off, nil
			}
			l := int32(binary.BigEndian.Uint32(b[p:]))
			p += 4
			if l < 0 {
				fields[i] = nil
				continue
			}
			if len(b)-p < int(l) {
				return off, nil
			}
			fields[i] = b[p : p+int(l) : p+int(l)]
			p += int(l)
		}
		if err := c.row(fields); err != nil {
			return 0, err
		}
		off = p
	}
	return off, nil
}

// finish reports a stream that ended early.
func (c *copyBinary) finish() error {
	if !c.done || len(c.carry) > 0 {
		return errors.New("postgres: COPY: the stream ended inside a tuple")
	}
	return nil
}

// copyTo runs COPY (query) TO STDOUT in binary format on a connection of
// the pool, parsing it as it streams.
func (s *DB) copyTo(ctx context.Context, query string, columns int, row func(fields [][]byte) error) error {
	w := &copyBinary{columns: columns, row: row}
	if err := s.copyInto(ctx, query, w); err != nil {
		return err
	}
	return w.finish()
}

func (s *DB) copyInto(ctx context.Context, query string, w io.Writer) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	_, err = conn.Conn().PgConn().CopyTo(ctx, w, `COPY (`+query+`) TO STDOUT (FORMAT binary)`)
	return err
}

// copyParts runs a COPY of each query at once, each on a connection of its
// own, so that the server produces them on as many cores, and parses the
// streams on the calling goroutine: row is called by one goroutine at a
// time. Each connection hands over what it receives in chunks.
func (s *DB) copyParts(ctx context.Context, queries []string, columns int, row func(fields [][]byte) error) error {
	if len(queries) == 1 {
		return s.copyTo(ctx, queries[0], columns, row)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan copyChunk, 4*len(queries))
	free := make(chan []byte, 4*len(queries)+len(queries))
	for i, q := range queries {
		go func() {
			w := &chunker{ctx: ctx, part: i, out: chunks, free: free}
			err := s.copyInto(ctx, q, w)
			if err == nil && len(w.buf) > 0 {
				chunks <- copyChunk{part: i, b: w.buf}
			}
			chunks <- copyChunk{part: i, done: true, err: err}
		}()
	}
	parsers := make([]*copyBinary, len(queries))
	for i := range parsers {
		parsers[i] = &copyBinary{columns: columns, row: row}
	}
	var err error
	for running := len(queries); running > 0; {
		c := <-chunks
		switch {
		case c.done:
			running--
			if err == nil && c.err == nil {
				c.err = parsers[c.part].finish()
			}
			if err == nil && c.err != nil {
				err = c.err
				cancel()
			}
			continue
		case err == nil:
			if _, werr := parsers[c.part].Write(c.b); werr != nil {
				err = werr
				cancel()
			}
		}
		select {
		case free <- c.b[:0]:
		default:
		}
	}
	return err
}

// copyChunk is some of a part's stream, or its end and how it ended.
type copyChunk struct {
	part int
	b    []byte
	done bool
	err  error
}

// chunker gathers what a COPY receives into chunks of about chunkSize.
type chunker struct {
	ctx  context.Context
	part int
	buf  []byte
	out  chan<- copyChunk
	free chan []byte
}

const chunkSize = 256 << 10

func (c *chunker) Write(p []byte) (int, error) {
	if len(c.buf) > 0 && len(c.buf)+len(p) > cap(c.buf) {
		select {
		case c.out <- copyChunk{part: c.part, b: c.buf}:
			c.buf = nil
		case <-c.ctx.Done():
			return 0, c.ctx.Err()
		}
	}
	if c.buf == nil {
		select {
		case c.buf = <-c.free:
		default:
			c.buf = make([]byte, 0, chunkSize)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// splitPages is the table size, in pages, from which a full scan is split
// into two COPYs of half the pages each (TID range scans: PostgreSQL 14 and
// later; an older server gets one COPY).
var splitPages int64 = 2048

// pageParts splits a full scan of table into queries over ranges of its
// pages (its rows are never updated or deleted, so each row is in one
// range; each COPY sees the rows committed before it started).
func (s *DB) pageParts(ctx context.Context, table, cols, where string) ([]string, error) {
	q := `SELECT ` + cols + ` FROM ` + table
	var pages int64
	var tidRanges bool
	if err := s.pool.QueryRow(ctx, `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint,
		current_setting('server_version_num')::int >= 140000`, table).Scan(&pages, &tidRanges); err != nil {
		return nil, err
	}
	and := ` WHERE `
	if where != "" {
		q += ` WHERE ` + where
		and = ` AND `
	}
	if pages < splitPages || !tidRanges {
		return []string{q}, nil
	}
	mid := strconv.FormatInt(pages/2, 10)
	return []string{q + and + `ctid < '(` + mid + `,0)'::tid`, q + and + `ctid >= '(` + mid + `,0)'::tid`}, nil
}

// fields decodes the fields of a tuple in the binary format, remembering
// whether one had an unexpected size (a NULL among them: every column
// scanned is NOT NULL).
type fields struct{ bad bool }

func (d *fields) int8(f []byte) int64 {
	if len(f) != 8 {
		d.bad = true
		return 0
	}
	return int64(binary.BigEndian.Uint64(f))
}

func (d *fields) int2(f []byte) int16 {
	if len(f) != 2 {
		d.bad = true
		return 0
	}
	return int16(binary.BigEndian.Uint16(f))
}

func (d *fields) bool(f []byte) bool {
	if len(f) != 1 {
		d.bad = true
		return false
	}
	return f[0] != 0
}

func (d *fields) text(f []byte) []byte {
	if f == nil {
		d.bad = true
	}
	return f
}

func (d *fields) err(table string) error {
	if d.bad {
		return fmt.Errorf("postgres: COPY from %s: a field of an unexpected size", table)
	}
	return nil
}

// copySubjects streams every subject event to fn.
func (s *DB) copySubjects(ctx context.Context, fn func(*store.SubjectRow) error) error {
	parts, err := s.pageParts(ctx, "subject_events", subjectCols, "")
	if err != nil {
		return err
	}
	var r store.SubjectRow
	return s.copyParts(ctx, parts, 6, func(f [][]byte) error {
		var d fields
		r = store.SubjectRow{Seq: d.int8(f[0]), Subject: d.text(f[1]), At: timestamp.Time(d.int8(f[2])),
			RegionSet: d.bool(f[3]), Region: d.text(f[4]), Attrs: d.text(f[5])}
		if d.bad {
			return d.err("subject_events")
		}
		return fn(&r)
	})
}

// copyConsent streams the consent events at or before asOf to fn.
func (s *DB) copyConsent(ctx context.Context, asOf timestamp.Time, fn func(*store.ConsentRow) error) error {
	parts, err := s.pageParts(ctx, "consent_events", consentCols, `at <= `+strconv.FormatInt(int64(asOf), 10))
	if err != nil {
		return err
	}
	var r store.ConsentRow
	return s.copyParts(ctx, parts, 9, func(f [][]byte) error {
		var d fields
		r = store.ConsentRow{Seq: d.int8(f[0]), Subject: d.text(f[1]), Purpose: d.text(f[2]), Recipient: d.text(f[3]),
			State: policy.State(d.int2(f[4])), At: timestamp.Time(d.int8(f[5])), Source: d.text(f[6]), Policy: d.text(f[7]), Notice: d.text(f[8])}
		if d.bad {
			return d.err("consent_events")
		}
		return fn(&r)
	})
}
