package timestamp

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"2024-09-18T00:00:00Z":           "2024-09-18T00:00:00Z",
		"2024-09-18T02:00:00+02:00":      "2024-09-18T00:00:00Z",
		"2024-09-18T00:00:00.123456789Z": "2024-09-18T00:00:00.123456Z",
		"2024-09-18T00:00:00.1Z":         "2024-09-18T00:00:00.1Z",
	} {
		got, err := Parse(in)
		if err != nil || got.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for in, want := range map[string]string{"2024-09-18": "date alone", "yesterday": "not an RFC 3339", "": "not an RFC 3339"} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error %v, want %q", in, err, want)
		}
	}
}

// TestStrict: the one reader of times accepts RFC 3339 exactly as SPEC
// wants it, agreeing with the time package on every time both accept, and
// refuses every looser shape.
func TestStrict(t *testing.T) {
	for _, s := range []string{"2024-01-01T00:00:00Z", "2024-02-29T23:59:59.123456Z", "2024-02-29T23:59:59.1234567Z",
		"2024-02-29T23:59:59.123456789Z", "1999-12-31T23:00:00-05:30", "2024-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z",
		"2024-01-01T00:00:00-00:00", "9999-12-31T23:59:59.999999Z", "2000-02-29T12:00:00Z"} {
		got, err := Parse(s)
		want, werr := time.Parse(time.RFC3339Nano, s)
		if err != nil || werr != nil || got != FromTime(want) {
			t.Errorf("%s: %v %v, want %v", s, got, err, FromTime(want))
		}
	}
	for _, s := range []string{
		"2024-10-20T1:03:10Z", "2024-10-20T10:3:10Z", "2024-10-20T10:03:1Z", "2024-1-20T10:03:10Z", "2024-10-2T10:03:10Z",
		"24-10-20T10:03:10Z", "2024-10-20T10:03:10,5Z", "2024-10-20T10:03:10.Z", "2024-10-20T10:03:10.1234567890Z",
		"2024-10-20t10:03:10Z", "2024-10-20T10:03:10z", "2024-10-20 10:03:10Z", "2024-10-20T10:03:10", "2024-10-20T10:03:10+0200",
		"2024-10-20T10:03:10+02", "2024-10-20T10:03:10+2:00", "2024-10-20T10:03:10+24:00", "2024-13-01T00:00:00Z",
		"2023-02-29T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "+2024-01-01T00:00:00Z",
		"2024-01-01T00:00:00Z ", " 2024-01-01T00:00:00Z", "2024-01-01T00:00:00ZZ", "２０２４-01-01T00:00:00Z", "2024-01-01T00:00:00.１Z",
	} {
		if got, err := Parse(s); err == nil {
			t.Errorf("%q accepted as %v", s, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "12h": 12 * time.Hour, "5m": 5 * time.Minute, "0d": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"30", "d", "30s", "-1d", "1.5d", "30 d", ""} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}
