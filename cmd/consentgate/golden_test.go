package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// What changes from run to run: hashes, the export's id and times of now.
var (
	hexRun   = regexp.MustCompile(`\b[0-9a-f]{32,}\b`)
	nowTime  = regexp.MustCompile(`\b20[3-9]\d-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?Z?|\b202[6-9]-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?Z?`)
	exportID = regexp.MustCompile(`\bexp[-_][0-9A-Za-z-]+`)
	tmpDir   = regexp.MustCompile(`/tmp/[^\s:]+`)
	elapsed  = regexp.MustCompile(`\b\d+(\.\d+)?(ms|µs|s)\b`)
)

func normalize(s string) string {
	s = hexRun.ReplaceAllString(s, "<hex>")
	s = nowTime.ReplaceAllString(s, "<now>")
	s = exportID.ReplaceAllString(s, "<export>")
	s = tmpDir.ReplaceAllString(s, "<dir>")
	return elapsed.ReplaceAllString(s, "<took>")
}

// TestGoldenOutput keeps the human output of the main commands as it is
// read: testdata/golden/NAME.txt (go test -run TestGoldenOutput -update
// rewrites them). Plurals are part of it: "1 event", "1 subject".
func TestGoldenOutput(t *testing.T) {
	dir := e2eDir(t)
	steps := []struct {
		name string
		args []string
	}{
		{"policy-check", []string{"policy", "check", "policy-1.yaml"}},
		{"policy-publish", []string{"policy", "publish", "policy-1.yaml"}},
		{"policy-publish-2", []string{"policy", "publish", "policy-2.yaml"}},
		{"subjects-import", []string{"subjects", "import", "subjects.jsonl"}},
		{"consent-import", []string{"consent", "import", "consent.jsonl"}},
		{"consent-set", []string{"consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--state", "granted", "--at", "2024-12-01T00:00:00Z"}},
		{"policy-diff", []string{"policy", "diff", "2024-01-01", "2024-09-18"}},
		{"decide", []string{"decide", "--subject", "ana", "--subject", "cy:recipient", "--category", "user.content.private.message",
			"--created", "2024-10-01T00:00:00Z", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z"}},
		{"export", append(append([]string{}, e2eExport...), "--out", "out.jsonl", "--workers", "1")},
		{"report-subject", []string{"report", "subject", "--subject", "ana"}},
		{"consent-set-withdraw", []string{"consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-01-02T00:00:00Z"}},
		{"impact", []string{"impact"}},
	}
	for _, s := range steps {
		out, errOut, code := cg(t, dir, s.args...)
		got := normalize(out)
		if code != 0 {
			t.Fatalf("%s: exit %d %s", s.name, code, errOut)
		}
		file := filepath.Join("testdata", "golden", s.name+".txt")
		if *updateDocs {
			os.MkdirAll(filepath.Dir(file), 0o755)
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s: the output is not %s:\n%s", s.name, file, got)
		}
		for _, wrong := range []string{" 1 events", " 1 subjects", " 1 records", " 1 exports", "map[", "[]byte", ".tmp-"} {
			if strings.Contains(out, wrong) {
				t.Errorf("%s: %q in\n%s", s.name, wrong, out)
			}
		}
	}
}
