package inclusion

import (
	"math/rand/v2"
	"testing"
)

func TestSubjectsSize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	s := &Subjects{}
	n := int64(0)
	for i := 0; i < 1_000_000; i++ {
		n += 1 + int64(r.IntN(3))
		s.Numbers = append(s.Numbers, n)
		s.Records = append(s.Records, uint32(1+r.IntN(20)))
	}
	b := s.Encode()
	if len(b) > 3<<20 {
		t.Fatalf("a million subjects take %d bytes", len(b))
	}
	t.Logf("1,000,000 subjects: %d bytes", len(b))
	d, err := DecodeSubjects(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 499_999, 999_999} {
		if d.Count(s.Numbers[i]) != s.Records[i] {
			t.Fatalf("subject %d: %d records, want %d", s.Numbers[i], d.Count(s.Numbers[i]), s.Records[i])
		}
	}
	if d.Count(0) != 0 || d.Count(n+1) != 0 {
		t.Fatal("a subject not in the set has records")
	}
	if _, err := DecodeSubjects([]byte("garbage")); err == nil {
		t.Fatal("garbage decoded")
	}
	empty, err := DecodeSubjects((&Subjects{}).Encode())
	if err != nil || len(empty.Numbers) != 0 {
		t.Fatalf("empty set: %v", err)
	}
}

// FuzzDecodeSubjects: a stored subject set decodes or is refused, never
// panics, and one that decodes encodes to the same bytes.
func FuzzDecodeSubjects(f *testing.F) {
	f.Add((&Subjects{Numbers: []int64{1, 5, 9}, Records: []uint32{1, 2, 3}}).Encode())
	f.Add((&Subjects{}).Encode())
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSubjects(b)
		if err != nil {
			return
		}
		if got := s.Encode(); string(got) != string(b) {
			t.Fatalf("decoded %+v, encodes to %x, was %x", s, got, b)
		}
	})
}
