package export_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/redact"
	"github.com/consentgate/consentgate/internal/timestamp"
)

const testPolicy = `version: "1"
effective_from: 2020-01-01T00:00:00Z
purposes: [train.gen]
categories: [post]
recipients:
  p: { class: third_party }
regions:
  strict: [DE]
defaults:
  train: granted
rules:
  - id: strict
    effect: deny
    when: { region: strict }
  - id: unknown
    effect: deny
    when: { region: unknown }
`

var testFields = record.Fields{ID: "id", Time: "t", FixedCategory: "post", Subjects: []record.SubjectField{{Role: policy.Author, Path: "a"}}}

// testPlan: subjects u0…u99 in US, d0…d9 in DE.
func testPlan(t *testing.T) *decision.Plan {
	t.Helper()
	doc, _, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := policy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := decision.NewVersions([]*policy.Table{tb})
	if err != nil {
		t.Fatal(err)
	}
	asOf, _ := timestamp.Parse("2025-01-01T00:00:00Z")
	b := consent.NewBuilder(asOf, nil, 0, 0)
	for i := 0; i < 100; i++ {
		b.AddSubject(consent.SubjectEvent{Subject: fmt.Sprintf("u%d", i), At: 1, RegionSet: true, Region: "US"})
	}
	for i := 0; i < 10; i++ {
		b.AddSubject(consent.SubjectEvent{Subject: fmt.Sprintf("d%d", i), At: 1, RegionSet: true, Region: "DE"})
	}
	p, err := decision.NewPlan(vs, b.Finish(), "train.gen", "p")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, p *decision.Plan, dir string, workers int, inputs ...string) (*export.Manifest, []byte, []byte) {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("out-%d.jsonl", workers))
	m, err := export.Run(context.Background(), export.Options{Plan: p, Fields: testFields, Inputs: inputs, Out: out,
		Rejects: out + ".rejects", Workers: workers, Now: 1})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := os.ReadFile(out)
	r, _ := os.ReadFile(out + ".rejects")
	return m, o, r
}

func TestLinesAndDeterminism(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	// Several megabytes so that batches split and arrive out of order.
	var in bytes.Buffer
	in.WriteString("\xef\xbb\xbf")
	var want bytes.Buffer
	for i := 0; i < 60_000; i++ {
		author := fmt.Sprintf("u%d", i%100)
		if i%7 == 0 {
			author = fmt.Sprintf("d%d", i%10)
		}
		line := fmt.Sprintf(`{"id":"r%d","t":"2024-01-01T00:00:00Z","a":%q,"pad":"%s"}`, i, author, strings.Repeat("x", i%200))
		switch i % 5 {
		case 0:
			in.WriteString(line + "\r\n")
		case 1:
			in.WriteString(line + "\n\n   \n")
		default:
			in.WriteString(line + "\n")
		}
		if i%7 != 0 {
			want.WriteString(line + "\n")
		}
	}
	last := `{"id":"last","t":"2024-01-01T00:00:00Z","a":"u1"}`
	in.WriteString(last) // no final newline
	want.WriteString(last + "\n")
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, in.Bytes(), 0o644)

	m1, o1, r1 := run(t, p, dir, 1, path)
	if !bytes.Equal(o1, want.Bytes()) {
		t.Fatalf("output differs from the input lines (%d vs %d bytes)", len(o1), want.Len())
	}
	for _, w := range []int{2, 7} {
		m, o, r := run(t, p, dir, w, path)
		if !bytes.Equal(o, o1) || !bytes.Equal(r, r1) || m.RecordsRoot != m1.RecordsRoot || m.Subjects != m1.Subjects {
			t.Fatalf("%d workers give a different export", w)
		}
	}
	if m1.Counts.Read != 60_001 || m1.Counts.ExcludedByReason["rule:strict"] != 60_000/7+1 {
		t.Fatalf("counts %+v", m1.Counts)
	}
	// Line numbers in the rejects count the blank lines.
	first := strings.SplitN(string(r1), "\n", 2)[0]
	if first != `{"file":"`+path+`","line":1,"id":"r0","reason":"rule:strict","subject":"d0","role":"author","check":"now"}` {
		t.Fatalf("first reject %s", first)
	}
	if !strings.Contains(string(r1), `"id":"r7","reason"`) || !strings.Contains(string(r1), `"line":12,"id":"r7"`) {
		t.Fatalf("line numbers: %s", strings.SplitN(string(r1), "\n", 3)[1])
	}
}

func TestOverlongLineIsMalformed(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	huge := `{"id":"big","t":"2024-01-01T00:00:00Z","a":"u1","x":"` + strings.Repeat("y", 17<<20) + `"}`
	huger := strings.Repeat("z", 40<<20) // longer than the reader ever buffers
	os.WriteFile(path, []byte(`{"id":"a","t":"2024-01-01T00:00:00Z","a":"u1"}`+"\n"+huge+"\n"+`{"id":"b","t":"2024-01-01T00:00:00Z","a":"u2"}`+"\n"+
		huger+"\n"+`{"id":"c","t":"2024-01-01T00:00:00Z","a":"u3"}`+"\n"+huger), 0o644)
	m, o, r := run(t, p, dir, 2, path)
	if string(o) != `{"id":"a","t":"2024-01-01T00:00:00Z","a":"u1"}`+"\n"+`{"id":"b","t":"2024-01-01T00:00:00Z","a":"u2"}`+"\n"+`{"id":"c","t":"2024-01-01T00:00:00Z","a":"u3"}`+"\n" {
		t.Fatalf("output %.200s", o)
	}
	for _, line := range []string{"2", "4", "6"} {
		if !strings.Contains(string(r), `"line":`+line+`,"reason":"record.malformed","detail":"line longer than 16 MiB"`) {
			t.Errorf("line %s not rejected as too long: %s", line, r)
		}
	}
	if m.Counts.Read != 6 {
		t.Fatalf("counts %+v", m.Counts)
	}
}

func TestEmptyExportAndFailures(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, []byte(`{"id":"x","t":"2024-01-01T00:00:00Z","a":"d1"}`+"\n"), 0o644)
	m, o, _ := run(t, p, dir, 2, path)
	if len(o) != 0 || m.RecordsRoot != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || m.Subjects != 0 {
		t.Fatalf("empty export: %q root %s", o, m.RecordsRoot)
	}
	out := filepath.Join(dir, "never.jsonl")
	_, err := export.Run(context.Background(), export.Options{Plan: p, Fields: testFields, Inputs: []string{path, filepath.Join(dir, "missing.jsonl")},
		Out: out, Rejects: out + ".rej", Workers: 2})
	if err == nil {
		t.Fatal("a missing input must fail the export")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "never") || strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s left behind by a failed export", e.Name())
		}
	}
	for _, o := range []export.Options{
		{Plan: p, Fields: testFields, Inputs: []string{path}, Out: path},
		{Plan: p, Fields: testFields, Inputs: []string{path}, Out: out, Rejects: out},
		{Plan: p, Fields: testFields, Inputs: []string{path}, Out: out, Manifest: dir + "/./in.jsonl"},
	} {
		if _, err := export.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "named twice") {
			t.Errorf("%+v: error %v", o, err)
		}
	}
	failing := export.Options{Plan: p, Fields: testFields, Inputs: []string{path}, Out: out, Workers: 1,
		BeforeRename: func(*export.Manifest, *export.Included) error { return fmt.Errorf("the store said no") }}
	if _, err := export.Run(context.Background(), failing); err == nil || !strings.Contains(err.Error(), "the store said no") {
		t.Fatalf("BeforeRename error: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("output renamed into place although recording the export failed")
	}
}

func TestProgressLine(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, []byte(`{"id":"a","t":"2024-01-01T00:00:00Z","a":"u1"}`+"\n"), 0o644)
	var progress bytes.Buffer
	_, err := export.Run(context.Background(), export.Options{Plan: p, Fields: testFields, Inputs: []string{path},
		Out: filepath.Join(dir, "o.jsonl"), Workers: 1, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(progress.String(), "\rexport: 1 records") || !strings.HasSuffix(progress.String(), "\n") {
		t.Fatalf("progress %q", progress.String())
	}
}

func TestRedactionRefusesReadFields(t *testing.T) {
	p := testPlan(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, []byte(`{"id":"a","t":"2024-01-01T00:00:00Z","a":"u1"}`+"\n"), 0o644)
	for _, f := range []string{"id", "a", "t"} {
		cfg, err := redact.ParseConfig("r.yaml", []byte("fields: ["+f+"]\ndetectors:\n  email: replace\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = export.Run(context.Background(), export.Options{Plan: p, Fields: testFields, Inputs: []string{path},
			Out: filepath.Join(dir, "o.jsonl"), Workers: 1, Redact: cfg})
		if err == nil || !strings.Contains(err.Error(), "cannot be redacted") {
			t.Errorf("redacting %s: %v", f, err)
		}
	}
}
