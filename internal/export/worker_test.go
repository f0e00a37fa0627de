package export

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
)

func TestLeafHashMatchesLibrary(t *testing.T) {
	var w worker
	for _, c := range []struct{ id, line string }{{"r1", `{"id":"r1"}`}, {"", ""}, {"ü", `{"x":"\u00fc"}`}} {
		sum := sha256Sum([]byte(c.line))
		want := rfc6962.DefaultHasher.HashLeaf(append(append([]byte(c.id), 0), sum...))
		got := w.appendLeafHash([]byte("prefix"), []byte(c.id), []byte(c.line))
		if !bytes.Equal(got[6:], want) || string(got[:6]) != "prefix" {
			t.Fatalf("leaf hash of %q differs from the library's", c.id)
		}
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func TestRejectParts(t *testing.T) {
	var rp rejectParts
	for range 2 {
		if got := string(rp.reason(`a "b"`)); got != `,"reason":"a \"b\""` {
			t.Fatal(got)
		}
	}
	if got := string(roleParts[policy.RecipientRole]) + string(checkParts[decision.Collection]); got != `,"role":"recipient","check":"collection"` {
		t.Fatal(got)
	}
}
