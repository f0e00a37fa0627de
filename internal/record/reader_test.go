package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

var testFields = Fields{ID: "id", Time: "meta.at", Category: "kind", Subjects: []SubjectField{
	{Role: policy.Author, Path: "from"}, {Role: policy.RecipientRole, Path: "to"}, {Role: policy.Mentioned, Path: "meta.mentions"}}}

func TestRead(t *testing.T) {
	cases := []struct {
		name, line string
		err        error
		id, cat    string
		subjects   string // "role:id,..."
	}{
		{"plain", `{"id":"r1","kind":"k","from":"a","to":["b","c"],"meta":{"at":"2024-01-01T00:00:00Z","mentions":["d"]}}`, nil, "r1", "k", "author:a,recipient:b,recipient:c,mentioned:d"},
		{"whitespace and order", ` { "meta" : { "at" : "2024-01-01T00:00:00Z" } , "from" : "a" , "kind":"k","id":"r2" } `, nil, "r2", "k", "author:a"},
		{"escapes", `{"id":"r\"3","kind":"k\u00e9","from":"\ud83d\ude00","meta":{"at":"2024-01-01T00:00:00Z"}}`, nil, "r\"3", "ké", "author:😀"},
		{"nested noise", `{"x":[{"y":[1,2,{"z":null}]},true,false,-1.5e3],"id":"r4","kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z","other":{"id":"no"}}}`, nil, "r4", "k", "author:a"},
		{"null and empty subjects", `{"id":"r5","kind":"k","from":null,"to":[],"meta":{"at":"2024-01-01T00:00:00Z","mentions":["d"]}}`, nil, "r5", "k", "mentioned:d"},
		{"no subject", `{"id":"r6","kind":"k","from":null,"meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrNoSubject, "r6", "", ""},
		{"id number", `{"id":6,"kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrIDNotString, "", "", ""},
		{"missing id", `{"kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrIDNotString, "", "", ""},
		{"time not string", `{"id":"r7","kind":"k","from":"a","meta":{"at":17}}`, ErrTimeNotString, "r7", "", ""},
		{"date alone", `{"id":"r8","kind":"k","from":"a","meta":{"at":"2024-01-01"}}`, ErrTimeFormat, "r8", "", ""},
		{"bad day", `{"id":"r8","kind":"k","from":"a","meta":{"at":"2023-02-29T00:00:00Z"}}`, ErrTimeFormat, "r8", "", ""},
		{"category object", `{"id":"r9","kind":{},"from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrCategory, "r9", "", ""},
		{"subject number", `{"id":"r10","kind":"k","from":1,"meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrSubject, "r10", "", ""},
		{"subject null in array", `{"id":"r10","kind":"k","to":["a",null],"meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrSubject, "r10", "", ""},
		{"duplicate read key", `{"id":"r11","kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"},"from":"b"}`, ErrDuplicateKey, "r11", "", ""},
		{"duplicate parent key", `{"id":"r12","kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"},"meta":{}}`, ErrDuplicateKey, "r12", "", ""},
		{"duplicate by escape", `{"id":"r13","i\u0064":"x","kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrDuplicateKey, "", "", ""},
		{"duplicate other key", `{"id":"r14","kind":"k","from":"a","q":1,"q":2,"meta":{"at":"2024-01-01T00:00:00Z"}}`, nil, "r14", "k", "author:a"},
		{"array", `["id"]`, ErrNotObject, "", "", ""},
		{"truncated", `{"id":"r15","kind":"k"`, ErrSyntax, "r15", "", ""},
		{"trailing", `{"id":"r16","kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}{}`, ErrSyntax, "r16", "", ""},
		{"bad number", `{"id":"r17","n":01,"kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrSyntax, "r17", "", ""},
		{"bad escape", `{"id":"r18","t":"\x","kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrSyntax, "r18", "", ""},
		{"control char", "{\"id\":\"r19\",\"t\":\"a\tb\",\"kind\":\"k\",\"from\":\"a\",\"meta\":{\"at\":\"2024-01-01T00:00:00Z\"}}", ErrSyntax, "r19", "", ""},
		{"invalid utf8", "{\"id\":\"r20\",\"t\":\"\xff\",\"kind\":\"k\",\"from\":\"a\",\"meta\":{\"at\":\"2024-01-01T00:00:00Z\"}}", ErrUTF8, "", "", ""},
		{"deep", `{"id":"r21","x":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `,"kind":"k","from":"a","meta":{"at":"2024-01-01T00:00:00Z"}}`, ErrTooDeep, "r21", "", ""},
	}
	r := NewReader(testFields)
	var rec decision.Record
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := r.Read([]byte(c.line), &rec)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if string(id) != c.id {
				t.Errorf("id = %q, want %q", id, c.id)
			}
			if err != nil {
				return
			}
			if string(rec.Category) != c.cat {
				t.Errorf("category = %q", rec.Category)
			}
			var subs []string
			for _, s := range rec.Subjects {
				subs = append(subs, s.Role.String()+":"+string(s.ID))
			}
			if got := strings.Join(subs, ","); got != c.subjects {
				t.Errorf("subjects = %q, want %q", got, c.subjects)
			}
		})
	}
}

func TestFixedCategory(t *testing.T) {
	r := NewReader(Fields{ID: "id", Time: "t", FixedCategory: "user.content.private.message", Subjects: []SubjectField{{Role: policy.Author, Path: "a"}}})
	var rec decision.Record
	if _, err := r.Read([]byte(`{"id":"x","t":"2024-01-01T00:00:00Z","a":"u","kind":5}`), &rec); err != nil || string(rec.Category) != "user.content.private.message" {
		t.Fatalf("%v %q", err, rec.Category)
	}
}

// seeds gathers record lines from the repository's test data.
func seeds() [][]byte {
	var out [][]byte
	files, _ := filepath.Glob("../../testdata/e2e/*.jsonl")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, l := range bytes.Split(b, []byte("\n")) {
			out = append(out, bytes.TrimRight(l, "\r"))
		}
	}
	return out
}

// FuzzRead: no input crashes the reader, and nothing malformed is accepted:
// whatever it accepts is valid JSON, an object, whose id, time, category and
// subjects are what encoding/json reads there.
func FuzzRead(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Add([]byte(`{"id":"r1","kind":"k","from":"a","to":["b","c"],"meta":{"at":"2024-01-01T00:00:00Z","mentions":["d"]}}`))
	f.Add([]byte(`{"id":"r\u0022","kind":"k","from":"\ud800","meta":{"at":"2024-01-01T00:00:00+01:00"}}`))
	fields := Fields{ID: "id", Time: "created_at", Category: "kind", Subjects: []SubjectField{
		{Role: policy.Author, Path: "author"}, {Role: policy.RecipientRole, Path: "to"}}}
	r := NewReader(fields)
	var rec decision.Record
	f.Fuzz(func(t *testing.T, line []byte) {
		id, err := r.Read(line, &rec)
		if err != nil {
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("accepted a non-object %q: %v", line, err)
		}
		if m["id"] != string(id) {
			t.Fatalf("id %q, encoding/json reads %v", id, m["id"])
		}
		if m["kind"] != string(rec.Category) {
			t.Fatalf("category %q, encoding/json reads %v", rec.Category, m["kind"])
		}
		tm, err := time.Parse(time.RFC3339Nano, m["created_at"].(string))
		if err != nil || timestamp.FromTime(tm) != rec.Created {
			t.Fatalf("time %v, encoding/json reads %v (%v)", rec.Created, m["created_at"], err)
		}
		var want []string
		for _, k := range []string{"author", "to"} {
			switch v := m[k].(type) {
			case string:
				want = append(want, v)
			case []any:
				for _, x := range v {
					want = append(want, x.(string))
				}
			}
		}
		var got []string
		for _, s := range rec.Subjects {
			got = append(got, string(s.ID))
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) == 0 {
			t.Fatalf("subjects %q, encoding/json reads %q", got, want)
		}
	})
}

// BenchmarkRead reads typical records (about 235 bytes each).
func BenchmarkRead(b *testing.B) {
	lines := [][]byte{
		[]byte(`{"id":"r0000001","kind":"user.content.public","author":"m0012345","created_at":"2023-04-05T06:07:08Z","text":"Quarterly roadmap review with the design team went well; next we ship the data pipeline","likes":123}`),
		[]byte(`{"id":"r0000002","kind":"user.content.private.message","author":"m0012345","to":["m0054321"],"created_at":"2023-04-05T06:07:08Z","text":"Quarterly roadmap review with the design team went well; next we ship","likes":7}`),
	}
	r := NewReader(Fields{ID: "id", Time: "created_at", Category: "kind", Subjects: []SubjectField{
		{Role: policy.Author, Path: "author"}, {Role: policy.RecipientRole, Path: "to"}}})
	var rec decision.Record
	b.SetBytes(int64(len(lines[0])+len(lines[1])) / 2)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := r.Read(lines[i&1], &rec); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
