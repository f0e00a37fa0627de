package consent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/consentgate/consentgate/internal/jsontext"
)

// This file is the one JSON reader of the data files' lines: subjects and
// consent lines both go through readObject, so that both refuse the same
// things with the same words.

// maxDepth bounds how deeply objects and arrays may nest in a line. Neither
// line kind has anything below its second level, so the bound only keeps a
// hostile line from costing stack.
const maxDepth = 64

// kind is the kind of a JSON value.
type kind uint8

const (
	kindString kind = iota + 1
	kindNumber
	kindBool // true or false
	kindNull
	kindObject
	kindArray
)

// String names the kind as the messages do ("found a JSON number").
func (k kind) String() string {
	switch k {
	case kindString:
		return "a JSON string"
	case kindNumber:
		return "a JSON number"
	case kindBool:
		return "a JSON boolean"
	case kindNull:
		return "JSON null"
	case kindObject:
		return "a JSON object"
	case kindArray:
		return "a JSON array"
	}
	return "nothing"
}

// value is a member's value, validated in full.
type value struct {
	kind kind
	// raw is the value as written: a string with its quotes, a number's
	// text, true, false, null, an object or an array whole. It shares
	// memory with the input.
	raw []byte
	// str is a string's content, unescaped. It may share memory with the
	// input or with a buffer reused for the next member: it is valid only
	// during the call it is passed to.
	str []byte
}

// readObject reads s strictly as one JSON object (RFC 8259) and calls fn
// with each member's key, unescaped, and value, in the order written; the
// key too is valid only during the call. It refuses, with a message for a
// person that says what was expected and at which byte (counted from 1):
//
//   - input that is not valid UTF-8, anywhere;
//   - anything but one object surrounded by optional JSON white space
//     (space, tab, CR, LF): an empty line, another kind of value, bytes
//     after the object;
//   - a key given twice in any object, keys compared exactly as they read
//     after unescaping (so "subject" and "Subject" are two keys);
//   - JSON that is not valid, nested values included: numbers by the RFC's
//     grammar (no 01, 1., .5 or +1), string escapes by its list, and a \u
//     escape of half a UTF-16 surrogate pair without the other half;
//   - values nested more than maxDepth deep.
//
// Members are validated before fn sees them; an error from fn stops the
// reading and is returned as is, so the first problem of the line, left to
// right, is the one reported.
func readObject(s []byte, fn func(key []byte, v value) error) error {
	if !utf8.Valid(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("not valid UTF-8 (byte %d)", i+1)
	}
	r := objectReader{s: s}
	i := skipWS(s, 0)
	if i == len(s) {
		if len(s) == 0 {
			return errors.New("not a JSON object: the line is empty")
		}
		return errors.New("not a JSON object: the line holds only white space")
	}
	if s[i] != '{' {
		return r.notObject(i)
	}
	end, err := r.object(i, 1, fn)
	if err != nil {
		return err
	}
	if j := skipWS(s, end); j < len(s) {
		return fmt.Errorf("not valid JSON: bytes after the object (byte %d: %s); a line holds one object", j+1, r.describe(j))
	}
	return nil
}

// objectReader reads one line.
type objectReader struct {
	s   []byte
	buf []byte // unescaped string values, reused member to member
}

// dupKeyError is a key given twice; path leads to it from the line's
// object.
type dupKeyError struct{ path []string }

func (e *dupKeyError) Error() string {
	var b strings.Builder
	for i, p := range e.path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return fmt.Sprintf("field %q given twice", b.String())
}

// under puts err, from the value at step (a key, or "[i]" in an array),
// under that step.
func under(err error, step string) error {
	if d, ok := err.(*dupKeyError); ok {
		d.path = append([]string{step}, d.path...)
	}
	return err
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

// syntax is a "not valid JSON" error at s[i].
func (r *objectReader) syntax(i int, format string, args ...any) error {
	return fmt.Errorf("not valid JSON: %s (byte %d)", fmt.Sprintf(format, args...), i+1)
}

// ended is the error for a line that stops before its object does.
func (r *objectReader) ended() error {
	return errors.New("not valid JSON: the line ends in the middle of the object")
}

// describe names what is at s[i] for a message.
func (r *objectReader) describe(i int) string {
	if i >= len(r.s) {
		return "the end of the line"
	}
	c, _ := utf8.DecodeRune(r.s[i:])
	return strconv.QuoteRune(c)
}

// notObject words a line that starts, at s[i], with something else than '{'.
func (r *objectReader) notObject(i int) error {
	var k kind
	switch c := r.s[i]; {
	case c == '[':
		k = kindArray
	case c == '"':
		k = kindString
	case c == '-' || c >= '0' && c <= '9':
		k = kindNumber
	case c == 't' || c == 'f':
		k = kindBool
	case c == 'n':
		k = kindNull
	default:
		return r.syntax(i, "expected a JSON object, found %s", r.describe(i))
	}
	return fmt.Errorf("not a JSON object: found %s", k)
}

// object reads the object at s[i] == '{', calling fn (when not nil) for
// each member, and returns the index just past it.
func (r *objectReader) object(i, depth int, fn func([]byte, value) error) (int, error) {
	s := r.s
	if depth > maxDepth {
		return 0, fmt.Errorf("values nested more than %d deep (byte %d)", maxDepth, i+1)
	}
	// The keys so far, for duplicates: a few in a list, many in a map.
	var small [8][]byte
	keys := small[:0]
	var many map[string]struct{}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) {
			return 0, r.ended()
		}
		if s[i] != '"' {
			if s[i] == '}' {
				return 0, r.syntax(i, "a ',' before '}': expected another key in double quotes")
			}
			return 0, r.syntax(i, "expected a key in double quotes, found %s", r.describe(i))
		}
		end, esc, err := r.str(i)
		if err != nil {
			return 0, err
		}
		key := s[i+1 : end-1]
		if esc {
			key = jsontext.AppendUnescaped(nil, key)
		}
		if many != nil {
			if _, dup := many[string(key)]; dup {
				return 0, &dupKeyError{[]string{string(key)}}
			}
			many[string(key)] = struct{}{}
		} else {
			for _, k := range keys {
				if string(k) == string(key) {
					return 0, &dupKeyError{[]string{string(key)}}
				}
			}
			if keys = append(keys, key); len(keys) == 32 {
				many = make(map[string]struct{}, 64)
				for _, k := range keys {
					many[string(k)] = struct{}{}
				}
			}
		}
		i = skipWS(s, end)
		if i >= len(s) {
			return 0, r.ended()
		}
		if s[i] != ':' {
			return 0, r.syntax(i, "expected ':' after the key %q, found %s", key, r.describe(i))
		}
		i = skipWS(s, i+1)
		if i >= len(s) {
			return 0, r.ended()
		}
		if !startsValue[s[i]] {
			return 0, r.syntax(i, "expected the value of %q, found %s", key, r.describe(i))
		}
		start := i
		var k kind
		if i, k, esc, err = r.value(i, depth); err != nil {
			return 0, under(err, string(key))
		}
		if fn != nil {
			v := value{kind: k, raw: s[start:i]}
			if k == kindString {
				v.str = s[start+1 : i-1]
				if esc {
					r.buf = jsontext.AppendUnescaped(r.buf[:0], v.str)
					v.str = r.buf
				}
			}
			if err := fn(key, v); err != nil {
				return 0, err
			}
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, r.ended()
		}
		switch s[i] {
		case '}':
			return i + 1, nil
		case ',':
			i = skipWS(s, i+1)
		default:
			return 0, r.syntax(i, "expected ',' or '}' after the value of %q, found %s", key, r.describe(i))
		}
	}
}

// startsValue marks the bytes a JSON value may start with.
var startsValue = func() (t [256]bool) {
	for _, c := range []byte(`"{[tfn-0123456789`) {
		t[c] = true
	}
	return
}()

// value validates the value at s[i] (not white space) and returns the index
// just past it, its kind and, for a string, whether it holds escapes.
func (r *objectReader) value(i, depth int) (end int, k kind, esc bool, err error) {
	s := r.s
	switch c := s[i]; {
	case c == '"':
		end, esc, err = r.str(i)
		return end, kindString, esc, err
	case c == '{':
		end, err = r.object(i, depth+1, nil)
		return end, kindObject, false, err
	case c == '[':
		end, err = r.array(i, depth+1)
		return end, kindArray, false, err
	case c == 't':
		end, err = r.literal(i, "true")
		return end, kindBool, false, err
	case c == 'f':
		end, err = r.literal(i, "false")
		return end, kindBool, false, err
	case c == 'n':
		end, err = r.literal(i, "null")
		return end, kindNull, false, err
	case c == '-' || c >= '0' && c <= '9':
		end, err = r.number(i)
		return end, kindNumber, false, err
	}
	return 0, 0, false, r.syntax(i, "expected a value, found %s", r.describe(i))
}

// array validates the array at s[i] == '['.
func (r *objectReader) array(i, depth int) (int, error) {
	s := r.s
	if depth > maxDepth {
		return 0, fmt.Errorf("values nested more than %d deep (byte %d)", maxDepth, i+1)
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, nil
	}
	for n := 0; ; n++ {
		if i >= len(s) {
			return 0, r.ended()
		}
		if s[i] == ']' {
			return 0, r.syntax(i, "a ',' before ']': expected another value")
		}
		end, _, _, err := r.value(i, depth)
		if err != nil {
			return 0, under(err, "["+strconv.Itoa(n)+"]")
		}
		i = skipWS(s, end)
		if i >= len(s) {
			return 0, r.ended()
		}
		switch s[i] {
		case ']':
			return i + 1, nil
		case ',':
			i = skipWS(s, i+1)
		default:
			return 0, r.syntax(i, "expected ',' or ']' after an element of a list, found %s", r.describe(i))
		}
	}
}

// literal validates true, false or null at s[i].
func (r *objectReader) literal(i int, lit string) (int, error) {
	s := r.s
	if len(s)-i >= len(lit) && string(s[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	if len(s)-i < len(lit) && string(s[i:]) == lit[:len(s)-i] {
		return 0, r.ended()
	}
	j := i
	for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
		j++
	}
	return 0, r.syntax(i, "expected a value (true, false, null, a number, a string, an object or a list), found %q", s[i:max(j, i+1)])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number validates the number at s[i] by RFC 8259's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *objectReader) number(i int) (int, error) {
	s := r.s
	start := i
	token := func() string { // the number-like run at start, for a message
		j := start
		for j < len(s) && (isDigit(s[j]) || s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
			j++
		}
		return string(s[start:j])
	}
	digits := func(what string) error {
		if i >= len(s) {
			return r.ended()
		}
		if !isDigit(s[i]) {
			return r.syntax(i, "the number %s: expected a digit %s, found %s", token(), what, r.describe(i))
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return nil
	}
	if s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
		if i < len(s) && isDigit(s[i]) {
			return 0, r.syntax(start, "the number %s: a number may not start with 0 followed by digits", token())
		}
	} else if err := digits("after '-'"); err != nil {
		return 0, err
	}
	if i < len(s) && s[i] == '.' {
		i++
		if err := digits("after the decimal point"); err != nil {
			return 0, err
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if err := digits("in the exponent"); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// str validates the string at s[i] == '"' and returns the index just past
// its closing quote and whether it holds escapes.
func (r *objectReader) str(i int) (end int, esc bool, err error) {
	s := r.s
	j := i + 1
	for {
		for j < len(s) && !strStop[s[j]] {
			j++
		}
		if j >= len(s) {
			return 0, false, r.ended()
		}
		switch c := s[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			n, err := r.escape(j)
			if err != nil {
				return 0, false, err
			}
			j += n
		default:
			return 0, false, r.syntax(j, "the control character %U in a string: it must be escaped", c)
		}
	}
}

// escape validates the escape at s[j] == '\\' and returns its length: a
// \u escape of a high surrogate must be followed by one of a low
// surrogate, and a low one may not come alone.
func (r *objectReader) escape(j int) (int, error) {
	s := r.s
	if j+1 >= len(s) {
		return 0, r.ended()
	}
	switch s[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		c, _ := utf8.DecodeRune(s[j+1:])
		return 0, r.syntax(j, "\\%c is not an escape in a JSON string", c)
	}
	h, err := r.hex4(j)
	if err != nil {
		return 0, err
	}
	switch {
	case h >= 0xdc00 && h <= 0xdfff:
		return 0, r.syntax(j, "\\u%04x is the second half of a UTF-16 surrogate pair without the first: not a character", h)
	case h >= 0xd800 && h <= 0xdbff:
		if j+7 < len(s) && s[j+6] == '\\' && s[j+7] == 'u' {
			l, err := r.hex4(j + 6)
			if err != nil {
				return 0, err
			}
			if l >= 0xdc00 && l <= 0xdfff {
				return 12, nil
			}
		} else if j+7 >= len(s) && string(s[j+6:]) == `\u`[:len(s)-j-6] {
			return 0, r.ended()
		}
		return 0, r.syntax(j, "\\u%04x is the first half of a UTF-16 surrogate pair without the second: not a character", h)
	}
	return 6, nil
}

// hex4 reads the four hex digits of the \u escape at s[j].
func (r *objectReader) hex4(j int) (rune, error) {
	s := r.s
	var v rune
	for k := j + 2; k < j+6; k++ {
		if k >= len(s) {
			return 0, r.ended()
		}
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, r.syntax(j, "\\u must be followed by four hex digits, found %s", r.describe(k))
		}
	}
	return v, nil
}

// CheckJSON holds one JSON document (a request body: an object or an
// array) to the rules readObject reads a line by: valid UTF-8, valid JSON
// by the RFC's grammar, no key given twice in any object, no deeper
// nesting than maxDepth, nothing after the value. Every input kind is read
// by the same strict rules.
func CheckJSON(s []byte) error {
	if !utf8.Valid(s) {
		return readObject(s, nil) // says where
	}
	r := objectReader{s: s}
	i := skipWS(s, 0)
	if i == len(s) {
		return errors.New("the body is empty: expected a JSON value")
	}
	end, _, _, err := r.value(i, 0)
	if err != nil {
		return err
	}
	if j := skipWS(s, end); j < len(s) {
		return fmt.Errorf("not valid JSON: bytes after the value (byte %d: %s)", j+1, r.describe(j))
	}
	return nil
}
