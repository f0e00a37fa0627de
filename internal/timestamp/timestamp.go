// Package timestamp owns the project's notion of a point in time: an RFC 3339
// timestamp kept to the microsecond, held as microseconds since the Unix
// epoch in UTC so that comparisons and storage are cheap and exact.
package timestamp

import (
	"fmt"
	"time"
)

// Time is microseconds since 1970-01-01T00:00:00Z.
type Time int64

// Min and Max bound every representable Time.
const (
	Min Time = -1 << 63
	Max Time = 1<<63 - 1
)

// Parse reads a full RFC 3339 timestamp and keeps it to the microsecond
// (finer digits are truncated). It is the one reader of times for every
// input — policies, subject and consent lines, records, flags, API bodies —
// and it is strict: YYYY-MM-DDTHH:MM:SS, two digits to each field, an
// optional fraction of 1 to 9 digits after a '.', then Z or ±hh:mm. A date
// alone, one-digit fields, a ',' fraction, a lower-case t or z, a space for
// the T, a missing offset, second 60 are refused.
func Parse(s string) (Time, error) {
	return ParseBytes([]byte(s))
}

// ParseBytes is Parse for bytes, without allocating.
func ParseBytes(b []byte) (Time, error) {
	if t, ok := strict(b); ok {
		return t, nil
	}
	if len(b) == 10 {
		return 0, fmt.Errorf("time %q is a date alone; give a full RFC 3339 timestamp such as %sT00:00:00Z", b, b)
	}
	return 0, fmt.Errorf("time %q is not an RFC 3339 timestamp such as 2024-09-18T00:00:00Z (two digits to each field, a '.' fraction, Z or ±hh:mm)", b)
}

// FromTime converts a time.Time, truncating to the microsecond.
func FromTime(t time.Time) Time { return Time(t.UnixMicro()) }

// Now is the current time; the engine never calls it, commands do.
func Now() Time { return FromTime(time.Now()) }

// Time converts back to a UTC time.Time.
func (t Time) Time() time.Time { return time.UnixMicro(int64(t)).UTC() }

// String formats as RFC 3339 in UTC with as many fractional digits as needed.
func (t Time) String() string { return t.Time().Format(time.RFC3339Nano) }

// MarshalText implements encoding.TextMarshaler.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Time) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ParseDuration reads a policy duration: a whole number followed by d, h or m.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q: expected a whole number followed by d, h or m (e.g. 30d)", s)
	}
	var n int64
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c < '0' || c > '9' || n > 1<<40 {
			return 0, fmt.Errorf("duration %q: expected a whole number followed by d, h or m (e.g. 30d)", s)
		}
		n = n*10 + int64(c-'0')
	}
	switch s[len(s)-1] {
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	case 'h':
		return time.Duration(n) * time.Hour, nil
	case 'm':
		return time.Duration(n) * time.Minute, nil
	}
	return 0, fmt.Errorf("duration %q: expected a whole number followed by d, h or m (e.g. 30d)", s)
}
