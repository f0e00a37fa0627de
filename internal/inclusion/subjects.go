// Package inclusion owns what an export included, kept with the export so
// that the questions asked about it later — whose data went where (`report
// subject`), who is owed a deletion once they withdraw or become
// ineligible (`impact`) — are answered from it and not guessed: its
// subjects, as stable numbers with their record counts, and its records'
// decision inputs (id, category, creation time, subjects with their roles)
// in output order. Both have compact stored forms.
package inclusion

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Subjects is which subjects an export included, and how many of each
// one's records. Subjects are their stable numbers (consent.View.Number).
// Encoded, a million subjects take one or two megabytes: sorted numbers as
// varint deltas with their counts, deflated.
type Subjects struct {
	Numbers []int64  // ascending
	Records []uint32 // per number
	// IDs are the included subjects' ids, in no particular order, for the
	// manifest's subjects_root; they are not part of the stored form.
	IDs []string
}

const subjectsMagic = "cgsubjects1\n"

// Encode writes the set in its stored form.
func (s *Subjects) Encode() []byte {
	var raw []byte
	raw = binary.AppendUvarint(raw, uint64(len(s.Numbers)))
	prev := int64(0)
	for i, n := range s.Numbers {
		raw = binary.AppendUvarint(raw, uint64(n-prev))
		raw = binary.AppendUvarint(raw, uint64(s.Records[i]))
		prev = n
	}
	var b bytes.Buffer
	b.WriteString(subjectsMagic)
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	w.Write(raw)
	w.Close()
	return b.Bytes()
}

// DecodeSubjects reads the stored form.
func DecodeSubjects(b []byte) (*Subjects, error) {
	if !bytes.HasPrefix(b, []byte(subjectsMagic)) {
		return nil, errors.New("not an export subject set")
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(b[len(subjectsMagic):])))
	if err != nil {
		return nil, fmt.Errorf("export subject set: %w", err)
	}
	n, k := binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)) {
		return nil, errors.New("export subject set: bad length")
	}
	raw = raw[k:]
	s := &Subjects{Numbers: make([]int64, 0, n), Records: make([]uint32, 0, n)}
	prev := int64(0)
	for i := uint64(0); i < n; i++ {
		d, k1 := binary.Uvarint(raw)
		if k1 <= 0 {
			return nil, errors.New("export subject set: truncated")
		}
		c, k2 := binary.Uvarint(raw[k1:])
		if k2 <= 0 {
			return nil, errors.New("export subject set: truncated")
		}
		raw = raw[k1+k2:]
		prev += int64(d)
		s.Numbers = append(s.Numbers, prev)
		s.Records = append(s.Records, uint32(c))
	}
	if len(raw) != 0 {
		return nil, errors.New("export subject set: bytes after the last subject")
	}
	// One set, one form: anything Encode would not have written (another
	// compression of the same bytes, a varint padded, a number twice) is
	// refused, so that equal sets are equal bytes.
	if !bytes.Equal(s.Encode(), b) {
		return nil, errors.New("export subject set: not in its stored form")
	}
	return s, nil
}

// Count returns how many of a subject's records the export included (0
// when none).
func (s *Subjects) Count(number int64) uint32 {
	i := sort.Search(len(s.Numbers), func(i int) bool { return s.Numbers[i] >= number })
	if i < len(s.Numbers) && s.Numbers[i] == number {
		return s.Records[i]
	}
	return 0
}

// Sort orders the set by subject number (the IDs are not reordered: they
// are in no particular order).
func (s *Subjects) Sort() { sort.Sort(byNumber{s}) }

type byNumber struct{ s *Subjects }

func (b byNumber) Len() int           { return len(b.s.Numbers) }
func (b byNumber) Less(i, j int) bool { return b.s.Numbers[i] < b.s.Numbers[j] }
func (b byNumber) Swap(i, j int) {
	b.s.Numbers[i], b.s.Numbers[j] = b.s.Numbers[j], b.s.Numbers[i]
	b.s.Records[i], b.s.Records[j] = b.s.Records[j], b.s.Records[i]
}
