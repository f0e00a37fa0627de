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
type Event struct {
	Seq       int64
	Subject   string
	Purpose   string
	Recipient string
	State     policy.State
	At        timestamp.Time
	Source    string
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
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		enc.Encode(k)
		b.Truncate(b.Len() - 1)
		b.WriteByte(':')
		if m[k] == nil {
			b.WriteString("null")
		} else {
			enc.Encode(*m[k])
			b.Truncate(b.Len() - 1)
		}
	}
	b.WriteByte('}')
	return b.String()
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
	var buf [256]byte
	b := append(append(buf[:0], e.Subject...), 0)
	b = append(strconv.AppendInt(b, int64(e.At), 10), 0)
	b = append(strconv.AppendBool(b, e.RegionSet), 0)
	b = append(append(b, e.Region...), 0)
	b = append(b, EncodeAttributes(e.Attributes)...)
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
