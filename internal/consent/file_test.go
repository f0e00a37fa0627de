package consent

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

var now = timestamp.FromTime(mustParse("2026-01-01T00:00:00Z"))

func mustParse(s string) time.Time {
	v, err := timestamp.Parse(s)
	if err != nil {
		panic(err)
	}
	return v.Time()
}

func TestParseConsentLine(t *testing.T) {
	e, err := ParseConsentLine([]byte(` {"subject":"u\u0031","purpose":"p","recipient":"*","state":"denied","at":"2024-09-20T10:00:00.5Z"} `), now)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "u1" || e.Recipient != "" || e.State != policy.Denied || e.Source != "import" || e.At.String() != "2024-09-20T10:00:00.5Z" {
		t.Fatalf("%+v", e)
	}
	for line, want := range map[string]string{
		`{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z","colour":"red"}`:     `unknown field "colour"`,
		`{"subject":"u1","subject":"u2","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z"}`:     `given twice`,
		`{"subject":"u1","purpose":"p","state":true,"at":"2024-01-01T00:00:00Z"}`:                         `"state": expected a string`,
		`{"subject":"u1","purpose":"p","state":"maybe","at":"2024-01-01T00:00:00Z"}`:                      `expected granted or denied`,
		`{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01"}`:                              `date alone`,
		`{"subject":"u1","purpose":"p","state":"granted","at":"2999-01-01T00:00:00Z"}`:                    `in the future`,
		`{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z","source":"psychic"}`: `"source" "psychic"`,
		`{"subject":"","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z"}`:                      `missing "subject"`,
		`{"subject":"u1","state":"granted","at":"2024-01-01T00:00:00Z"}`:                                  `missing "purpose"`,
		`{"subject":"u1","purpose":"p","recipient":"","state":"granted","at":"2024-01-01T00:00:00Z"}`:     `"recipient" is empty`,
		`{"subject":"u1","purpose":"p","state":null,"at":"2024-01-01T00:00:00Z"}`:                         `is null`,
		`{"subject":"u1",`: `not valid JSON`,
		`[1]`:              `not a JSON object: found a JSON array`,
	} {
		_, err := ParseConsentLine([]byte(line), now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", line, err, want)
		}
	}
}

func TestParseSubjectLine(t *testing.T) {
	e, err := ParseSubjectLine([]byte(`{"subject":"u1","at":"2024-01-01T00:00:00Z","region":null,"attributes":{"tier":"premium","age":42,"verified":true,"gone":null}}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if !e.RegionSet || e.Region != "" || *e.Attributes["age"] != "42" || *e.Attributes["verified"] != "true" || e.Attributes["gone"] != nil {
		t.Fatalf("%+v", e)
	}
	for line, want := range map[string]string{
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","region":"de"}`:               `upper case`,
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","attributes":{"tier":["a"]}}`: `objects and lists are not attribute values`,
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","nickname":"x"}`:              `unknown field "nickname"`,
		`{"at":"2024-01-01T00:00:00Z"}`:                                            `missing "subject"`,
		`{"subject":"u1","region":"DE"}`:                                           `missing "at"`,
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","region":7}`:                  `region code string`,
	} {
		_, err := ParseSubjectLine([]byte(line), now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", line, err, want)
		}
	}
}

func TestReadFileRefusesWholeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.jsonl")
	os.WriteFile(path, []byte("\xef\xbb\xbf"+`{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z"}`+"\r\n\n"+
		`{"subject":"u2","purpose":"p","state":"nope","at":"2024-01-01T00:00:00Z"}`+"\n"+`oops`+"\n"), 0o644)
	_, err := ReadConsentFile(path, now, nil)
	if err == nil || !strings.Contains(err.Error(), "c.jsonl:3:") || !strings.Contains(err.Error(), "1 more bad lines") {
		t.Fatalf("error %v", err)
	}
	os.WriteFile(path, []byte("\xef\xbb\xbf"+`{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z"}`+"\r\n\n"), 0o644)
	evs, err := ReadConsentFile(path, now, nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
}

// TestKeysAreStable: the idempotency digests keep their definition, so a
// store imported by an older build still recognises its events.
func TestKeysAreStable(t *testing.T) {
	tier := "premium"
	se := SubjectEvent{Subject: "u1", At: 42, RegionSet: true, Region: "DE", Attributes: map[string]*string{"tier": &tier, "gone": nil}}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%t\x00%s\x00%s", se.Subject, se.At, se.RegionSet, se.Region, EncodeAttributes(se.Attributes))
	if !bytes.Equal(se.Key(), h.Sum(nil)[:16]) {
		t.Fatal("subject event key changed")
	}
	ce := Event{Subject: "u1", Purpose: "p", Recipient: "third_party", State: policy.Denied, At: -7, Source: "gpc"}
	h = sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d\x00%s", ce.Subject, ce.Purpose, ce.Recipient, ce.State, ce.At, ce.Source)
	if !bytes.Equal(ce.Key(), h.Sum(nil)[:16]) {
		t.Fatal("consent event key changed")
	}
}

// lenientSubject is a subjects line as encoding/json reads it, leniently:
// the reference FuzzSubjectLine holds the strict reader to.
type lenientSubject struct {
	Subject    *string                    `json:"subject"`
	At         *string                    `json:"at"`
	Region     json.RawMessage            `json:"region"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

// FuzzSubjectLine: a subjects line the strict reader accepts reads the
// same through encoding/json (every field, every attribute).
func FuzzSubjectLine(f *testing.F) {
	for _, s := range []string{
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","region":"DE","attributes":{"tier":"premium","handle":"@ana"}}`,
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","region":null,"attributes":{"n":-1.5e3,"b":true,"x":null}}`,
		` { "subject" : "u2" , "at" : "2024-01-01T00:00:00+02:00" } `,
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","region":7}`,
		`{"subject":"u1","subject":"u2","at":"2024-01-01T00:00:00Z"}`,
		`{"subject":"u\u0031","at":"2024-01-01T00:00:00Z","attributes":{"a":[1]}}`,
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","attributes":{"a\u00e9":"\ud83d\ude00","b":1e400}}`,
		`{"Subject":"u1","at":"2024-01-01T00:00:00Z"}`,
		`{"subject":"u1","at":"2024-01-01T00:00:00Z","attributes":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseSubjectLine(line, now)
		if err != nil {
			return
		}
		var raw lenientSubject
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("%q: accepted, but encoding/json says %v", line, err)
		}
		if raw.Subject == nil || *raw.Subject != e.Subject || raw.At == nil {
			t.Fatalf("%q: subject %q, encoding/json %v", line, e.Subject, raw.Subject)
		}
		if at, err := timestamp.Parse(*raw.At); err != nil || at != e.At {
			t.Fatalf("%q: at %v, encoding/json %q", line, e.At, *raw.At)
		}
		var region string
		if raw.Region != nil && string(raw.Region) != "null" {
			json.Unmarshal(raw.Region, &region)
		}
		if e.RegionSet != (raw.Region != nil) || e.Region != region {
			t.Fatalf("%q: region %v %q, encoding/json %s", line, e.RegionSet, e.Region, raw.Region)
		}
		if (e.Attributes == nil) != (raw.Attributes == nil) || len(e.Attributes) != len(raw.Attributes) {
			t.Fatalf("%q: attributes %v, encoding/json %v", line, e.Attributes, raw.Attributes)
		}
		for k, v := range raw.Attributes {
			got, ok := e.Attributes[k]
			var want *string
			switch {
			case string(v) == "null":
			case v[0] == '"':
				var s string
				json.Unmarshal(v, &s)
				want = &s
			default:
				s := string(v)
				want = &s
			}
			if !ok || (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Fatalf("%q: attribute %q = %v, encoding/json %s", line, k, got, v)
			}
		}
	})
}

// FuzzConsentLine: a consent line the strict reader accepts reads the
// same through encoding/json.
func FuzzConsentLine(f *testing.F) {
	for _, s := range []string{
		`{"subject":"u1","purpose":"train_ai_system","recipient":"third_party","state":"denied","at":"2024-09-20T10:00:00Z","source":"settings"}`,
		` {"subject":"u\u0031","purpose":"p","recipient":"*","state":"granted","at":"2024-09-20T10:00:00.5Z"} `,
		`{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z"}x`,
		`{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z","Purpose":"q"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseConsentLine(line, now)
		c, err2 := ReadChoice(line)
		var e2 Event
		if err2 == nil {
			e2, err2 = c.Event(now, "import")
		}
		if fmt.Sprint(err) != fmt.Sprint(err2) || e != e2 {
			t.Fatalf("%q: ParseConsentLine %+v %v, ReadChoice and Event %+v %v", line, e, err, e2, err2)
		}
		if err != nil {
			return
		}
		var raw map[string]string
		if err := json.Unmarshal(line, &raw); err != nil {
			t.Fatalf("%q: accepted, but encoding/json says %v", line, err)
		}
		rcpt := raw["recipient"]
		if rcpt == "*" {
			rcpt = ""
		}
		src, ok := raw["source"]
		if !ok {
			src = "import"
		}
		if raw["subject"] != e.Subject || raw["purpose"] != e.Purpose || rcpt != e.Recipient || raw["state"] != e.State.String() ||
			src != e.Source {
			t.Fatalf("%q: %+v, encoding/json %v", line, e, raw)
		}
		if at, err := timestamp.Parse(raw["at"]); err != nil || at != e.At {
			t.Fatalf("%q: at %v, encoding/json %q", line, e.At, raw["at"])
		}
	})
}

// FuzzEncodeAttributes: the stored form is exactly what encoding/json
// writes, so digests over it stay stable.
func FuzzEncodeAttributes(f *testing.F) {
	f.Add("tier", "premium", "name", "Ana \"A\" <b>\u2028\x01ü\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]*string{k1: &v1, k2: &v2, "gone": nil}
		keys := []string{k1, k2, "gone"}
		sort.Strings(keys)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		b.WriteByte('{')
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				continue
			}
			seen[k] = true
			if b.Len() > 1 {
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
		if got := EncodeAttributes(m); got != b.String() {
			t.Fatalf("EncodeAttributes = %s, encoding/json %s", got, b.String())
		}
	})
}
