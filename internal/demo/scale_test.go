package demo

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

func TestGenerateScale(t *testing.T) {
	f, err := GenerateScale(t.TempDir(), 1000, 3000, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f.Subjects, f.Consent, f.Records} {
		file, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(file)
		n := 0
		for sc.Scan() {
			n++
			if !json.Valid(sc.Bytes()) {
				t.Fatalf("%s:%d is not JSON: %s", p, n, sc.Bytes())
			}
		}
		file.Close()
		if n == 0 {
			t.Fatalf("%s is empty", p)
		}
	}
	st, _ := os.Stat(f.Records)
	if avg := st.Size() / 3000; avg < 200 || avg > 270 {
		t.Errorf("records average %d bytes, want about 235", avg)
	}
}
