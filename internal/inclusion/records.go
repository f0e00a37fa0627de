package inclusion

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Ref is one subject on an included record: its stable number and role.
type Ref struct {
	Number int64
	Role   policy.Role
}

// Record is an included record as kept: what deciding it again needs (its
// category, creation time and subjects with their roles), its id to name
// it by, and its position in the export's output.
type Record struct {
	Index    int64 // 0-based position in the output (and leaf index in records_root)
	ID       []byte
	Category string
	Created  timestamp.Time
	Subjects []Ref
}

// A chunk is a self-contained run of included records in output order, as
// the export's workers produce them (one per batch of input) and the store
// keeps them: the magic, the categories the run names, the record count,
// then the records zstd-compressed — each the id (length and bytes), the
// category's index, the creation time as a signed delta from the previous
// record's, and the subjects (count, then number<<2 | role). A typical
// record takes five to ten bytes.
const chunkMagic = "cgrecords1\n"

// Chunk builds one chunk. The zero value is ready to use; Reset reuses it.
type Chunk struct {
	raw  []byte
	cats []string
	n    int
	prev int64
}

// Reset empties the chunk for the next run.
func (c *Chunk) Reset() {
	c.raw, c.cats, c.n, c.prev = c.raw[:0], c.cats[:0], 0, 0
}

// Len is the number of records added since the last Reset.
func (c *Chunk) Len() int { return c.n }

// Add appends an included record. subjects yields each subject's number
// and role, in the record's order.
func (c *Chunk) Add(id, category []byte, created timestamp.Time, nSubjects int, subject func(i int) Ref) {
	cat := -1
	for i, name := range c.cats {
		if name == string(category) {
			cat = i
			break
		}
	}
	if cat < 0 {
		cat = len(c.cats)
		c.cats = append(c.cats, string(category))
	}
	c.raw = binary.AppendUvarint(c.raw, uint64(len(id)))
	c.raw = append(c.raw, id...)
	c.raw = binary.AppendUvarint(c.raw, uint64(cat))
	c.raw = binary.AppendVarint(c.raw, int64(created)-c.prev)
	c.prev = int64(created)
	c.raw = binary.AppendUvarint(c.raw, uint64(nSubjects))
	for i := 0; i < nSubjects; i++ {
		r := subject(i)
		c.raw = binary.AppendUvarint(c.raw, uint64(r.Number)<<2|uint64(r.Role))
	}
	c.n++
}

var (
	encOnce sync.Once
	enc     *zstd.Encoder
	dec     *zstd.Decoder
)

func codecs() {
	encOnce.Do(func() {
		enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
	})
}

// AppendTo appends the chunk's stored form to dst (nothing when it holds
// no record). Safe to call from several goroutines on different chunks.
func (c *Chunk) AppendTo(dst []byte) []byte {
	if c.n == 0 {
		return dst
	}
	codecs()
	dst = append(dst, chunkMagic...)
	dst = binary.AppendUvarint(dst, uint64(len(c.cats)))
	for _, name := range c.cats {
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
	}
	dst = binary.AppendUvarint(dst, uint64(c.n))
	dst = binary.AppendUvarint(dst, uint64(len(c.raw)))
	return enc.EncodeAll(c.raw, dst)
}

// Reader decodes chunks in order, numbering their records from 0.
type Reader struct {
	next int64
	raw  []byte
	subj []Ref
}

// ErrCorrupt: a stored chunk does not decode.
var ErrCorrupt = errors.New("the stored records of an export do not decode")

// Each calls fn for every record of one chunk, in order. The record and
// its slices are valid only during the call.
func (r *Reader) Each(chunk []byte, fn func(*Record) error) error {
	codecs()
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrCorrupt, what) }
	if len(chunk) < len(chunkMagic) || string(chunk[:len(chunkMagic)]) != chunkMagic {
		return bad("not a records chunk")
	}
	b := chunk[len(chunkMagic):]
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	nc, ok := uv()
	if !ok || nc > uint64(len(b)) {
		return bad("categories")
	}
	cats := make([]string, nc)
	for i := range cats {
		l, ok := uv()
		if !ok || l > uint64(len(b)) {
			return bad("categories")
		}
		cats[i], b = string(b[:l]), b[l:]
	}
	n, ok1 := uv()
	rawLen, ok2 := uv()
	if !ok1 || !ok2 || rawLen > 1<<31 {
		return bad("header")
	}
	var err error
	if r.raw, err = dec.DecodeAll(b, r.raw[:0]); err != nil || uint64(len(r.raw)) != rawLen {
		return bad("body")
	}
	b = r.raw
	var rec Record
	prev := int64(0)
	for i := uint64(0); i < n; i++ {
		l, ok := uv()
		if !ok || l > uint64(len(b)) {
			return bad("record id")
		}
		rec.ID, b = b[:l:l], b[l:]
		ci, ok := uv()
		if !ok || ci >= uint64(len(cats)) {
			return bad("record category")
		}
		rec.Category = cats[ci]
		d, k := binary.Varint(b)
		if k <= 0 {
			return bad("record time")
		}
		b = b[k:]
		prev += d
		rec.Created = timestamp.Time(prev)
		ns, ok := uv()
		if !ok || ns > uint64(len(b)) {
			return bad("record subjects")
		}
		r.subj = r.subj[:0]
		for j := uint64(0); j < ns; j++ {
			v, ok := uv()
			if !ok || v&3 > uint64(policy.Mentioned) {
				return bad("record subject")
			}
			r.subj = append(r.subj, Ref{Number: int64(v >> 2), Role: policy.Role(v & 3)})
		}
		rec.Subjects = r.subj
		rec.Index = r.next
		r.next++
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return bad("bytes after the last record")
	}
	return nil
}

// AppendFramed appends a chunk with its length before it, so that several
// can share one file (a sharded export's records-i.bin).
func AppendFramed(dst, chunk []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(chunk))), chunk...)
}

// SplitFramed splits what AppendFramed wrote into its chunks.
func SplitFramed(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: a framed chunk is cut short", ErrCorrupt)
		}
		out = append(out, b[k:k+int(l)])
		b = b[k+int(l):]
	}
	return out, nil
}
