package policy

import (
	"strings"
	"testing"
)

// TestParseController: `controller` and `language` (the consent records'
// PII controller and notice language) are read strictly, each mistake
// named with its line and what was expected.
func TestParseController(t *testing.T) {
	src := strictBase + `controller:
  name: Example Social Ltd
  contact: privacy@example.com
  address: 1 Example Street, Dublin, Ireland
  consent_url: https://example.com/privacy
language: en-GB
`
	d, _, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Controller; c == nil || c.Name != "Example Social Ltd" || c.Contact != "privacy@example.com" ||
		c.Address != "1 Example Street, Dublin, Ireland" || c.ConsentURL != "https://example.com/privacy" || d.Language != "en-GB" {
		t.Fatalf("controller %+v, language %q", d.Controller, d.Language)
	}
	d, _, err = Parse("p.yaml", []byte(strictBase+"controller: { name: X, contact: \"https://example.com/contact\" }\n"))
	if err != nil || d.Controller.Contact != "https://example.com/contact" || d.Controller.Address != "" || d.Language != "" {
		t.Fatalf("a contact page: %v %+v", err, d)
	}
	d, _, err = Parse("p.yaml", []byte(strictBase))
	if err != nil || d.Controller != nil {
		t.Fatalf("no controller: %v %+v", err, d.Controller)
	}
	for _, c := range []struct{ name, add, msg string }{
		{"a name only", "controller: X\n", "controller: expected a mapping, found"},
		{"no name", "controller: { contact: a@example.com }\n", "controller: missing key name"},
		{"no contact", "controller: { name: X }\n", "controller: missing key contact"},
		{"empty name", "controller: { name: \" \", contact: a@example.com }\n", "controller name: expected the controller's legal name, found nothing"},
		{"contact neither", "controller: { name: X, contact: call us }\n", `controller contact "call us": expected an email address or the http or https address`},
		{"contact ftp", "controller: { name: X, contact: \"ftp://example.com\" }\n", "expected an email address or the http or https address"},
		{"consent_url not web", "controller: { name: X, contact: a@example.com, consent_url: /privacy }\n", `controller consent_url "/privacy": expected the http or https address`},
		{"unknown key", "controller: { name: X, contact: a@example.com, phone: 1 }\n", `controller: unknown key "phone" (expected one of address, consent_url, contact, name)`},
		{"name a number", "controller: { name: 42, contact: a@example.com }\n", "controller name: expected the controller's legal name, found the number 42"},
		{"language a word", "language: English\n", `language "English": expected the language members read notice and describe in, as a BCP 47 tag`},
		{"language a list", "language: [en]\n", "language: expected the language members read"},
	} {
		_, _, err := Parse("p.yaml", []byte(strictBase+c.add))
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "p.yaml:9") {
			t.Errorf("%s: %v, want line 9 and %q", c.name, err, c.msg)
		}
	}
}
