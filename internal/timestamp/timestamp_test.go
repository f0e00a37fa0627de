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
