package record

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/jsontext"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Malformed-record details. Every one means reason record.malformed; the
// detail goes to the rejects file and never quotes content.
var (
	ErrUTF8          = errors.New("invalid UTF-8")
	ErrNotObject     = errors.New("not a JSON object")
	ErrSyntax        = errors.New("invalid JSON")
	ErrTooDeep       = errors.New("JSON nested too deeply")
	ErrDuplicateKey  = errors.New("a key read by the export is present twice")
	ErrIDNotString   = errors.New("the id is not a JSON string")
	ErrTimeNotString = errors.New("the creation time is not a JSON string")
	ErrTimeFormat    = errors.New("the creation time is not an RFC 3339 timestamp")
	ErrCategory      = errors.New("the category is not a JSON string")
	ErrSubject       = errors.New("a subject is not a JSON string")
	ErrNoSubject     = errors.New("the record has no subject")
)

const maxDepth = 512

type valueKind uint8

const (
	kindAbsent valueKind = iota
	kindString
	kindArray
	kindNull
	kindOther
)

type span struct {
	start, end int
	kind       valueKind
	escaped    bool
}

type node struct {
	keys     []string
	children []*node
	gen      uint32
	targets  []int
}

func (n *node) child(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.children[i]
		}
	}
	c := &node{}
	n.keys = append(n.keys, key)
	n.children = append(n.children, c)
	return c
}

func (n *node) find(key []byte) *node {
	for i, k := range n.keys {
		if k == string(key) {
			return n.children[i]
		}
	}
	return nil
}

const (
	targetID = iota
	targetTime
	targetCategory
	targetSubjects // + k
)

// Reader picks the fields out of record lines. A Reader is not safe for
// concurrent use: give each goroutine its own (NewReader is cheap).
type Reader struct {
	fields Fields
	root   *node
	gen    uint32
	spans  []span
	fixed  []byte
}

// NewReader builds a reader for validated fields.
func NewReader(f Fields) *Reader {
	r := &Reader{fields: f, root: &node{}}
	add := func(path string, target int) {
		n := r.root
		for _, seg := range strings.Split(path, ".") {
			n = n.child(seg)
		}
		n.targets = append(n.targets, target)
	}
	add(f.ID, targetID)
	add(f.Time, targetTime)
	if f.Category != "" {
		add(f.Category, targetCategory)
	} else {
		r.fixed = []byte(f.FixedCategory)
	}
	for k, s := range f.Subjects {
		add(s.Path, targetSubjects+k)
	}
	for k, p := range f.Scan {
		add(p, targetSubjects+len(f.Subjects)+k)
	}
	r.spans = make([]span, targetSubjects+len(f.Subjects)+len(f.Scan))
	return r
}

// Fields returns the fields the reader reads.
func (r *Reader) Fields() Fields { return r.fields }

// Read validates line as one JSON object and fills rec with its category,
// creation time and subjects (in flag order, then array order). It returns
// the record id when it could be read, even when the record is malformed;
// err is one of the Err values above. The slices in rec and id point into
// line (or into fresh memory when the JSON escapes them) and are valid until
// the next call.
func (r *Reader) Read(line []byte, rec *decision.Record) (id []byte, err error) {
	for i := range r.spans {
		r.spans[i] = span{}
	}
	rec.Subjects = rec.Subjects[:0]
	rec.Category, rec.Created = nil, 0
	if !utf8.Valid(line) {
		return nil, ErrUTF8
	}
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return nil, ErrNotObject
	}
	i, err = r.value(line, i, r.root, 0)
	if err == nil && skipWS(line, i) != len(line) {
		err = ErrSyntax
	}
	if sp := r.spans[targetID]; sp.kind == kindString {
		id = r.str(line, sp)
	}
	if err != nil {
		return id, err
	}
	if r.spans[targetID].kind != kindString {
		return nil, ErrIDNotString
	}
	sp := r.spans[targetTime]
	if sp.kind != kindString {
		return id, ErrTimeNotString
	}
	t, ok := parseTime(r.str(line, sp))
	if !ok {
		return id, ErrTimeFormat
	}
	rec.Created = t
	if r.fixed != nil {
		rec.Category = r.fixed
	} else if sp := r.spans[targetCategory]; sp.kind == kindString {
		rec.Category = r.str(line, sp)
	} else {
		return id, ErrCategory
	}
	for k, sf := range r.fields.Subjects {
		sp := r.spans[targetSubjects+k]
		switch sp.kind {
		case kindAbsent, kindNull:
		case kindString:
			rec.Subjects = append(rec.Subjects, decision.SubjectRef{ID: r.str(line, sp), Role: sf.Role})
		case kindArray:
			if err := r.arraySubjects(line, sp, sf.Role, rec); err != nil {
				return id, err
			}
		default:
			return id, ErrSubject
		}
	}
	if len(rec.Subjects) == 0 {
		return id, ErrNoSubject
	}
	return id, nil
}

func (r *Reader) arraySubjects(s []byte, sp span, role policy.Role, rec *decision.Record) error {
	i := skipWS(s, sp.start+1)
	if s[i] == ']' {
		return nil
	}
	for {
		if s[i] != '"' {
			return ErrSubject
		}
		end, esc, err := scanString(s, i)
		if err != nil {
			return err
		}
		rec.Subjects = append(rec.Subjects, decision.SubjectRef{ID: r.str(s, span{i, end, kindString, esc}), Role: role})
		i = skipWS(s, end)
		if s[i] == ']' {
			return nil
		}
		i = skipWS(s, i+1) // ','
	}
}

// StringValue is a JSON string token in a line: line[Start:End], quotes
// included; Escaped when it holds a backslash escape.
type StringValue struct {
	Start, End int
	Escaped    bool
}

// Scanned appends to dst the string values found at the Scan paths by the
// last successful Read, in the order they stand in the line. Values that
// are absent or not strings are left out.
func (r *Reader) Scanned(dst []StringValue) []StringValue {
	base := targetSubjects + len(r.fields.Subjects)
	n := len(dst)
	for k := range r.fields.Scan {
		if sp := r.spans[base+k]; sp.kind == kindString {
			dst = append(dst, StringValue{sp.start, sp.end, sp.escaped})
		}
	}
	added := dst[n:]
	for i := 1; i < len(added); i++ { // few values: insertion sort
		for j := i; j > 0 && added[j].Start < added[j-1].Start; j-- {
			added[j], added[j-1] = added[j-1], added[j]
		}
	}
	return dst
}

// str returns a string span's content, unescaped when it must be.
func (r *Reader) str(s []byte, sp span) []byte {
	if !sp.escaped {
		return s[sp.start+1 : sp.end-1]
	}
	return jsontext.AppendUnescaped(make([]byte, 0, sp.end-sp.start), s[sp.start+1:sp.end-1])
}

var wsTable = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func skipWS(s []byte, i int) int {
	for i < len(s) && wsTable[s[i]] {
		i++
	}
	return i
}

// strStop marks the bytes that end a run of plain string content.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return
}()

// scanKey is scanString for object keys, which are short: a plain loop
// beats the eight-byte one there, and anything unusual goes to scanString.
func scanKey(s []byte, i int) (end int, escaped bool, err error) {
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return j + 1, false, nil
		case c == '\\' || c < 0x20:
			return scanString(s, i)
		}
	}
	return 0, false, ErrSyntax
}

// scanString validates the string starting at s[i] == '"' and returns the
// index just past its closing quote.
func scanString(s []byte, i int) (end int, escaped bool, err error) {
	i++
	for {
		// Eight bytes at a time while none of them is a quote, a backslash
		// or a control character.
		for i+8 <= len(s) {
			v := binary.LittleEndian.Uint64(s[i:])
			m := hasZeroByte(v^(lsb*'"')) | hasZeroByte(v^(lsb*'\\')) | (v-lsb*0x20)&^v&msb
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(s) && !strStop[s[i]] {
			i++
		}
		if i >= len(s) {
			return 0, false, ErrSyntax
		}
		switch c := s[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(s) {
				return 0, false, ErrSyntax
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return 0, false, ErrSyntax
				}
				i += 6
			default:
				return 0, false, ErrSyntax
			}
		default: // control character
			return 0, false, ErrSyntax
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZeroByte has the high bit set in the lowest byte of v that is zero
// (higher bits may be set spuriously above it).
func hasZeroByte(v uint64) uint64 { return (v - lsb) &^ v & msb }

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// value scans one JSON value at s[i] (after whitespace); n is the path node
// for it (nil when nothing below is read).
func (r *Reader) value(s []byte, i int, n *node, depth int) (int, error) {
	if i >= len(s) {
		return 0, ErrSyntax
	}
	switch c := s[i]; {
	case c == '"':
		end, _, err := scanString(s, i)
		return end, err
	case c == '{':
		return r.object(s, i, n, depth+1)
	case c == '[':
		return r.array(s, i, depth+1)
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return number(s, i)
	}
	return 0, ErrSyntax
}

func literal(s []byte, i int, lit string) (int, error) {
	if len(s)-i >= len(lit) && string(s[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return 0, ErrSyntax
}

func number(s []byte, i int) (int, error) {
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		st := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > st
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return 0, ErrSyntax
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return 0, ErrSyntax
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return 0, ErrSyntax
		}
	}
	return i, nil
}

func (r *Reader) array(s []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, ErrTooDeep
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = r.value(s, i, nil, depth); err != nil {
			return 0, err
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, ErrSyntax
		}
		if s[i] == ']' {
			return i + 1, nil
		}
		if s[i] != ',' {
			return 0, ErrSyntax
		}
		i = skipWS(s, i+1)
	}
}

func (r *Reader) object(s []byte, i int, n *node, depth int) (int, error) {
	if depth > maxDepth {
		return 0, ErrTooDeep
	}
	var gen uint32
	if n != nil && len(n.keys) > 0 {
		r.gen++
		gen = r.gen
	} else {
		n = nil
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, ErrSyntax
		}
		kend, kesc, err := scanKey(s, i)
		if err != nil {
			return 0, err
		}
		var child *node
		if n != nil {
			key := s[i+1 : kend-1]
			if kesc {
				key = jsontext.AppendUnescaped(make([]byte, 0, len(key)), key)
			}
			if child = n.find(key); child != nil {
				if child.gen == gen {
					for _, t := range child.targets {
						if t == targetID {
							r.spans[targetID] = span{} // an id given twice is not readable
						}
					}
					return 0, ErrDuplicateKey
				}
				child.gen = gen
			}
		}
		i = skipWS(s, kend)
		if i >= len(s) || s[i] != ':' {
			return 0, ErrSyntax
		}
		i = skipWS(s, i+1)
		start := i
		escaped := false
		if i < len(s) && s[i] == '"' {
			i, escaped, err = scanString(s, i)
		} else {
			i, err = r.value(s, i, child, depth)
		}
		if err != nil {
			return 0, err
		}
		if child != nil && len(child.targets) > 0 {
			sp := span{start: start, end: i, kind: kindOther}
			switch s[start] {
			case '"':
				sp.kind, sp.escaped = kindString, escaped
			case '[':
				sp.kind = kindArray
			case 'n':
				sp.kind = kindNull
			}
			for _, t := range child.targets {
				r.spans[t] = sp
			}
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, ErrSyntax
		}
		if s[i] == '}' {
			return i + 1, nil
		}
		if s[i] != ',' {
			return 0, ErrSyntax
		}
		i = skipWS(s, i+1)
	}
}

// parseTime reads a record's creation time by the one strict RFC 3339
// reader every input kind shares.
func parseTime(b []byte) (timestamp.Time, bool) {
	t, err := timestamp.ParseBytes(b)
	return t, err == nil
}
