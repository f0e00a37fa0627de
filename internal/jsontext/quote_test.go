package jsontext

import (
	"strings"
	"testing"
)

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain": `"plain"`, `q"b\s`: `"q\"b\\s"`, "tab\tnl\n": `"tab\tnl\n"`, "\x01": `"\u0001"`, "ünï": `"ünï"`, "bad\xff": `"bad\ufffd"`,
	} {
		if got := string(AppendString(nil, in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
	}
}

// The word-at-a-time check agrees with escaping byte by byte on every
// byte in every position.
func TestAppendStringWords(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 17; pos++ {
			in := []byte(strings.Repeat("a", 17))
			in[pos] = byte(c)
			got := string(AppendString(nil, in))
			if want := string(appendEscaped([]byte{'"'}, in)); got != want {
				t.Fatalf("byte %#x at %d: %s, want %s", c, pos, got, want)
			}
		}
	}
}
