package inclusion_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/consentgate/consentgate/internal/inclusion"
)

// TestSpool: chunks come back in order, from memory and, past the bound,
// from the temporary file, again and again, with chunks added after a
// reading; Close removes the file.
func TestSpool(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the spool's file, alone in its folder
	for _, limit := range []int{1 << 20, 100} {
		s := inclusion.NewSpool(limit)
		var want [][]byte
		add := func(n int) {
			for i := 0; i < n; i++ {
				c := bytes.Repeat([]byte{byte(len(want))}, len(want)%37)
				want = append(want, c)
				if err := s.Add(c); err != nil {
					t.Fatal(err)
				}
			}
		}
		check := func() {
			t.Helper()
			var got [][]byte
			if err := s.Each(func(c []byte) error { got = append(got, bytes.Clone(c)); return nil }); err != nil {
				t.Fatal(err)
			}
			if s.Len() != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("limit %d: %d chunks back, want %d", limit, len(got), len(want))
			}
		}
		add(50)
		check()
		add(30)
		check()
		check()
		if spilled := s.Spilled(); spilled != (limit == 100) {
			t.Fatalf("limit %d: spilled %v", limit, spilled)
		}
		files, _ := os.ReadDir(tmp)
		if want := map[bool]int{true: 1, false: 0}[limit == 100]; len(files) != want {
			t.Fatalf("limit %d: %d temporary files, want %d", limit, len(files), want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if files, _ := os.ReadDir(tmp); len(files) != 0 {
			t.Fatalf("the temporary file stayed: %v", files)
		}
	}
}
