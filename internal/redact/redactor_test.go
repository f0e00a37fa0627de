package redact

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
)

var testFields = record.Fields{ID: "id", Time: "t", FixedCategory: "post",
	Subjects: []record.SubjectField{{Role: policy.Author, Path: "a"}}, Scan: []string{"text", "meta.bio"}}

func redactLine(t *testing.T, r *Redactor, line string, c *Counts) (string, bool) {
	t.Helper()
	rd := record.NewReader(testFields)
	var rec decision.Record
	if _, err := rd.Read([]byte(line), &rec); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	out, drop := r.Line([]byte(line), rd.Scanned(nil), c, nil)
	return string(out), drop
}

func mustConfig(t *testing.T, src string) *Config {
	t.Helper()
	c, err := ParseConfig("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLine(t *testing.T) {
	cfg := mustConfig(t, "fields: [text, meta.bio]\ndetectors:\n  email: replace\n  phone: hash\n  card: drop\n  url: replace\n")
	r := NewRedactor(cfg, []byte("secret"), nil)
	var c Counts
	line := `{"id":"r1","t":"2024-01-01T00:00:00Z","a":"u1","text":"mail ana@example.com \u003cnow\u003e or +44 20 7946 0958","other":"\u003cana@example.com\u003e","n":1.50,"meta":{"bio":"see https://x.example.org"}}`
	out, drop := redactLine(t, r, line, &c)
	want := `{"id":"r1","t":"2024-01-01T00:00:00Z","a":"u1","text":"mail <EMAIL> <now> or <PHONE:`
	if drop || !strings.HasPrefix(out, want) {
		t.Fatalf("got %s", out)
	}
	if !strings.Contains(out, `,"other":"\u003cana@example.com\u003e","n":1.50,"meta":{"bio":"see <URL>"}}`) {
		t.Fatalf("unscanned fields changed: %s", out)
	}
	if c[Email] != 1 || c[Phone] != 1 || c[URL] != 1 {
		t.Fatalf("counts %v", c)
	}
	// Hash: the same value, the same token, under this key only.
	out2, _ := redactLine(t, r, `{"id":"r2","t":"2024-01-01T00:00:00Z","a":"u1","text":"+44 20 7946 0958!"}`, &c)
	tok := out[strings.Index(out, "<PHONE:") : strings.Index(out, "<PHONE:")+len("<PHONE:0123456789abcdef>")]
	if !strings.Contains(out2, tok) {
		t.Fatalf("hash token %s not in %s", tok, out2)
	}
	out3, _ := redactLine(t, NewRedactor(cfg, []byte("other"), nil), `{"id":"r2","t":"2024-01-01T00:00:00Z","a":"u1","text":"+44 20 7946 0958!"}`, &c)
	if strings.Contains(out3, tok) {
		t.Fatal("the hash token does not depend on the key")
	}
	// Drop.
	if _, drop := redactLine(t, r, `{"id":"r3","t":"2024-01-01T00:00:00Z","a":"u1","text":"card 4111 1111 1111 1111"}`, &c); !drop {
		t.Fatal("a card must drop the record")
	}
	// Nothing found: the very same bytes.
	clean := `{"id":"r4","t":"2024-01-01T00:00:00Z","a":"u1","text":"hello \u00e9 world"}`
	if out, _ := redactLine(t, r, clean, &c); out != clean {
		t.Fatalf("clean line changed: %s", out)
	}
}

func TestParseConfigRefuses(t *testing.T) {
	for src, want := range map[string]string{
		"fields: [text]\ndetectors:\n  mail: replace\n":  `r.yaml:3: detectors: unknown detector "mail"`,
		"fields: [text]\ndetectors:\n  email: blur\n":    `r.yaml:3: detectors.email: operator "blur"`,
		"fields: []\ndetectors:\n  email: replace\n":     `r.yaml:1: fields: expected a list`,
		"detectors:\n  email: replace\n":                 `missing fields`,
		"fields: [text]\n":                               `missing detectors`,
		"fields: [text]\ncolour: red\n":                  `r.yaml:2: unknown key "colour"`,
		"fields: [a..b]\ndetectors:\n  email: replace\n": `is not a dotted field path`,
	} {
		if _, err := ParseConfig("r.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

// FuzzLine: redaction never makes invalid JSON and never changes a field
// it was not asked to scan.
func FuzzLine(f *testing.F) {
	f.Add("mail ana@example.com", "+44 20 7946 0958", "keep me")
	f.Add("\x01\"\\ 4111111111111111 ü", "192.168.1.1", `\u003c`)
	cfg, _ := ParseConfig("r.yaml", []byte("fields: [text, meta.bio]\ndetectors:\n  email: replace\n  phone: hash\n  ip: replace\n  url: replace\n  iban: replace\n  ssn: replace\n  card: replace\n"))
	r := NewRedactor(cfg, []byte("k"), nil)
	f.Fuzz(func(t *testing.T, text, bio, other string) {
		obj := map[string]any{"id": "x", "t": "2024-01-01T00:00:00Z", "a": "u", "text": text, "other": other, "meta": map[string]any{"bio": bio, "n": 1}}
		line, _ := json.Marshal(obj)
		rd := record.NewReader(testFields)
		var rec decision.Record
		if _, err := rd.Read(line, &rec); err != nil {
			return
		}
		var c Counts
		out, _ := r.Line(line, rd.Scanned(nil), &c, nil)
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid JSON %q from %q", out, line)
		}
		var orig map[string]any
		json.Unmarshal(line, &orig)
		delete(got, "text")
		delete(orig, "text")
		gm, om := got["meta"].(map[string]any), orig["meta"].(map[string]any)
		delete(gm, "bio")
		delete(om, "bio")
		if !reflect.DeepEqual(got, orig) {
			t.Fatalf("unscanned fields changed: %s -> %s", line, out)
		}
	})
}
