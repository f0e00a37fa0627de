package consent

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/region"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Choice is a consent event as stated, before validation: a nil field is
// absent. Whatever states it — a consent line, command-line flags, an HTTP
// form, a JSON body whose subject is the URL's — Event validates it by the
// rules of a consent line.
type Choice struct{ Subject, Purpose, Recipient, State, At, Source *string }

// ReadChoice reads a consent object strictly, as readObject does (one JSON
// object, valid UTF-8, no key twice), with the keys of a consent line:
// subject, purpose, recipient, state, at and source, each a string. An
// unknown key, null or a value of another kind is refused.
func ReadChoice(obj []byte) (Choice, error) {
	var f choiceFields
	if err := f.read(obj, nil); err != nil {
		return Choice{}, err
	}
	var p [6]*string
	for k := range f.v {
		if f.set[k] {
			p[k] = &f.v[k]
		}
	}
	return Choice{p[0], p[1], p[2], p[3], p[4], p[5]}, nil
}

// Event validates a choice by the rules of a consent line and returns the
// event: subject and purpose non-empty; recipient absent or "*" for every
// recipient (Event.Recipient ""), "" refused; state granted or denied; at
// an RFC 3339 time not after now; source one of Sources, defaultSource when
// absent; every field valid UTF-8. Whether the purpose and recipient are
// declared is the caller's to check, against the published policies.
func (c Choice) Event(now timestamp.Time, defaultSource string) (Event, error) {
	var f choiceFields
	for k, p := range [6]*string{c.Subject, c.Purpose, c.Recipient, c.State, c.At, c.Source} {
		if p != nil {
			if !utf8.ValidString(*p) {
				return Event{}, fmt.Errorf("%q: not valid UTF-8", consentKeys[k])
			}
			f.v[k], f.set[k] = *p, true
		}
	}
	return f.event(now, defaultSource)
}

// consentKeys are the keys of a consent line, in a Choice's order.
var consentKeys = [6]string{"subject", "purpose", "recipient", "state", "at", "source"}

// consentKey is the index of a consent line's key in consentKeys, or -1.
func consentKey(key []byte) int {
	switch string(key) {
	case "subject":
		return 0
	case "purpose":
		return 1
	case "recipient":
		return 2
	case "state":
		return 3
	case "at":
		return 4
	case "source":
		return 5
	}
	return -1
}

// choiceFields is a Choice held by value, in consentKeys' order: what
// ReadChoice reads and Choice.Event validates, without a pointer (and an
// allocation) per field on the consent file's path.
type choiceFields struct {
	v   [6]string
	set [6]bool
}

// read is ReadChoice, with the purposes, recipients and sources interned
// by in (nil: not interned).
func (f *choiceFields) read(obj []byte, in interner) error {
	return readObject(obj, func(key []byte, v value) error {
		k := consentKey(key)
		if k < 0 {
			return fmt.Errorf("unknown field %q", key)
		}
		switch v.kind {
		case kindString:
		case kindNull:
			return fmt.Errorf("field %q is null: expected a string", key)
		default:
			return fmt.Errorf("field %q: expected a string, found %s", key, v.kind)
		}
		if k == 0 || k == 4 { // subject and time: many values
			f.v[k] = string(v.str)
		} else {
			f.v[k] = in.get(v.str)
		}
		f.set[k] = true
		return nil
	})
}

// event is Choice.Event for fields known to be valid UTF-8.
func (f *choiceFields) event(now timestamp.Time, defaultSource string) (Event, error) {
	var e Event
	if !f.set[0] || f.v[0] == "" {
		return e, fmt.Errorf("missing \"subject\": the subject id, a non-empty string")
	}
	if err := ValidateID(f.v[0]); err != nil {
		return e, fmt.Errorf("\"subject\": %v", err)
	}
	e.Subject = f.v[0]
	if !f.set[1] || f.v[1] == "" {
		return e, fmt.Errorf("missing \"purpose\"")
	}
	e.Purpose = f.v[1]
	if f.set[2] && f.v[2] != "*" {
		if f.v[2] == "" {
			return e, fmt.Errorf("\"recipient\" is empty: omit it or give \"*\" for every recipient")
		}
		e.Recipient = f.v[2]
	}
	var st *string
	if f.set[3] {
		st = &f.v[3]
	}
	var err error
	if e.State, err = ParseState(st); err != nil {
		return e, err
	}
	var at *string
	if f.set[4] {
		at = &f.v[4]
	}
	if e.At, err = requiredTime(at, now); err != nil {
		return e, err
	}
	e.Source = defaultSource
	if f.set[5] {
		e.Source = f.v[5]
	}
	if !ValidSource(e.Source) {
		return e, fmt.Errorf("\"source\" %q is not one of %s", e.Source, strings.Join(Sources, ", "))
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

// requiredTime reads the `at` of a line: present, RFC 3339, not after now.
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

// SubjectChange is a subject event as stated, before validation. Whatever
// states it — a subjects line, an HTTP body whose subject is the URL's —
// Event validates it by the rules of a subjects line.
type SubjectChange struct {
	Subject, At *string // nil: absent
	// Region is the region code the change sets (nil: none); RegionNull
	// says it removes the region (the line's "region": null). Neither:
	// the region is unchanged. Both is refused by Event.
	Region     *string
	RegionNull bool
	// Attributes the change sets, by name; a nil value removes the
	// attribute (null). A value is as stored: a string's content, a
	// number as written, true or false. A nil map (absent, or the line's
	// "attributes": null) changes no attribute. Event keeps the map, it
	// does not copy it.
	Attributes map[string]*string
}

// ReadSubjectChange reads a subjects object strictly, as readObject does
// (one JSON object, valid UTF-8, no key twice, at any depth), with the
// keys of a subjects line: subject and at, strings (null: absent); region,
// a string or null; attributes, an object (null: absent) whose values are
// strings, numbers (within a 64-bit float's range), booleans or null, not
// objects or lists. An unknown key or a value of another kind is refused.
func ReadSubjectChange(obj []byte) (SubjectChange, error) {
	var c SubjectChange
	str := func(key []byte, v value) (*string, error) {
		switch v.kind {
		case kindNull:
			return nil, nil
		case kindString:
			s := string(v.str)
			return &s, nil
		}
		return nil, fmt.Errorf("field %q: expected a string, found %s", key, v.kind)
	}
	err := readObject(obj, func(key []byte, v value) (err error) {
		switch string(key) {
		case "subject":
			c.Subject, err = str(key, v)
		case "at":
			c.At, err = str(key, v)
		case "region":
			if v.kind == kindNull {
				c.RegionNull = true
			} else if c.Region, err = str(key, v); err != nil {
				err = fmt.Errorf("\"region\": expected a region code string or null, found %s", v.kind)
			}
		case "attributes":
			switch v.kind {
			case kindNull:
			case kindObject:
				c.Attributes = map[string]*string{}
				err = readObject(v.raw, func(name []byte, v value) error {
					s, err := attrValue(v)
					if err != nil {
						return fmt.Errorf("\"attributes.%s\": %v", name, err)
					}
					c.Attributes[string(name)] = s
					return nil
				})
			default:
				err = fmt.Errorf("\"attributes\": expected an object of attribute names and values, found %s", v.kind)
			}
		default:
			err = fmt.Errorf("unknown field %q", key)
		}
		return err
	})
	if err != nil {
		return SubjectChange{}, err
	}
	return c, nil
}

// attrValue is an attribute's value as stored: nil for null.
func attrValue(v value) (*string, error) {
	var s string
	switch v.kind {
	case kindNull:
		return nil, nil
	case kindString:
		s = string(v.str)
	case kindBool:
		s = string(v.raw)
	case kindNumber:
		s = string(v.raw)
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("the number %s is out of range", s)
		}
	default:
		return nil, fmt.Errorf("expected a string, number, boolean or null (objects and lists are not attribute values)")
	}
	return &s, nil
}

// Event validates a subject change by the rules of a subjects line and
// returns the event: subject non-empty; at an RFC 3339 time not after now;
// region a valid code (region.Validate); attribute names non-empty; every
// string valid UTF-8.
func (c SubjectChange) Event(now timestamp.Time) (SubjectEvent, error) {
	var e SubjectEvent
	if c.Subject == nil || *c.Subject == "" {
		return e, fmt.Errorf("missing \"subject\": the subject id, a non-empty string")
	}
	if err := ValidateID(*c.Subject); err != nil {
		return e, fmt.Errorf("\"subject\": %v", err)
	}
	e.Subject = *c.Subject
	at, err := requiredTime(c.At, now)
	if err != nil {
		return e, err
	}
	e.At = at
	switch {
	case c.RegionNull && c.Region != nil:
		return e, fmt.Errorf("\"region\": both a region code and null")
	case c.RegionNull:
		e.RegionSet = true
	case c.Region != nil:
		if err := region.Validate(*c.Region); err != nil {
			return e, fmt.Errorf("\"region\": %v", err)
		}
		e.RegionSet, e.Region = true, *c.Region
	}
	// Of several bad attributes, the first by name is the one reported.
	var bad string
	var badErr error
	for k, v := range c.Attributes {
		var err error
		switch {
		case k == "":
			err = fmt.Errorf("\"attributes\": an attribute name may not be empty")
		case !utf8.ValidString(k):
			err = fmt.Errorf("\"attributes\": the attribute name %q is not valid UTF-8", k)
		case v != nil && !utf8.ValidString(*v):
			err = fmt.Errorf("\"attributes.%s\": not valid UTF-8", k)
		}
		if err != nil && (badErr == nil || k < bad) {
			bad, badErr = k, err
		}
	}
	if badErr != nil {
		return e, badErr
	}
	e.Attributes = c.Attributes
	return e, nil
}
