package record

import (
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// The direct encoder: a row's canonical JSON written straight from its
// column values, with no reconstructed Go value, no encoding/json and no
// second pass through a canonicaliser. It is compiled once per schema
// (compileRow) for the shapes it knows: groups, LIST groups, repeated
// fields, BOOLEAN, INT32 and INT64 (plain, INT-annotated or
// TIMESTAMP), FLOAT, DOUBLE, and BYTE_ARRAY columns (text or base64). A
// schema with anything else is encoded the reference way (appendReference)
// only (MAP and JSON columns among them). A row the direct encoder cannot
// render (a value with no JSON form, levels it does not expect) is also
// handed to the
// reference way, so that every row gets exactly the reference's bytes or
// error: the direct encoder is a faster route to the same output, which
// TestRowEncoderMatchesReference holds it to.

type encKind uint8

const (
	encLeaf encKind = iota
	encGroup
	encRepeated // a repeated field outside LIST and MAP: an array of its instances
	encList     // a LIST group: an array of its elements
)

type leafKind uint8

const (
	leafBool leafKind = iota
	leafInt32
	leafUint32
	leafInt64
	leafTimestamp
	leafFloat
	leafDouble
	leafText
	leafBinary
)

// encNode is one node of a compiled schema.
type encNode struct {
	kind     encKind
	name     string // a group's field's name
	key      []byte // `"name":`, JCS-encoded
	optional bool
	def, rep int // the definition and repetition levels of a present instance
	col      int // a leaf's column; for others, the first leaf column below
	lastCol  int // the last leaf column below (a leaf: its own)
	leaf     leafKind
	tsUnit   int64      // a timestamp's nanoseconds per unit
	children []*encNode // a group's fields in canonical key order; a list's or repeated field's element
	// The levels of a list's or repeated field's elements: a new element
	// starts at a value of repetition level elemRep; a first value below
	// elemDef means no element.
	elemRep, elemDef int
}

// compileRow compiles schema for the direct encoder, or returns nil when
// the schema holds a shape it does not know.
func compileRow(schema *parquet.Schema) *encNode {
	c := &rowCompiler{}
	root := c.group(schema, 0, 0)
	if root == nil || c.cols == 0 {
		return nil
	}
	return root
}

type rowCompiler struct {
	cols int // leaf columns numbered so far
}

// node compiles n, present at definition level def and repetition level
// rep (those of n's parent, plus n's own optional or repeated).
func (c *rowCompiler) node(n parquet.Node, def, rep int) *encNode {
	switch {
	case n.Repeated():
		def, rep = def+1, rep+1
		first := c.cols
		var elem *encNode
		if n.Leaf() {
			elem = c.leaf(n, def)
		} else {
			elem = c.group(n, def, rep)
		}
		if elem == nil {
			return nil
		}
		return &encNode{kind: encRepeated, def: def, rep: rep, col: first, lastCol: c.cols - 1, children: []*encNode{elem}, elemRep: rep, elemDef: def}
	case n.Optional():
		def++
	}
	var e *encNode
	if n.Leaf() {
		e = c.leaf(n, def)
	} else {
		lt := n.Type().LogicalType()
		switch {
		case lt != nil && isLogical[*format.ListType](lt):
			e = c.list(n, def, rep)
		case lt != nil && isLogical[*format.MapType](lt):
			return nil // the reference reads some MAPs oddly (their values' types): it alone encodes them
		case n.Type().ConvertedType() != nil:
			return nil
		default:
			e = c.group(n, def, rep)
		}
	}
	if e != nil {
		e.optional = n.Optional()
	}
	return e
}

// group compiles a group's fields, sorted as RFC 8785 sorts keys.
func (c *rowCompiler) group(n parquet.Node, def, rep int) *encNode {
	first := c.cols
	fields := n.Fields()
	if len(fields) == 0 {
		return nil
	}
	g := &encNode{kind: encGroup, def: def, rep: rep, col: first}
	keys := make(map[*encNode][]uint16, len(fields))
	for _, f := range fields {
		if !utf8.ValidString(f.Name()) {
			return nil
		}
		ch := c.node(f, def, rep)
		if ch == nil {
			return nil
		}
		ch.name, ch.key = f.Name(), append(appendCanonicalString(nil, f.Name()), ':')
		keys[ch] = utf16.Encode([]rune(f.Name()))
		g.children = append(g.children, ch)
	}
	slices.SortFunc(g.children, func(a, b *encNode) int { return slices.Compare(keys[a], keys[b]) })
	g.lastCol = c.cols - 1
	return g
}

// list compiles group (LIST) { repeated … }: its elements are the
// repeated field's single field, or the repeated field itself.
func (c *rowCompiler) list(n parquet.Node, def, rep int) *encNode {
	fs := n.Fields()
	if len(fs) != 1 || !fs[0].Repeated() {
		return nil
	}
	first := c.cols
	r := fs[0]
	edef, erep := def+1, rep+1
	var elem *encNode
	switch {
	case r.Leaf():
		elem = c.leaf(r, edef)
	case len(r.Fields()) == 1:
		f := r.Fields()[0]
		if f.Repeated() {
			return nil
		}
		elem = c.node(f, edef, erep)
	default:
		elem = c.group(r, edef, erep)
	}
	if elem == nil {
		return nil
	}
	return &encNode{kind: encList, def: def, rep: rep, col: first, lastCol: c.cols - 1, children: []*encNode{elem}, elemRep: erep, elemDef: edef}
}

func (c *rowCompiler) leaf(n parquet.Node, def int) *encNode {
	t := n.Type()
	e := &encNode{kind: encLeaf, def: def, col: c.cols, lastCol: c.cols}
	c.cols++
	lt := t.LogicalType()
	if lt == nil && t.ConvertedType() != nil && !textual(t) {
		return nil
	}
	switch t.Kind() {
	case parquet.Boolean:
		e.leaf = leafBool
	case parquet.Int32:
		switch {
		case lt == nil:
			e.leaf = leafInt32
		case isLogical[*format.IntType](lt):
			e.leaf = leafInt32
			if !lt.Value.(*format.IntType).IsSigned {
				e.leaf = leafUint32
			}
		case isLogical[*format.DateType](lt):
			e.leaf = leafInt32 // days since the epoch, as the reference writes them
		default:
			return nil
		}
	case parquet.Int64:
		switch {
		case lt == nil:
			e.leaf = leafInt64
		case isLogical[*format.IntType](lt):
			e.leaf = leafInt64
		case isLogical[*format.TimestampType](lt):
			e.leaf = leafTimestamp
			switch lt.Value.(*format.TimestampType).Unit.Value.(type) {
			case *format.MilliSeconds:
				e.tsUnit = 1e6
			case *format.NanoSeconds:
				e.tsUnit = 1
			default:
				e.tsUnit = 1e3
			}
		default:
			return nil
		}
	case parquet.Float:
		if lt != nil {
			return nil
		}
		e.leaf = leafFloat
	case parquet.Double:
		if lt != nil {
			return nil
		}
		e.leaf = leafDouble
	case parquet.ByteArray:
		switch {
		case lt != nil && isLogical[*format.JsonType](lt):
			return nil // the reference writes the JSON itself, not a string
		case textual(t):
			e.leaf = leafText
		case lt == nil:
			e.leaf = leafBinary
		default:
			return nil
		}
	default:
		return nil
	}
	return e
}

// errDirect is why the direct encoder gave a row to the reference one.
var errDirect = errors.New("the row is encoded the reference way")

// rowState is the direct encoder's scratch: each column's values in the
// row being encoded, and how many of them are consumed.
type rowState struct {
	cols []cursor
	// dry, when set, makes appendDirect check that the row has a JSON form
	// without writing the leaves' values (the structure is still written).
	dry bool
}

// cursor is one column's values in the row and how many are consumed.
type cursor struct {
	vals []parquet.Value
	pos  int
}

// column returns column c's values in the row last given to appendDirect.
func (s *rowState) column(c int) []parquet.Value { return s.cols[c].vals }

// appendDirect appends row's canonical JSON to dst, or returns errDirect.
func (s *rowState) appendDirect(dst []byte, root *encNode, row parquet.Row) ([]byte, error) {
	ncols := root.lastCol + 1
	if cap(s.cols) < ncols {
		s.cols = make([]cursor, ncols)
	}
	cols := s.cols[:ncols]
	s.cols = cols
	// Each column's values are contiguous, in column order.
	c, start := 0, 0
	for i := range row {
		if col := row[i].Column(); col != c {
			if col != c+1 || i == start {
				return dst, errDirect
			}
			cols[c] = cursor{vals: row[start:i]}
			c, start = col, i
		}
	}
	if c != ncols-1 || start == len(row) {
		return dst, errDirect
	}
	cols[c] = cursor{vals: row[start:]}
	out, err := s.value(dst, root)
	if err != nil {
		return dst, err
	}
	for i := range cols {
		if cols[i].pos != len(cols[i].vals) {
			return dst, errDirect
		}
	}
	return out, nil
}

// peek returns the next value of column c.
func (s *rowState) peek(c int) (*parquet.Value, bool) {
	cur := &s.cols[c]
	if cur.pos >= len(cur.vals) {
		return nil, false
	}
	return &cur.vals[cur.pos], true
}

// skip consumes the one value each column below n holds for a null or an
// empty instance.
func (s *rowState) skip(n *encNode) error {
	for c := n.col; c <= n.lastCol; c++ {
		cur := &s.cols[c]
		if cur.pos >= len(cur.vals) {
			return errDirect
		}
		cur.pos++
	}
	return nil
}

// value appends one instance of n, whose parent is present.
func (s *rowState) value(dst []byte, n *encNode) ([]byte, error) {
	v, ok := s.peek(n.col)
	if !ok {
		return dst, errDirect
	}
	if n.optional && v.DefinitionLevel() < n.def {
		return append(dst, "null"...), s.skip(n)
	}
	switch n.kind {
	case encLeaf:
		s.cols[n.col].pos++
		if s.dry {
			return dst, checkLeaf(n, v)
		}
		return appendLeaf(dst, n, v)
	case encGroup:
		dst = append(dst, '{')
		for i, ch := range n.children {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, ch.key...)
			var err error
			if dst, err = s.value(dst, ch); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case encRepeated, encList:
		if v.DefinitionLevel() < n.elemDef {
			return append(dst, "[]"...), s.skip(n)
		}
		dst = append(dst, '[')
		elem := n.children[0]
		for first := true; ; first = false {
			if !first {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = s.element(dst, elem); err != nil {
				return dst, err
			}
			if v, ok := s.peek(n.col); !ok || v.RepetitionLevel() != n.elemRep {
				break
			}
		}
		return append(dst, ']'), nil
	}
	return dst, errDirect
}

// element appends one element of a list or a repeated field: the
// element's node as required, unless it is itself optional.
func (s *rowState) element(dst []byte, n *encNode) ([]byte, error) {
	if n.kind == encRepeated {
		return dst, errDirect
	}
	return s.value(dst, n)
}

// checkLeaf fails as appendLeaf does, without writing.
func checkLeaf(n *encNode, v *parquet.Value) error {
	if v.IsNull() {
		return errDirect
	}
	switch n.leaf {
	case leafFloat:
		if f := float64(v.Float()); math.IsNaN(f) || math.IsInf(f, 0) {
			return errDirect
		}
	case leafDouble:
		if f := v.Double(); math.IsNaN(f) || math.IsInf(f, 0) {
			return errDirect
		}
	case leafText:
		if !utf8.Valid(v.ByteArray()) {
			return errDirect
		}
	}
	return nil
}

func appendLeaf(dst []byte, n *encNode, v *parquet.Value) ([]byte, error) {
	if v.IsNull() {
		return dst, errDirect
	}
	switch n.leaf {
	case leafBool:
		return strconv.AppendBool(dst, v.Boolean()), nil
	case leafInt32:
		return strconv.AppendInt(dst, int64(v.Int32()), 10), nil
	case leafUint32:
		return strconv.AppendUint(dst, uint64(v.Uint32()), 10), nil
	case leafInt64:
		return appendInt64(dst, v.Int64()), nil
	case leafTimestamp:
		return appendTimestamp(dst, v.Int64(), n.tsUnit), nil
	case leafFloat:
		f := v.Float()
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return dst, errDirect
		}
		// encoding/json writes a FLOAT's shortest 32-bit form, which the
		// canonical form reads back as a double.
		d, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
		return appendDouble(dst, d)
	case leafDouble:
		return appendDouble(dst, v.Double())
	case leafText:
		b := v.ByteArray()
		if !utf8.Valid(b) {
			return dst, errDirect
		}
		return appendCanonicalString(dst, b), nil
	case leafBinary:
		dst = append(dst, '"')
		return append(base64.StdEncoding.AppendEncode(dst, v.ByteArray()), '"'), nil
	}
	return dst, errDirect
}

// appendInt64 appends an integer as RFC 8785 writes a number: exact up
// to 2^53, beyond as the nearest double.
func appendInt64(dst []byte, n int64) []byte {
	if n >= -1<<53 && n <= 1<<53 {
		return strconv.AppendInt(dst, n, 10)
	}
	s, _ := jcs.NumberToJSON(float64(n))
	return append(dst, s...)
}

func appendDouble(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, errDirect
	}
	if f == math.Trunc(f) && f >= -1<<53 && f <= 1<<53 {
		return strconv.AppendInt(dst, int64(f), 10), nil
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil {
		return dst, errDirect
	}
	return append(dst, s...), nil
}

// appendTimestamp appends a TIMESTAMP (n units of unit nanoseconds since
// the epoch) as an RFC 3339 string in UTC to the microsecond, trailing
// zeros of the fraction dropped.
func appendTimestamp(dst []byte, n, unit int64) []byte {
	sec, frac := n/(1e9/unit), n%(1e9/unit)
	if frac < 0 {
		sec, frac = sec-1, frac+1e9/unit
	}
	micros := frac * unit / 1e3
	const minSec, maxSec = -62135596800, 253402300799 // 0001-01-01, 9999-12-31T23:59:59
	if sec < minSec || sec > maxSec {
		return append(time.Unix(sec, micros*1e3).UTC().AppendFormat(append(dst, '"'), "2006-01-02T15:04:05.999999Z07:00"), '"')
	}
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	y, m, d := civil(days)
	dst = append(dst, '"')
	dst = append4(dst, y)
	dst = append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T')
	h, mi, s := rem/3600, rem/60%60, rem%60
	dst = append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if micros != 0 {
		var f [7]byte
		f[0] = '.'
		for i, x := 6, micros; i >= 1; i-- {
			f[i] = byte('0' + x%10)
			x /= 10
		}
		k := 7
		for f[k-1] == '0' {
			k--
		}
		dst = append(dst, f[:k]...)
	}
	return append(dst, 'Z', '"')
}

func append4(dst []byte, y int64) []byte {
	return append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil, inverted).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendCanonicalString appends s as RFC 8785 writes a string: '"' and
// '\\' escaped, \b \f \n \r \t, other control characters as \u00xx,
// everything else as it is (s is valid UTF-8).
func appendCanonicalString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	return append(append(dst, s[start:]...), '"')
}
