package inclusion

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func TestSubjectsRoundTrip(t *testing.T) {
	s := &Subjects{Numbers: []int64{9, 3, 700000}, Records: []uint32{1, 5, 2}}
	s.Sort()
	got, err := DecodeSubjects(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Numbers, got.Records) != "[3 9 700000] [5 1 2]" {
		t.Fatalf("decoded %v %v", got.Numbers, got.Records)
	}
	if got.Count(9) != 1 || got.Count(4) != 0 {
		t.Fatal("Count")
	}
	if _, err := DecodeSubjects(append(s.Encode()[:len(subjectsMagic)], 1, 2, 3)); err == nil {
		t.Fatal("a corrupt set decoded")
	}
}

type rec struct {
	id, cat string
	at      timestamp.Time
	refs    []Ref
}

func sample() []rec {
	return []rec{
		{"m1", "user.content.private.message", 1_700_000_000_000_000, []Ref{{5, policy.Author}, {9, policy.RecipientRole}}},
		{"p-2", "user.content.public", 1_600_000_000_000_000, []Ref{{70000000, policy.Author}}},
		{"", "user.content.public", -5, []Ref{{1, policy.Mentioned}, {1, policy.Author}}},
		{"m3 with a long id ☃", "user.content.private.message", 1_700_000_000_000_001, nil},
	}
}

func chunkOf(rs []rec) []byte {
	var c Chunk
	for _, r := range rs {
		c.Add([]byte(r.id), []byte(r.cat), r.at, len(r.refs), func(i int) Ref { return r.refs[i] })
	}
	return c.AppendTo(nil)
}

func TestRecordsRoundTrip(t *testing.T) {
	rs := sample()
	chunks := [][]byte{chunkOf(rs[:2]), chunkOf(rs[2:])}
	var framed []byte
	for _, c := range chunks {
		framed = AppendFramed(framed, c)
	}
	split, err := SplitFramed(framed)
	if err != nil || len(split) != 2 || !bytes.Equal(split[1], chunks[1]) {
		t.Fatalf("framing: %v %d", err, len(split))
	}
	var r Reader
	var got []string
	for _, c := range split {
		err := r.Each(c, func(x *Record) error {
			got = append(got, fmt.Sprintf("%d %q %s %d %v", x.Index, x.ID, x.Category, x.Created, x.Subjects))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i, x := range rs {
		want = append(want, fmt.Sprintf("%d %q %s %d %v", i, []byte(x.id), x.cat, x.at, x.refs))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("decoded\n%v\nwant\n%v", got, want)
	}
	var empty Chunk
	if empty.AppendTo(nil) != nil {
		t.Fatal("an empty chunk has a stored form")
	}
}

func TestRecordsCorrupt(t *testing.T) {
	c := chunkOf(sample())
	for _, bad := range [][]byte{nil, c[:len(c)-3], append(bytes.Clone(c[:len(chunkMagic)]), 0xff), []byte("cgrecords1\n\x01\x05ab")} {
		var r Reader
		if err := r.Each(bad, func(*Record) error { return nil }); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%q: %v, want ErrCorrupt", bad, err)
		}
	}
	if _, err := SplitFramed([]byte{10, 1, 2}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a short frame: %v", err)
	}
}

// FuzzRecords: any bytes either decode to records or fail with ErrCorrupt;
// never a panic.
func FuzzRecords(f *testing.F) {
	f.Add(chunkOf(sample()))
	f.Add([]byte(chunkMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reader
		err := r.Each(b, func(x *Record) error {
			if len(x.Subjects) > len(b) {
				t.Fatal("more subjects than bytes")
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v", err)
		}
	})
}
