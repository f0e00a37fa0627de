package export

import (
	"bytes"
	"crypto/sha256"
	"strings"
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

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"plain": `"plain"`, `q"b\s`: `"q\"b\\s"`, "tab\tnl\n": `"tab\tnl\n"`, "\x01": `"\u0001"`, "ünï": `"ünï"`, "bad\xff": `"bad\ufffd"`,
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// The word-at-a-time check agrees with escaping byte by byte on every
// byte in every position.
func TestAppendJSONStringWords(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 17; pos++ {
			in := []byte(strings.Repeat("a", 17))
			in[pos] = byte(c)
			got := string(appendJSONString(nil, in))
			if want := string(appendEscaped([]byte{'"'}, in)); got != want {
				t.Fatalf("byte %#x at %d: %s, want %s", c, pos, got, want)
			}
		}
	}
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
