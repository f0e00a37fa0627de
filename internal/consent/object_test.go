package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

type member struct {
	key  string
	kind kind
	text string // a string's content, else the value as written
}

// members reads s with readObject and returns what fn saw.
func members(s []byte) ([]member, error) {
	var out []member
	err := readObject(s, func(key []byte, v value) error {
		m := member{string(key), v.kind, string(v.raw)}
		if v.kind == kindString {
			m.text = string(v.str)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

func TestReadObject(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want []member
	}{
		{"empty object", `{}`, nil},
		{"white space around", " \t{ \"a\" : \"b\" }\r\n", []member{{"a", kindString, "b"}}},
		{"every kind", `{"s":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"o":{"a":[1,{}]},"l":[]}`, []member{
			{"s", kindString, "x"}, {"n", kindNumber, "-1.5e+3"}, {"t", kindBool, "true"}, {"f", kindBool, "false"},
			{"z", kindNull, "null"}, {"o", kindObject, `{"a":[1,{}]}`}, {"l", kindArray, "[]"}}},
		{"numbers", `{"a":0,"b":-0,"c":0.5,"d":1E9,"e":12e-3}`, []member{
			{"a", kindNumber, "0"}, {"b", kindNumber, "-0"}, {"c", kindNumber, "0.5"}, {"d", kindNumber, "1E9"}, {"e", kindNumber, "12e-3"}}},
		{"escapes", `{"k\u00e9y":"\"\\\/\b\f\n\r\t\u0041\ud83d\ude00é"}`, []member{{"kéy", kindString, "\"\\/\b\f\n\r\tA😀é"}}},
		{"keys differing in case are two keys", `{"subject":"a","Subject":"b"}`, []member{{"subject", kindString, "a"}, {"Subject", kindString, "b"}}},
		{"the same key in two objects", `{"a":{"x":1},"b":{"x":2}}`, []member{{"a", kindObject, `{"x":1}`}, {"b", kindObject, `{"x":2}`}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := members([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestReadObjectManyKeys: past the list, duplicates are found in a map.
func TestReadObjectManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteByte('{')
	for i := range 100 {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	ok := b.String() + `"last":0}`
	if _, err := members([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	dup := b.String() + `"k7":0}`
	if _, err := members([]byte(dup)); err == nil || err.Error() != `field "k7" given twice` {
		t.Fatalf("error %v", err)
	}
}

func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// refusals are lines readObject refuses, whatever the line kind, with
// the message each gets.
var refusals = []struct {
	name, in, want string
}{
	{"empty", ``, `not a JSON object: the line is empty`},
	{"white space only", " \t ", `not a JSON object: the line holds only white space`},
	{"array", `[1]`, `not a JSON object: found a JSON array`},
	{"string", `"subject"`, `not a JSON object: found a JSON string`},
	{"number", `12`, `not a JSON object: found a JSON number`},
	{"null", `null`, `not a JSON object: found JSON null`},
	{"not JSON", `oops`, `not valid JSON: expected a JSON object, found 'o' (byte 1)`},
	{"duplicate key", `{"subject":"u1","subject":"u2"}`, `field "subject" given twice`},
	{"duplicate after unescaping", `{"subject":"u1","\u0073ubject":"u2"}`, `field "subject" given twice`},
	{"duplicate nested", `{"attributes":{"tier":"a","tier":"b"}}`, `field "attributes.tier" given twice`},
	{"duplicate in a list", `{"a":[1,{"x":1,"x":2}]}`, `field "a[1].x" given twice`},
	{"bytes after the object", `{"subject":"u1"}x`, `not valid JSON: bytes after the object (byte 17: 'x'); a line holds one object`},
	{"two objects", `{"subject":"u1"} {"subject":"u2"}`, `bytes after the object (byte 18: '{')`},
	{"invalid UTF-8 in a string", "{\"subject\":\"u\xff1\"}", `not valid UTF-8 (byte 14)`},
	{"invalid UTF-8 in a key", "{\"sub\xc3ject\":\"u1\"}", `not valid UTF-8 (byte 6)`},
	{"invalid UTF-8 outside strings", "{\"subject\":\"u1\"}\xa0", `not valid UTF-8 (byte 17)`},
	{"lone high surrogate", `{"subject":"\ud83d"}`, `not valid JSON: \ud83d is the first half of a UTF-16 surrogate pair without the second: not a character (byte 13)`},
	{"high surrogate then other escape", `{"subject":"\ud83d\n"}`, `\ud83d is the first half of a UTF-16 surrogate pair`},
	{"high surrogates twice", `{"subject":"\ud83d\ud83d"}`, `\ud83d is the first half of a UTF-16 surrogate pair`},
	{"lone low surrogate", `{"subject":"\ude00"}`, `\ude00 is the second half of a UTF-16 surrogate pair without the first`},
	{"lone surrogate in a key", `{"\udfff":1}`, `\udfff is the second half`},
	{"short \\u", `{"subject":"\u12x4"}`, `not valid JSON: \u must be followed by four hex digits, found 'x' (byte 13)`},
	{"unknown escape", `{"subject":"\x41"}`, `not valid JSON: \x is not an escape in a JSON string (byte 13)`},
	{"control character", "{\"subject\":\"a\tb\"}", `not valid JSON: the control character U+0009 in a string: it must be escaped (byte 14)`},
	{"leading zero", `{"a":01}`, `not valid JSON: the number 01: a number may not start with 0 followed by digits (byte 6)`},
	{"no digit after the point", `{"a":1.}`, `not valid JSON: the number 1.: expected a digit after the decimal point, found '}' (byte 8)`},
	{"no digit in the exponent", `{"a":1e+}`, `the number 1e+: expected a digit in the exponent`},
	{"minus alone", `{"a":-}`, `the number -: expected a digit after '-'`},
	{"plus", `{"a":+1}`, `not valid JSON: expected the value of "a", found '+' (byte 6)`},
	{"point first", `{"a":.5}`, `expected the value of "a", found '.'`},
	{"hex number", `{"a":0x1}`, `expected ',' or '}' after the value of "a", found 'x' (byte 7)`},
	{"missing colon", `{"purpose" "x"}`, `not valid JSON: expected ':' after the key "purpose", found '"' (byte 12)`},
	{"missing value", `{"purpose":}`, `not valid JSON: expected the value of "purpose", found '}' (byte 12)`},
	{"missing comma", `{"a":"x" "b":"y"}`, `not valid JSON: expected ',' or '}' after the value of "a", found '"' (byte 10)`},
	{"trailing comma", `{"a":"x",}`, `not valid JSON: a ',' before '}': expected another key in double quotes (byte 10)`},
	{"trailing comma in a list", `{"a":[1,]}`, `not valid JSON: a ',' before ']': expected another value (byte 9)`},
	{"bad list", `{"a":[1 2]}`, `expected ',' or ']' after an element of a list, found '2' (byte 9)`},
	{"key not a string", `{subject:"u1"}`, `not valid JSON: expected a key in double quotes, found 's' (byte 2)`},
	{"single quotes", `{'subject':'u1'}`, `expected a key in double quotes, found '\''`},
	{"bad literal", `{"a":nul}`, `not valid JSON: expected a value (true, false, null, a number, a string, an object or a list), found "nul" (byte 6)`},
	{"capital literal", `{"a":True}`, `expected the value of "a", found 'T'`},
	{"bad value in a list", `{"a":[?]}`, `not valid JSON: expected a value, found '?' (byte 7)`},
	{"ends in a key", `{"subj`, `not valid JSON: the line ends in the middle of the object`},
	{"ends after a comma", `{"subject":"u1",`, `the line ends in the middle of the object`},
	{"ends in a string", `{"subject":"u1`, `the line ends in the middle of the object`},
	{"ends in an escape", `{"subject":"u1\`, `the line ends in the middle of the object`},
	{"ends in a \\u", `{"subject":"\u00`, `the line ends in the middle of the object`},
	{"ends in a surrogate pair", `{"subject":"\ud83d\`, `the line ends in the middle of the object`},
	{"ends in a literal", `{"a":tr`, `the line ends in the middle of the object`},
	{"ends in a number", `{"a":1.`, `the line ends in the middle of the object`},
	{"ends in a list", `{"a":[1,2`, `the line ends in the middle of the object`},
	{"nested too deep", `{"a":` + deep(64) + `}`, `values nested more than 64 deep (byte 69)`},
	{"a BOM inside", "{\"a\":1}\ufeff", `bytes after the object (byte 8: '\ufeff')`},
}

func TestReadObjectRefuses(t *testing.T) {
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			_, err := members([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%q: error %v, want one containing %q", c.in, err, c.want)
			}
		})
	}
	// Just within the bound.
	if _, err := members([]byte(`{"a":` + deep(63) + `}`)); err != nil {
		t.Fatal(err)
	}
}

// TestReadObjectStopsAtFn: fn's error is returned as is, and reading
// stops there.
func TestReadObjectStopsAtFn(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := readObject([]byte(`{"a":1,"b":2,"c":`), func([]byte, value) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("error %v after %d members", err, n)
	}
}

// TestLinesRefuse: both line kinds refuse the same things the same way,
// each through the one reader.
func TestLinesRefuse(t *testing.T) {
	const subj = `{"subject":"u1","at":"2024-01-01T00:00:00Z"`
	const cons = `{"subject":"u1","purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z"`
	for _, c := range []struct {
		name          string
		subject, cons string // a subjects and a consent line
		want          string
	}{
		{"duplicate key", subj + `,"at":"2024-01-02T00:00:00Z"}`, cons + `,"state":"denied"}`, `given twice`},
		{"duplicate subject", `{"subject":"u1","subject":"u2","at":"2024-01-01T00:00:00Z"}`, `{"subject":"u1","subject":"u2"}`, `field "subject" given twice`},
		{"key in another case", `{"Subject":"u1","at":"2024-01-01T00:00:00Z"}`, `{"Subject":"u1"}`, `unknown field "Subject"`},
		{"key in another case beside it", subj + `,"Subject":"u2"}`, cons + `,"Subject":"u2"}`, `unknown field "Subject"`},
		{"bytes after the object", subj + `}x`, cons + `}x`, `bytes after the object`},
		{"two objects", subj + `}{"subject":"u2"}`, cons + `}{}`, `bytes after the object`},
		{"invalid UTF-8 in a string", "{\"subject\":\"u\xe91\"}", "{\"subject\":\"u\xe91\"}", `not valid UTF-8 (byte 14)`},
		{"invalid UTF-8 in a key", "{\"subject\xff\":\"u1\"}", "{\"subject\xff\":\"u1\"}", `not valid UTF-8 (byte 10)`},
		{"lone surrogate", `{"subject":"u\ud800"}`, `{"subject":"u\ud800"}`, `\ud800 is the first half of a UTF-16 surrogate pair`},
		{"leading zero", subj + `,"attributes":{"n":01}}`, cons + `,"source":01}`, `the number 01: a number may not start with 0`},
		{"no digit after the point", subj + `,"attributes":{"n":1.}}`, cons + `,"source":1.}`, `the number 1.: expected a digit after the decimal point`},
		{"nested too deep", subj + `,"attributes":{"a":` + deep(70) + `}}`, cons + `,"source":` + deep(70) + `}`, `values nested more than 64 deep`},
		{"empty", ``, ``, `the line is empty`},
		{"white space only", "  ", "  ", `the line holds only white space`},
		{"not an object", `["u1"]`, `["u1"]`, `not a JSON object: found a JSON array`},
		{"ends early", subj, cons, `the line ends in the middle of the object`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseSubjectLine([]byte(c.subject), now); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("subjects line %q: error %v, want one containing %q", c.subject, err, c.want)
			}
			if _, err := ParseConsentLine([]byte(c.cons), now); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("consent line %q: error %v, want one containing %q", c.cons, err, c.want)
			}
		})
	}
}

func TestSubjectLineValues(t *testing.T) {
	const subj = `{"subject":"u1","at":"2024-01-01T00:00:00Z"`
	for _, c := range []struct{ name, in, want string }{
		{"an attribute list", subj + `,"attributes":{"tier":["a"]}}`, `"attributes.tier": expected a string, number, boolean or null (objects and lists are not attribute values)`},
		{"an attribute object", subj + `,"attributes":{"tier":{}}}`, `objects and lists are not attribute values`},
		{"an attribute number out of range", subj + `,"attributes":{"n":1e400}}`, `"attributes.n": the number 1e400 is out of range`},
		{"an empty attribute name", subj + `,"attributes":{"":"x"}}`, `"attributes": an attribute name may not be empty`},
		{"attributes a list", subj + `,"attributes":["tier"]}`, `"attributes": expected an object of attribute names and values, found a JSON array`},
		{"region a number", subj + `,"region":7}`, `"region": expected a region code string or null, found a JSON number`},
		{"region a bad code", subj + `,"region":"de"}`, `upper case`},
		{"subject a number", `{"subject":7}`, `field "subject": expected a string, found a JSON number`},
		{"subject null", `{"subject":null,"at":"2024-01-01T00:00:00Z"}`, `missing "subject"`},
		{"at a boolean", `{"subject":"u1","at":true}`, `field "at": expected a string, found a JSON boolean`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseSubjectLine([]byte(c.in), now); err == nil || err.Error() != c.want && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s: error %v, want one containing %q", c.in, err, c.want)
			}
		})
	}
	e, err := ParseSubjectLine([]byte(subj+`,"attributes":{"a\u00e9":"\ud83d\ude00","n":-0.5E+2,"z":null},"region":"DE"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := EncodeAttributes(e.Attributes); got != `{"aé":"😀","n":"-0.5E+2","z":null}` || e.Region != "DE" {
		t.Fatalf("%+v: attributes %s", e, got)
	}
	e, err = ParseSubjectLine([]byte(subj+`,"attributes":null}`), now)
	if err != nil || e.Attributes != nil || e.RegionSet {
		t.Fatalf("%+v %v", e, err)
	}
}

func TestChoiceEvent(t *testing.T) {
	s := func(v string) *string { return &v }
	at := s("2024-01-01T00:00:00Z")
	// Fields from elsewhere than a line (flags, a form) get the same checks.
	e, err := Choice{Subject: s("u1"), Purpose: s("p"), Recipient: s("*"), State: s("denied"), At: at}.Event(now, "support")
	if err != nil || e.Recipient != "" || e.Source != "support" || e.State.String() != "denied" {
		t.Fatalf("%+v %v", e, err)
	}
	for _, c := range []struct {
		name string
		c    Choice
		want string
	}{
		{"no subject", Choice{Purpose: s("p"), State: s("denied"), At: at}, `missing "subject"`},
		{"empty recipient", Choice{Subject: s("u1"), Purpose: s("p"), Recipient: s(""), State: s("denied"), At: at}, `"recipient" is empty`},
		{"bad state", Choice{Subject: s("u1"), Purpose: s("p"), State: s("yes"), At: at}, `"state" "yes": expected granted or denied`},
		{"no time", Choice{Subject: s("u1"), Purpose: s("p"), State: s("denied")}, `missing "at"`},
		{"bad source", Choice{Subject: s("u1"), Purpose: s("p"), State: s("denied"), At: at, Source: s("psychic")}, `"source" "psychic" is not one of`},
		{"invalid UTF-8", Choice{Subject: s("u\xff"), Purpose: s("p"), State: s("denied"), At: at}, `"subject": not valid UTF-8`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.c.Event(now, "api"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// A JSON body whose subject is the URL's.
	c, err := ReadChoice([]byte(`{"purpose":"p","state":"granted","at":"2024-01-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	c.Subject = s("from-the-path")
	if e, err := c.Event(now, "api"); err != nil || e.Subject != "from-the-path" || e.Source != "api" {
		t.Fatalf("%+v %v", e, err)
	}
}

func TestSubjectChangeEvent(t *testing.T) {
	s := func(v string) *string { return &v }
	at := s("2024-01-01T00:00:00Z")
	e, err := SubjectChange{Subject: s("u1"), At: at, RegionNull: true, Attributes: map[string]*string{"tier": s("gold"), "gone": nil}}.Event(now)
	if err != nil || !e.RegionSet || e.Region != "" || EncodeAttributes(e.Attributes) != `{"gone":null,"tier":"gold"}` {
		t.Fatalf("%+v %v", e, err)
	}
	for _, c := range []struct {
		name string
		c    SubjectChange
		want string
	}{
		{"no subject", SubjectChange{At: at}, `missing "subject"`},
		{"in the future", SubjectChange{Subject: s("u1"), At: s("2999-01-01T00:00:00Z")}, `in the future`},
		{"region and null", SubjectChange{Subject: s("u1"), At: at, Region: s("DE"), RegionNull: true}, `"region": both a region code and null`},
		{"bad region", SubjectChange{Subject: s("u1"), At: at, Region: s("Germany")}, `"region"`},
		{"empty name first", SubjectChange{Subject: s("u1"), At: at, Attributes: map[string]*string{"b\xff": nil, "": s("x")}}, `an attribute name may not be empty`},
		{"invalid UTF-8 value", SubjectChange{Subject: s("u1"), At: at, Attributes: map[string]*string{"a": s("\xff")}}, `"attributes.a": not valid UTF-8`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.c.Event(now); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// noDuplicateKeys reports whether no object in the valid JSON b holds a key
// twice, reading it with encoding/json.
func noDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1e1000 is a valid number, not a float64
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil || seen[k.(string)] {
					return false
				}
				seen[k.(string)] = true
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		case json.Delim('['):
			for dec.More() {
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		}
		return true
	}
	return walk()
}

// FuzzReadObject: readObject never panics; what it accepts encoding/json
// accepts as an object without a key twice, read member for member the
// same; what encoding/json refuses it refuses; and it refuses an object
// encoding/json accepts only for one of its own stricter rules.
func FuzzReadObject(f *testing.F) {
	for _, c := range refusals {
		f.Add([]byte(c.in))
	}
	for _, s := range []string{
		`{"subject":"u1","purpose":"train_ai_system","recipient":"third_party","state":"denied","at":"2024-09-20T10:00:00Z","source":"settings"}`,
		`{"subject":"u1","at":"2019-03-01T00:00:00Z","region":"DE","attributes":{"tier":"premium","handle":"@ana","n":-1.5e3,"b":true,"x":null}}`,
		` { "subject" : "u\u0031" , "at" : "2024-01-01T00:00:00+02:00" } `,
		`{"k\u00e9y":"\"\\\/\b\f\n\r\t\u0041\ud83d\ude00é","o":{"a":[1,{"b":[]}]},"z":[true,false,null,0.5e-7]}`,
		`{"subject":"a","Subject":"b"}`,
		"{\"a\":\"\u2028\x7f\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := members(in)
		var object map[string]json.RawMessage
		jerr := json.Unmarshal(in, &object)
		if jerr == nil && object == nil {
			jerr = errors.New("null") // not an object
		}
		valid := json.Valid(in)
		if err == nil {
			if !valid || jerr != nil {
				t.Fatalf("%q: accepted, but encoding/json says %v (valid %v)", in, jerr, valid)
			}
			if !noDuplicateKeys(in) {
				t.Fatalf("%q: accepted with a key twice", in)
			}
			if len(got) != len(object) {
				t.Fatalf("%q: %d members, encoding/json %d", in, len(got), len(object))
			}
			for _, m := range got {
				raw, ok := object[m.key]
				if !ok {
					t.Fatalf("%q: key %q, not encoding/json's", in, m.key)
				}
				want := string(raw)
				if m.kind == kindString {
					var s string
					json.Unmarshal(raw, &s)
					want = s
				}
				if m.text != want {
					t.Fatalf("%q: %q = %q, encoding/json %q", in, m.key, m.text, want)
				}
			}
			return
		}
		if err.Error() == "" {
			t.Fatalf("%q: an empty message", in)
		}
		if !valid || jerr != nil || !utf8.Valid(in) || !noDuplicateKeys(in) {
			return
		}
		// A valid JSON object, in UTF-8, without a key twice: refused only
		// for a lone surrogate or the depth.
		msg := err.Error()
		switch {
		case strings.Contains(msg, "surrogate pair") && bytes.Contains(bytes.ToLower(in), []byte(`\ud`)):
		case strings.Contains(msg, "nested more than") && bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) > maxDepth:
		default:
			t.Fatalf("%q: refused (%v), but it is a valid object", in, err)
		}
	})
}

// TestAttributeNames: the fast reading of stored attributes gives the
// names a full decoding gives, for what EncodeAttributes writes and for
// anything else.
func TestAttributeNames(t *testing.T) {
	v := func(s string) *string { return &s }
	for _, m := range []map[string]*string{nil, {}, {"tier": v("premium")}, {"a": nil, "b": v("x"), "handle": v("@ä")},
		{`we"ird`: v(`va\lue`)}, {"ctl": v("\x01")}} {
		stored := EncodeAttributes(m)
		got, err := AttributeNames([]byte(stored))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		var want []string
		for k := range m {
			want = append(want, k)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", stored, got, want)
		}
	}
	for _, bad := range []string{`{"a":1}`, `{"a"`, `[1]`, `{"a":"b",}`, `nope`} {
		if names, err := AttributeNames([]byte(bad)); err == nil && bad != `{"a":1}` {
			t.Errorf("%s read as %v", bad, names)
		}
	}
}

// FuzzAttributeNames: the fast reading of stored attributes never panics
// and names what a full decoding names.
func FuzzAttributeNames(f *testing.F) {
	v := func(s string) *string { return &s }
	f.Add([]byte(EncodeAttributes(map[string]*string{"tier": v("premium"), "gone": nil})))
	f.Add([]byte(`{"a":"b"}`))
	f.Add([]byte(`{"a\"":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := AttributeNames(b)
		m, merr := DecodeAttributes(b)
		if (err == nil) != (merr == nil) {
			t.Fatalf("%q: fast %v, full %v", b, err, merr)
		}
		if err != nil {
			return
		}
		slices.Sort(got)
		var want []string
		for k := range m {
			want = append(want, k)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%q: %v, full decoding %v", b, got, want)
		}
	})
}
