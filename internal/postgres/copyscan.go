package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	w := &copyBinary{columns: columns, row: row}
	if _, err := conn.Conn().PgConn().CopyTo(ctx, w, `COPY (`+query+`) TO STDOUT (FORMAT binary)`); err != nil {
		return err
	}
	return w.finish()
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

// copySubjects streams the subject events where says (CopyTo takes no
// parameters: where holds only numbers) to fn.
func (s *DB) copySubjects(ctx context.Context, where string, fn func(*store.SubjectRow) error) error {
	var r store.SubjectRow
	return s.copyTo(ctx, `SELECT `+subjectCols+` FROM subject_events `+where, 6, func(f [][]byte) error {
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
	var r store.ConsentRow
	q := `SELECT ` + consentCols + ` FROM consent_events WHERE at <= ` + strconv.FormatInt(int64(asOf), 10)
	return s.copyTo(ctx, q, 9, func(f [][]byte) error {
		var d fields
		r = store.ConsentRow{Seq: d.int8(f[0]), Subject: d.text(f[1]), Purpose: d.text(f[2]), Recipient: d.text(f[3]),
			State: policy.State(d.int2(f[4])), At: timestamp.Time(d.int8(f[5])), Source: d.text(f[6]), Policy: d.text(f[7]), Notice: d.text(f[8])}
		if d.bad {
			return d.err("consent_events")
		}
		return fn(&r)
	})
}
