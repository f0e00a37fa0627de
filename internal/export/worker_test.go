package export

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
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
