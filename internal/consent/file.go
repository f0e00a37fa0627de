package consent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/region"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// MaxLine is the longest line the data files may hold.
const MaxLine = 16 << 20

// LineError is a problem with one line of an input file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// EachLine calls fn for every line of r that is not blank, with its 1-based
// number; a leading byte-order mark and a trailing \r are dropped.
func EachLine(file string, r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine+2)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &LineError{file, n + 1, fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// decodeStrict decodes one JSON object into v refusing unknown keys.
func decodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("not valid JSON: %v", se)
		case errors.As(err, &te) && te.Field == "":
			return fmt.Errorf("not a valid JSON object: found a JSON %s", te.Value)
		case errors.As(err, &te):
			return fmt.Errorf("field %q: expected %s, found a JSON %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("not valid JSON: the line ends in the middle of the object")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return fmt.Errorf("not a valid JSON object: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value on the line")
	}
	return nil
}

// ParseSubjectLine reads one line of a subjects file (SPEC §3). now bounds
// `at`: events may not be in the future.
func ParseSubjectLine(line []byte, now timestamp.Time) (SubjectEvent, error) {
	return parseSubjectLine(line, now, true)
}

func parseSubjectLine(line []byte, now timestamp.Time, fast bool) (SubjectEvent, error) {
	var raw rawSubjectLine
	var e SubjectEvent
	if !fast || !raw.scan(line) {
		raw = rawSubjectLine{}
		if err := decodeStrict(line, &raw); err != nil {
			return e, err
		}
	}
	if raw.Subject == nil || *raw.Subject == "" {
		return e, fmt.Errorf("missing \"subject\": the subject id, a non-empty string")
	}
	e.Subject = *raw.Subject
	at, err := requiredTime(raw.At, now)
	if err != nil {
		return e, err
	}
	e.At = at
	if raw.Region != nil {
		e.RegionSet = true
		if string(raw.Region) != "null" {
			var code string
			if err := json.Unmarshal(raw.Region, &code); err != nil {
				return e, fmt.Errorf("\"region\": expected a region code string or null")
			}
			if err := region.Validate(code); err != nil {
				return e, fmt.Errorf("\"region\": %v", err)
			}
			e.Region = code
		}
	}
	if raw.Attributes != nil {
		e.Attributes = make(map[string]*string, len(raw.Attributes))
		for k, v := range raw.Attributes {
			if k == "" {
				return e, fmt.Errorf("\"attributes\": an attribute name may not be empty")
			}
			s, err := attrValue(v)
			if err != nil {
				return e, fmt.Errorf("\"attributes.%s\": %v", k, err)
			}
			e.Attributes[k] = s
		}
	}
	return e, nil
}

// rawSubjectLine is a subjects line before validation.
type rawSubjectLine struct {
	Subject    *string                    `json:"subject"`
	At         *string                    `json:"at"`
	Region     json.RawMessage            `json:"region"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

// scan fills r from the common shape of a subjects line without
// encoding/json: known keys once each, strings without escapes, attribute
// values that are strings, numbers, booleans or null. Anything else
// returns false, and the caller decodes the line with encoding/json, which
// also words the errors.
func (r *rawSubjectLine) scan(s []byte) bool {
	if !utf8.Valid(s) {
		return false
	}
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
	}
	str := func() ([]byte, bool) { // a string without escapes, quotes included
		if i >= len(s) || s[i] != '"' {
			return nil, false
		}
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case c == '"':
				out := s[i : j+1]
				i = j + 1
				return out, true
			case c == '\\' || c < 0x20:
				return nil, false
			}
		}
		return nil, false
	}
	scalar := func() ([]byte, bool) { // a string, number, true, false or null
		if i >= len(s) {
			return nil, false
		}
		if s[i] == '"' {
			return str()
		}
		st := i
		for i < len(s) && (s[i] == '-' || s[i] == '+' || s[i] == '.' || s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'z' || s[i] == 'E') {
			i++
		}
		v := s[st:i]
		if !json.Valid(v) {
			return nil, false
		}
		return v, true
	}
	members := func(each func(key []byte) bool) bool { // an object
		ws()
		if i >= len(s) || s[i] != '{' {
			return false
		}
		i++
		ws()
		if i < len(s) && s[i] == '}' {
			i++
			return true
		}
		for {
			ws()
			k, ok := str()
			if !ok {
				return false
			}
			ws()
			if i >= len(s) || s[i] != ':' {
				return false
			}
			i++
			ws()
			if !each(k[1 : len(k)-1]) {
				return false
			}
			ws()
			if i >= len(s) {
				return false
			}
			if s[i] == '}' {
				i++
				return true
			}
			if s[i] != ',' {
				return false
			}
			i++
		}
	}
	var seen [4]bool
	ok := members(func(key []byte) bool {
		switch string(key) {
		case "subject", "at":
			k := 0
			if key[0] == 'a' {
				k = 1
			}
			v, ok := str()
			if !ok || seen[k] {
				return false
			}
			seen[k] = true
			t := string(v[1 : len(v)-1])
			if k == 0 {
				r.Subject = &t
			} else {
				r.At = &t
			}
			return true
		case "region":
			v, ok := scalar()
			if !ok || seen[2] {
				return false
			}
			seen[2], r.Region = true, v
			return true
		case "attributes":
			if seen[3] {
				return false
			}
			seen[3] = true
			r.Attributes = map[string]json.RawMessage{}
			return members(func(name []byte) bool {
				v, ok := scalar()
				if !ok {
					return false
				}
				if _, dup := r.Attributes[string(name)]; dup {
					return false
				}
				r.Attributes[string(name)] = v
				return true
			})
		}
		return false
	})
	ws()
	return ok && i == len(s)
}

func attrValue(v json.RawMessage) (*string, error) {
	t := bytes.TrimSpace(v)
	switch {
	case string(t) == "null":
		return nil, nil
	case len(t) > 0 && t[0] == '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, err
		}
		return &s, nil
	case string(t) == "true" || string(t) == "false":
		s := string(t)
		return &s, nil
	case len(t) > 0 && (t[0] == '-' || t[0] >= '0' && t[0] <= '9'):
		if _, err := strconv.ParseFloat(string(t), 64); err != nil {
			return nil, fmt.Errorf("not a number")
		}
		s := string(t)
		return &s, nil
	}
	return nil, fmt.Errorf("expected a string, number, boolean or null (objects and lists are not attribute values)")
}

func requiredTime(s *string, now timestamp.Time) (timestamp.Time, error) {
	if s == nil {
		return 0, fmt.Errorf("missing \"at\": an RFC 3339 timestamp")
	}
	t, err := timestamp.Parse(*s)
	if err != nil {
		return 0, fmt.Errorf("\"at\": %v", err)
	}
	if t > now {
		return 0, fmt.Errorf("\"at\" %s is in the future", *s)
	}
	return t, nil
}

// ParseConsentLine reads one line of a consent file (SPEC §3). A missing
// source is "import"; a missing recipient or "*" means every recipient.
func ParseConsentLine(line []byte, now timestamp.Time) (Event, error) {
	return parseConsentLine(line, now, nil)
}

// interner returns one string per distinct value, so that the few purposes,
// recipients and sources of a large file are not allocated once a line.
type interner map[string]string

func (in interner) get(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in[string(b)]; ok {
		return s
	}
	if len(in) > 4096 {
		return string(b)
	}
	s := string(b)
	in[s] = s
	return s
}

func parseConsentLine(line []byte, now timestamp.Time, in interner) (Event, error) {
	var f [6][]byte
	var seen [6]bool
	err := flatStrings(line, func(key, val []byte, null bool) error {
		k := -1
		for i, name := range consentKeys {
			if string(key) == name {
				k = i
			}
		}
		if k < 0 {
			return fmt.Errorf("unknown field %q", key)
		}
		if seen[k] {
			return fmt.Errorf("field %q given twice", key)
		}
		seen[k] = true
		if null {
			return fmt.Errorf("field %q is null: expected a string", key)
		}
		f[k] = val
		return nil
	})
	if err == errNotFlat {
		// Let encoding/json say precisely what is wrong.
		var raw map[string]json.RawMessage
		if jerr := decodeStrict(line, &raw); jerr != nil {
			return Event{}, jerr
		}
		for k, v := range raw {
			if len(v) == 0 || v[0] != '"' {
				return Event{}, fmt.Errorf("field %q: expected a string", k)
			}
		}
	}
	if err != nil {
		return Event{}, err
	}
	str := func(k int) *string {
		if !seen[k] {
			return nil
		}
		var s string
		if k == 0 || k == 4 { // subject and time: many values
			s = string(f[k])
		} else {
			s = in.get(f[k])
		}
		return &s
	}
	return consentEvent(str(0), str(1), str(2), str(3), str(4), str(5), now)
}

// consentKeys are the fields of a consent line, in consentEvent's order.
var consentKeys = [6]string{"subject", "purpose", "recipient", "state", "at", "source"}

func consentEvent(subject, purpose, recipient, state, at, source *string, now timestamp.Time) (Event, error) {
	var e Event
	if subject == nil || *subject == "" {
		return e, fmt.Errorf("missing \"subject\": the subject id, a non-empty string")
	}
	e.Subject = *subject
	if purpose == nil || *purpose == "" {
		return e, fmt.Errorf("missing \"purpose\"")
	}
	e.Purpose = *purpose
	if recipient != nil && *recipient != "*" {
		if *recipient == "" {
			return e, fmt.Errorf("\"recipient\" is empty: omit it or give \"*\" for every recipient")
		}
		e.Recipient = *recipient
	}
	st, err := ParseState(state)
	if err != nil {
		return e, err
	}
	e.State = st
	if e.At, err = requiredTime(at, now); err != nil {
		return e, err
	}
	e.Source = "import"
	if source != nil {
		if !ValidSource(*source) {
			return e, fmt.Errorf("\"source\" %q is not one of %s", *source, strings.Join(Sources, ", "))
		}
		e.Source = *source
	}
	return e, nil
}

// ParseState reads "granted" or "denied".
func ParseState(s *string) (policy.State, error) {
	if s == nil {
		return 0, fmt.Errorf("missing \"state\": granted or denied")
	}
	switch *s {
	case "granted":
		return policy.Granted, nil
	case "denied":
		return policy.Denied, nil
	}
	return 0, fmt.Errorf("\"state\" %q: expected granted or denied", *s)
}

// lineErrors gathers the bad lines of a file; the file is refused whole.
type lineErrors struct {
	first *LineError
	more  int
}

func (l *lineErrors) add(e *LineError) {
	if l.first == nil {
		l.first = e
	} else {
		l.more++
	}
}

func (l *lineErrors) err() error {
	if l.first == nil {
		return nil
	}
	if l.more > 0 {
		return fmt.Errorf("%w (and %d more bad lines); nothing was imported", l.first, l.more)
	}
	return fmt.Errorf("%w; nothing was imported", l.first)
}

// fileLines yields the parsed lines of a file, one at a time. At the first
// bad line it stops yielding values but reads on to count the other bad
// lines, then yields one error naming the first (the caller, storing in one
// transaction, then stores nothing).
func fileLines[T any](file string, parse func([]byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		f, err := os.Open(file)
		if err != nil {
			yield(zero, err)
			return
		}
		defer f.Close()
		var bad lineErrors
		stopped := false
		err = EachLine(file, f, func(n int, line []byte) error {
			v, err := parse(line)
			if err != nil {
				bad.add(&LineError{File: file, Line: n, Msg: err.Error()})
				return nil
			}
			if bad.first == nil && !yield(v, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if stopped {
			return
		}
		if err == nil {
			err = bad.err()
		}
		if err != nil {
			yield(zero, err)
		}
	}
}

var errStop = errors.New("stopped")

// SubjectsFile yields the events of a subjects file (SPEC §3); a bad line
// ends it with a *LineError naming the line (and counting the others).
func SubjectsFile(file string, now timestamp.Time) iter.Seq2[SubjectEvent, error] {
	return fileLines(file, func(line []byte) (SubjectEvent, error) { return ParseSubjectLine(line, now) })
}

// ConsentFile yields the events of a consent file; check validates each
// event against the published policies.
func ConsentFile(file string, now timestamp.Time, check func(*Event) error) iter.Seq2[Event, error] {
	in := interner{}
	return fileLines(file, func(line []byte) (Event, error) {
		e, err := parseConsentLine(line, now, in)
		if err == nil && check != nil {
			err = check(&e)
		}
		return e, err
	})
}

// Collect gathers what a file iterator yields, or its error.
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ReadSubjectsFile reads a whole subjects file into memory.
func ReadSubjectsFile(file string, now timestamp.Time) ([]SubjectEvent, error) {
	return Collect(SubjectsFile(file, now))
}

// ReadConsentFile reads a whole consent file into memory.
func ReadConsentFile(file string, now timestamp.Time, check func(*Event) error) ([]Event, error) {
	return Collect(ConsentFile(file, now, check))
}
