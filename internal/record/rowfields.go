package record

import (
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// RowReader picks the fields out of Parquet rows as Reader picks them out
// of the rows' canonical JSON lines, without writing the lines: a row's id,
// creation time, category and subjects come from its column values, and
// the row is only checked to have a JSON form (RowEncoder.Append would
// succeed). What it cannot read that way — a schema the direct encoder
// does not know, a field of a kind it does not read (a BYTE_ARRAY that
// JSON holds as base64, a TIMESTAMP read as an id), a row the direct
// encoder gives up on — it leaves to the JSON way (ok false): encode the
// row, then Reader.Read the line. TestRowReaderMatchesReader holds the two
// ways equal. A RowReader is not safe for concurrent use.
type RowReader struct {
	enc      *RowEncoder
	fields   Fields
	id, time rowTarget
	category rowTarget
	subjects []rowTarget
	fixed    []byte // the fixed category
	direct   bool
}

// rowTarget is where a field is in a row. A field whose path leads
// nowhere an object's key can (a missing field, through a list) is
// absent, as the JSON reader finds it.
type rowTarget struct {
	absent bool
	node   *encNode // the field's node; for a list, the list
	elem   *encNode // a list's element
}

// NewRowReader returns a reader of fields (validated) in rows of enc's
// schema, which encodes the rows that go the JSON way.
func NewRowReader(enc *RowEncoder, f Fields) *RowReader {
	r := &RowReader{enc: enc, fields: f, fixed: []byte(f.FixedCategory)}
	if enc.direct == nil || len(f.Scan) > 0 || depth(enc.direct) > maxDepth/2 {
		return r
	}
	ok := true
	target := func(path string, strOnly, timeOK, listOK bool) rowTarget {
		t, good := compileTarget(enc.direct, path, strOnly, timeOK, listOK)
		ok = ok && good
		return t
	}
	r.id = target(f.ID, true, false, false)
	r.time = target(f.Time, true, true, false)
	if f.Category != "" {
		r.category = target(f.Category, true, false, false)
	}
	for _, s := range f.Subjects {
		r.subjects = append(r.subjects, target(s.Path, true, false, true))
	}
	r.direct = ok
	return r
}

// Encoder returns the encoder of the rows' lines.
func (r *RowReader) Encoder() *RowEncoder { return r.enc }

func depth(n *encNode) int {
	d := 0
	for _, c := range n.children {
		d = max(d, depth(c))
	}
	return d + 1
}

// compileTarget finds path below root. A field the reader reads only as a
// JSON string, or (timeOK) a TIMESTAMP, or (listOK) a list or repeated
// field, is supported; a number, a boolean, an object or null are "not a
// string" to every field, which the reader reports from the kind alone.
func compileTarget(root *encNode, path string, strOnly, timeOK, listOK bool) (rowTarget, bool) {
	n := root
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		if n.kind != encGroup { // not an object: nothing below is read
			return rowTarget{absent: true}, true
		}
		var next *encNode
		for _, c := range n.children {
			if c.name == seg {
				next = c
				break
			}
		}
		if next == nil {
			return rowTarget{absent: true}, true
		}
		n = next
		if i < len(segs)-1 {
			continue
		}
	}
	switch n.kind {
	case encLeaf:
		switch n.leaf {
		case leafText:
			return rowTarget{node: n}, true
		case leafTimestamp:
			return rowTarget{node: n}, timeOK
		case leafBinary: // a base64 string in JSON
			return rowTarget{}, false
		}
		return rowTarget{node: n}, true // a number or a boolean
	case encList, encRepeated:
		if !listOK {
			return rowTarget{node: n}, true
		}
		return rowTarget{node: n, elem: n.children[0]}, true
	}
	return rowTarget{node: n}, true // an object
}

// Read is Reader.Read on row's canonical JSON: it fills rec and returns
// the id and the error Reader.Read would. ok is false when the row goes
// the JSON way, and then nothing else is meaningful. The slices in rec and
// id point into row's values.
func (r *RowReader) Read(row parquet.Row, rec *decision.Record) (id []byte, err error, ok bool) {
	if !r.direct {
		return nil, nil, false
	}
	s := &r.enc.state
	s.dry = true
	out, derr := s.appendDirect(r.enc.scratch[:0], r.enc.direct, row)
	s.dry, r.enc.scratch = false, out[:0]
	if derr != nil {
		return nil, nil, false
	}
	rec.Subjects = rec.Subjects[:0]
	rec.Category, rec.Created = nil, 0
	idv, isStr := r.str(r.id)
	if !isStr {
		return nil, ErrIDNotString, true
	}
	id = idv
	if t := r.time; t.node != nil && t.node.kind == encLeaf && t.node.leaf == leafTimestamp {
		v := s.column(t.node.col)[0]
		if v.DefinitionLevel() < t.node.def {
			return id, ErrTimeNotString, true
		}
		created, good := timestampOf(v.Int64(), t.node.tsUnit, r.enc.scratch[:0])
		if !good {
			return id, ErrTimeFormat, true
		}
		rec.Created = created
	} else {
		tv, isStr := r.str(t)
		if !isStr {
			return id, ErrTimeNotString, true
		}
		created, good := parseTime(tv)
		if !good {
			return id, ErrTimeFormat, true
		}
		rec.Created = created
	}
	if r.fields.Category == "" {
		rec.Category = r.fixed
	} else if c, isStr := r.str(r.category); isStr {
		rec.Category = c
	} else {
		return id, ErrCategory, true
	}
	for k, sf := range r.fields.Subjects {
		if err := r.addSubjects(r.subjects[k], sf.Role, rec); err != nil {
			return id, err, true
		}
	}
	if len(rec.Subjects) == 0 {
		return id, ErrNoSubject, true
	}
	return id, nil, true
}

// present reports whether node n's instance in the row (n has no repeated
// ancestor) is there: neither it nor a group above it is null.
func (r *RowReader) present(n *encNode) bool {
	return r.enc.state.column(n.col)[0].DefinitionLevel() >= n.def
}

// str returns a field's text when it is a JSON string.
func (r *RowReader) str(t rowTarget) ([]byte, bool) {
	if t.absent || t.node.kind != encLeaf || t.node.leaf != leafText || !r.present(t.node) {
		return nil, false
	}
	return r.enc.state.column(t.node.col)[0].ByteArray(), true
}

// addSubjects adds a subject field's subjects, as Reader.Read does: none
// for an absent or null field, one for a string, each element of an array
// of strings; anything else fails with ErrSubject.
func (r *RowReader) addSubjects(t rowTarget, role policy.Role, rec *decision.Record) error {
	switch {
	case t.absent || !r.present(t.node):
		return nil
	case t.elem != nil:
		vals := r.enc.state.column(t.node.col)
		if vals[0].DefinitionLevel() < t.node.elemDef { // an empty array
			return nil
		}
		if t.elem.kind != encLeaf || t.elem.leaf != leafText {
			return ErrSubject
		}
		for _, v := range vals {
			if v.DefinitionLevel() < t.elem.def { // a null element
				return ErrSubject
			}
			rec.Subjects = append(rec.Subjects, decision.SubjectRef{ID: v.ByteArray(), Role: role})
		}
		return nil
	case t.node.kind == encLeaf && t.node.leaf == leafText:
		rec.Subjects = append(rec.Subjects, decision.SubjectRef{ID: r.enc.state.column(t.node.col)[0].ByteArray(), Role: role})
		return nil
	}
	return ErrSubject
}

// timestampOf is the creation time the JSON reader reads from a TIMESTAMP
// value's canonical form: the value to the microsecond (rounded down)
// when its year has four digits, and otherwise whatever parsing the
// written form gives.
func timestampOf(n, unit int64, scratch []byte) (timestamp.Time, bool) {
	sec, frac := n/(1e9/unit), n%(1e9/unit)
	if frac < 0 {
		sec, frac = sec-1, frac+1e9/unit
	}
	const minSec, maxSec = -62135596800, 253402300799
	if sec >= minSec && sec <= maxSec {
		return timestamp.Time(sec*1e6 + frac*unit/1e3), true
	}
	b := appendTimestamp(scratch, n, unit)
	return parseTime(b[1 : len(b)-1])
}
