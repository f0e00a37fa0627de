// Package consent owns subjects and their choices: subject events (region and
// attribute changes over time), consent events, and the point-in-time View an
// export or a decision reads them through.
package consent

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Sources a consent event may come from.
var Sources = []string{"settings", "api", "gpc", "import", "support"}

// ValidSource reports whether s is one of Sources.
func ValidSource(s string) bool {
	for _, x := range Sources {
		if x == s {
			return true
		}
	}
	return false
}

// SubjectEvent is a change to a subject's region and attributes from At on.
// Fields not mentioned are unchanged.
type SubjectEvent struct {
	Seq       int64 // store order; ties at the same At go to the later Seq
	Subject   string
	At        timestamp.Time
	RegionSet bool   // the event sets the region
	Region    string // the region it sets; "" when it removes the region (null)
	// Attributes it sets; a nil value removes the attribute (null).
	Attributes map[string]*string
}

// Event is one consent choice. Recipient "" means every recipient (the file
// format's omitted recipient or "*").
//
// Policy and Notice are the policy version in force at At when the choice
// was recorded through the privacy centre, the API or the command line,
// and where that version is explained (its notice URL, "" when it has
// none): what the member was told when they chose (SPEC §2.1). Both are
// "" for an event recorded before any version was in force, for an
// imported one (consentgate did not show that member the notice), and
// for one stored before consent events noted them. They are not part of
// Key: the same choice recorded twice is one event whatever was noted.
type Event struct {
	Seq       int64
	Subject   string
	Purpose   string
	Recipient string
	State     policy.State
	At        timestamp.Time
	Source    string
	Policy    string
	Notice    string
}

// RecipientLabel is the recipient as the file format writes it.
func (e *Event) RecipientLabel() string {
	if e.Recipient == "" {
		return "*"
	}
	return e.Recipient
}

// EncodeAttributes writes attributes as a JSON object with sorted keys and
// string or null values (the stored form). Nil or empty gives "".
func EncodeAttributes(m map[string]*string) string {
	if len(m) == 0 {
		return ""
	}
	var keysBuf [8]string
	keys := keysBuf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf [128]byte
	b := append(buf[:0], '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if m[k] == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *m[k])
		}
	}
	return string(append(b, '}'))
}

// appendJSONString appends s as encoding/json writes it without HTML
// escaping: printable ASCII as is, anything else through encoding/json
// itself, so that the stored form (and the digests over it) never change.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			var w bytes.Buffer
			enc := json.NewEncoder(&w)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			return append(b, bytes.TrimSuffix(w.Bytes(), []byte("\n"))...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// DecodeAttributes reads the stored form.
func DecodeAttributes(s []byte) (map[string]*string, error) {
	if len(s) == 0 {
		return nil, nil
	}
	var m map[string]*string
	err := json.Unmarshal(s, &m)
	return m, err
}

// Key is a digest identifying the event's content, for idempotent imports.
func (e *SubjectEvent) Key() []byte {
	return e.keyWith(EncodeAttributes(e.Attributes))
}

// keyWith is Key given the event's encoded attributes.
func (e *SubjectEvent) keyWith(attrs string) []byte {
	var buf [256]byte
	b := append(append(buf[:0], e.Subject...), 0)
	b = append(strconv.AppendInt(b, int64(e.At), 10), 0)
	b = append(strconv.AppendBool(b, e.RegionSet), 0)
	b = append(append(b, e.Region...), 0)
	b = append(b, attrs...)
	sum := sha256.Sum256(b)
	return sum[:16]
}

// Key is a digest identifying the event's content, for idempotent imports.
func (e *Event) Key() []byte {
	var buf [256]byte
	b := append(append(buf[:0], e.Subject...), 0)
	b = append(append(b, e.Purpose...), 0)
	b = append(append(b, e.Recipient...), 0)
	b = append(strconv.AppendUint(b, uint64(e.State), 10), 0)
	b = append(strconv.AppendInt(b, int64(e.At), 10), 0)
	b = append(b, e.Source...)
	sum := sha256.Sum256(b)
	return sum[:16]
}

// StoredForm returns the event's attributes as stored and its key, each
// computed once.
func (e *SubjectEvent) StoredForm() (attrs string, key []byte) {
	attrs = EncodeAttributes(e.Attributes)
	return attrs, e.keyWith(attrs)
}

// AttributeNames returns the names in a stored attributes form (what
// EncodeAttributes writes: an object of strings and nulls), in their
// order, without decoding the values: what a subject change's log leaf
// lists. Anything else is decoded in full.
func AttributeNames(s []byte) ([]string, error) {
	if len(s) == 0 {
		return nil, nil
	}
	if names, ok := attributeNamesFast(s); ok {
		return names, nil
	}
	m, err := DecodeAttributes(s)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	return names, nil
}

// attributeNamesFast reads {"name":"value"|null,...} with strings free of
// escapes, as EncodeAttributes writes the common case.
func attributeNamesFast(s []byte) ([]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	str := func(i int) (int, bool) { // s[i] is '"'; the index after the closing quote
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case c == '"':
				return j + 1, true
			case c == '\\' || c < 0x20:
				return 0, false
			}
		}
		return 0, false
	}
	var names []string
	i := 1
	if s[i] == '}' {
		return nil, i == len(s)-1
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return nil, false
		}
		end, ok := str(i)
		if !ok || end >= len(s) || s[end] != ':' {
			return nil, false
		}
		names = append(names, string(s[i+1:end-1]))
		i = end + 1
		switch {
		case i < len(s) && s[i] == '"':
			if i, ok = str(i); !ok {
				return nil, false
			}
		case i+4 <= len(s) && string(s[i:i+4]) == "null":
			i += 4
		default:
			return nil, false
		}
		if i >= len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i++
		case '}':
			return names, i == len(s)-1 && utf8.Valid(s)
		default:
			return nil, false
		}
	}
}
