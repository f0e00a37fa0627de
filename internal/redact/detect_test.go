package redact

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type labelled struct {
	Text  string      `json:"text"`
	Spans [][2]string `json:"spans"`
}

func readCorpus(t testing.TB) []labelled {
	f, err := os.Open("../../testdata/redaction/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var l labelled
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("corpus line %d: %v", n, err)
		}
		out = append(out, l)
	}
	return out
}

// TestCorpusPrecisionRecall measures every detector on the labelled
// corpus and fails below 0.95 recall or 0.95 precision.
func TestCorpusPrecisionRecall(t *testing.T) {
	var all [numKinds]bool
	for i := range all {
		all[i] = true
	}
	tp, fp, fn := map[Kind]int{}, map[Kind]int{}, map[Kind]int{}
	for _, l := range readCorpus(t) {
		want := map[string]bool{}
		for _, s := range l.Spans {
			want[s[0]+"\x00"+s[1]] = true
		}
		for _, s := range Detect(l.Text, all, nil) {
			key := s.Kind.String() + "\x00" + l.Text[s.Start:s.End]
			if want[key] {
				tp[s.Kind]++
				delete(want, key)
			} else {
				fp[s.Kind]++
				t.Logf("false positive %s %q in %q", s.Kind, l.Text[s.Start:s.End], l.Text)
			}
		}
		for key := range want {
			k, _ := ParseKind(strings.SplitN(key, "\x00", 2)[0])
			fn[k]++
			t.Logf("missed %s %q in %q", k, strings.SplitN(key, "\x00", 2)[1], l.Text)
		}
	}
	for _, k := range Kinds() {
		if k == Member {
			continue // measured by TestMembersPrecisionRecall
		}
		p := float64(tp[k]) / float64(max(1, tp[k]+fp[k]))
		r := float64(tp[k]) / float64(max(1, tp[k]+fn[k]))
		t.Logf("%-6s precision %.3f recall %.3f (tp %d, fp %d, fn %d)", k, p, r, tp[k], fp[k], fn[k])
		if tp[k] == 0 || p < 0.95 || r < 0.95 {
			t.Errorf("%s: precision %.3f, recall %.3f", k, p, r)
		}
	}
}

// FuzzDetect: no input crashes a detector, and every span lies inside the
// text, in order, without overlap.
func FuzzDetect(f *testing.F) {
	for _, l := range readCorpus(f) {
		f.Add(l.Text)
	}
	var all [numKinds]bool
	for i := range all {
		all[i] = true
	}
	f.Fuzz(func(t *testing.T, text string) {
		end := 0
		for _, s := range Detect(text, all, nil) {
			if s.Start < end || s.End <= s.Start || s.End > len(text) {
				t.Fatalf("bad span %v in %q", s, text)
			}
			end = s.End
		}
	})
}

// BenchmarkDetect runs every detector over typical post text, some with
// personal data in it.
func BenchmarkDetect(b *testing.B) {
	texts := []string{
		"Quarterly roadmap review with the design team went well; next we ship the data pipeline and hire two mentors.",
		"Great talk today! Slides at https://example.com/talks/2024 and mail me at ana@example.com or call +44 20 7946 0958.",
		"Version 1.2.3 is out, 40% faster. Thanks to everyone who tested it on 2024-09-18 at 10:30.",
	}
	var all [numKinds]bool
	for i := range all {
		all[i] = true
	}
	n := 0
	for _, t := range texts {
		n += len(t)
	}
	b.SetBytes(int64(n))
	var spans []Span
	for b.Loop() {
		for _, t := range texts {
			spans = Detect(t, all, spans[:0])
		}
	}
}
