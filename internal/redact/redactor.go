package redact

import (
	"encoding/json"

	"github.com/consentgate/consentgate/internal/jsontext"
	"github.com/consentgate/consentgate/internal/record"
)

// Counts are findings by detector.
type Counts [numKinds]int64

// Add adds other counts.
func (c *Counts) Add(o *Counts) {
	for i := range c {
		c[i] += o[i]
	}
}

// Map returns the non-zero counts by detector name.
func (c *Counts) Map() map[string]int64 {
	m := map[string]int64{}
	for k, n := range c {
		if n > 0 {
			m[Kind(k).String()] = n
		}
	}
	return m
}

// Redactor applies a configuration to lines. It is not safe for concurrent
// use: give each goroutine its own.
type Redactor struct {
	cfg     *Config
	key     []byte
	enabled [numKinds]bool
	members *Members
	spans   []Span
	text    []byte
	out     []byte
	words   []word
	mkey    []byte
}

// NewRedactor prepares a configuration; key is the secret Hash uses;
// members (nil unless the member detector is on) are the platform's
// members by handle and name.
func NewRedactor(cfg *Config, key []byte, members *Members) *Redactor {
	return &Redactor{cfg: cfg, key: key, enabled: cfg.Enabled(), members: members}
}

// Line redacts the given string values of line (in increasing order). It
// returns the line to write — line itself when nothing was found — and
// whether a Drop detector fired, and adds what it found to counts. Only
// the strings that held findings are rewritten; every other byte of the
// line is kept.
//
// deny says whether a mentioned member (by view position) does not allow
// this record's use; it is consulted only when the member detector is on.
func (r *Redactor) Line(line []byte, values []record.StringValue, counts *Counts, deny func(subject int32) bool) ([]byte, bool) {
	r.out = r.out[:0]
	copied := 0
	for _, v := range values {
		raw := line[v.Start+1 : v.End-1]
		text := string(raw)
		if v.Escaped {
			if err := json.Unmarshal(line[v.Start:v.End], &text); err != nil {
				continue
			}
		}
		r.spans = Detect(text, r.enabled, r.spans[:0])
		if r.members != nil && r.enabled[Member] && deny != nil {
			n := len(r.spans)
			r.spans, r.words, r.mkey = r.members.detect(text, deny, r.words, r.mkey, r.spans)
			if len(r.spans) > n {
				r.spans = mergeSpans(r.spans)
			}
		}
		if len(r.spans) == 0 {
			continue
		}
		r.text = r.text[:0]
		last := 0
		for _, s := range r.spans {
			counts[s.Kind]++
			switch r.cfg.Operators[s.Kind] {
			case Drop:
				return nil, true
			case Hash:
				r.text = append(append(r.text, text[last:s.Start]...), hashToken(r.key, s.Kind, text[s.Start:s.End])...)
			default:
				r.text = append(append(r.text, text[last:s.Start]...), placeholder(s.Kind)...)
			}
			last = s.End
		}
		r.text = append(r.text, text[last:]...)
		r.out = append(r.out, line[copied:v.Start]...)
		r.out = jsontext.AppendString(r.out, r.text)
		copied = v.End
	}
	if copied == 0 {
		return line, false
	}
	return append(r.out, line[copied:]...), false
}
