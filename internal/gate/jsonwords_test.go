package gate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/export"
)

// TestJSONProblemWords: decoding errors are worded without Go's types.
func TestJSONProblemWords(t *testing.T) {
	for src, want := range map[string]string{
		`[1]`:                       "the top level: expected an object, found an array (at byte 1)",
		`{"output": 5}`:             `"output": expected an object, found a number (at byte 12)`,
		`{"output": {"sha256": 1}}`: `"output.sha256": expected a string, found a number (at byte 23)`,
		`{"output":`:                "not valid JSON at byte 10: unexpected end of JSON input",
	} {
		var m export.Manifest
		got := JSONProblem(json.Unmarshal([]byte(src), &m))
		if got != want || strings.Contains(got, "Go ") || strings.Contains(got, "export.") {
			t.Errorf("%s: %q, want %q", src, got, want)
		}
	}
}
