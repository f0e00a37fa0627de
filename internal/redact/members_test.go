package redact

import (
	"encoding/json"
	"os"
	"testing"
)

// TestMembersPrecisionRecall measures the member detector on its labelled
// corpus: handles and names of members who do not allow the export are
// found; those of members who do, and near misses, are not.
func TestMembersPrecisionRecall(t *testing.T) {
	src, err := os.ReadFile("../../testdata/redaction/members.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Members []struct {
			Handle, Name string
			Allows       bool
		}
		Texts []struct {
			Text  string
			Spans []string
		}
	}
	if err := json.Unmarshal(src, &c); err != nil {
		t.Fatal(err)
	}
	m := NewMembers()
	allows := map[int32]bool{}
	for i, mem := range c.Members {
		m.Add(int32(i), mem.Handle, mem.Name)
		allows[int32(i)] = mem.Allows
	}
	deny := func(s int32) bool { return !allows[s] }
	tp, fp, fn := 0, 0, 0
	for _, x := range c.Texts {
		want := map[string]int{}
		for _, s := range x.Spans {
			want[s]++
		}
		spans, _, _ := m.detect(x.Text, deny, nil, nil, nil)
		for _, s := range spans {
			got := x.Text[s.Start:s.End]
			if want[got] > 0 {
				tp++
				want[got]--
			} else {
				fp++
				t.Logf("false positive %q in %q", got, x.Text)
			}
		}
		for s, n := range want {
			if n > 0 {
				fn += n
				t.Logf("missed %q in %q", s, x.Text)
			}
		}
	}
	p, r := float64(tp)/float64(max(1, tp+fp)), float64(tp)/float64(max(1, tp+fn))
	t.Logf("member precision %.3f recall %.3f (tp %d, fp %d, fn %d)", p, r, tp, fp, fn)
	if p < 0.95 || r < 0.95 {
		t.Errorf("member: precision %.3f, recall %.3f", p, r)
	}
}

func BenchmarkMembers(b *testing.B) {
	m := NewMembers()
	for i := 0; i < 200_000; i++ {
		m.Add(int32(i), "@user"+itoa(i), "First"+itoa(i)+" Last"+itoa(i))
	}
	text := "Great session with @user42 and First7 Last7 today, thanks to everyone who came along to the talk."
	b.SetBytes(int64(len(text)))
	deny := func(int32) bool { return true }
	var spans []Span
	var words []word
	var key []byte
	for b.Loop() {
		spans, words, key = m.detect(text, deny, words, key, spans[:0])
	}
	if len(spans) != 2 {
		b.Fatalf("found %d", len(spans))
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
