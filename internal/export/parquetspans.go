package export

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"sync"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/blobio"
)

// A Parquet object is read where it lives (SPEC §5, issue 18), and on an
// object store every read is a request: column chunks read through
// parquet-go's buffers, a megabyte at a time, are a round trip each, one
// after another on the reader goroutine, and a second full read hashes
// the file. spanReader reads an object once instead, from its start to
// its end in one streamed request, by row group: a goroutine hashes every
// byte as it arrives and keeps each row group's bytes (the span of its
// column chunks) in memory, the row group being decoded and the next one,
// so that parquet-go's reads of them are served from memory and the
// stream stays one row group ahead. Reads outside the spans (the footer
// and page indexes, read when the file is opened) go to the object
// directly. A file whose row groups are not laid out one after another,
// or one larger than maxSpan, is read by ranges and hashed separately, as
// a local file is.
type spanReader struct {
	r *blobio.Reader

	mu    sync.Mutex
	spans []*span     // by row group, in file order; nil once released
	free  chan []byte // a released span's memory, for the next
}

// A span is a row group's bytes, read from the stream or being read.
type span struct {
	off, n int64
	data   []byte // made when the stream reaches the span
	ready  chan struct{}
	err    error
}

// maxSpan bounds a row group kept in memory (two are held at a time).
const maxSpan = 256 << 20

// newSpanReader is a spanReader for f whose spans are to be made from
// pf's row groups (spans), or nil when they cannot be streamed.
func newSpanReader(f *blobio.Reader) *spanReader { return &spanReader{r: f} }

// plan lays out pf's row group spans; it reports false when the row
// groups cannot be streamed in order.
func (s *spanReader) plan(pf *parquet.File) bool {
	var end int64
	for g := range pf.Metadata().RowGroups {
		off, n := rowGroupSpan(pf, g)
		if n <= 0 || n > maxSpan || off < end {
			return false
		}
		s.spans = append(s.spans, &span{off: off, n: n, ready: make(chan struct{})})
		end = off + n
	}
	return end <= s.r.Size()
}

// ReadAt serves a read from a span that holds it whole, else directly.
func (s *spanReader) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	var in *span
	for _, sp := range s.spans {
		if sp != nil && off >= sp.off && off+int64(len(p)) <= sp.off+sp.n {
			in = sp
			break
		}
	}
	s.mu.Unlock()
	if in != nil {
		<-in.ready
		if in.err != nil {
			return 0, in.err
		}
		return copy(p, in.data[off-in.off:]), nil
	}
	return s.r.ReadAt(p, off)
}

// rowGroupSpan is the byte range of row group g's column chunks.
func rowGroupSpan(pf *parquet.File, g int) (off, n int64) {
	lo, hi := int64(-1), int64(0)
	for _, c := range pf.Metadata().RowGroups[g].Columns {
		m := c.MetaData
		start := m.DataPageOffset
		if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
			start = m.DictionaryPageOffset
		}
		if lo < 0 || start < lo {
			lo = start
		}
		hi = max(hi, start+m.TotalCompressedSize)
	}
	if lo < 0 || hi <= lo {
		return 0, 0
	}
	return lo, hi - lo
}

// enter says row group g is being decoded: the spans before it are let
// go (the stream may then read further ahead).
func (s *spanReader) enter(g int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := 0; k < g && k < len(s.spans); k++ {
		if sp := s.spans[k]; sp != nil {
			s.spans[k] = nil
			<-sp.ready
			s.free <- sp.data[:0]
		}
	}
}

// stream starts the one read of the object: its bytes hashed, each span
// kept as it passes, no more than two spans held at a time.
func (s *spanReader) stream(ctx context.Context) *fileHash {
	fh := &fileHash{quit: make(chan struct{}), done: make(chan struct{})}
	// Two spans' memory: the row group being decoded, the next one.
	s.free = make(chan []byte, 2)
	s.free <- nil
	s.free <- nil
	spans := append([]*span(nil), s.spans...)
	go func() {
		defer close(fh.done)
		fail := func(err error) {
			fh.err = err
			for _, sp := range spans {
				select {
				case <-sp.ready:
				default:
					sp.err = err
					close(sp.ready)
				}
			}
		}
		rc, err := s.r.NewRangeReader(ctx, 0, -1)
		if err != nil {
			fail(err)
			return
		}
		defer rc.Close()
		h := sha256.New()
		tee := io.TeeReader(rc, h)
		var pos int64
		skip := make([]byte, 64<<10)
		for _, sp := range spans {
			for pos < sp.off { // between spans: hashed, not kept
				n, err := io.ReadFull(tee, skip[:min(int64(len(skip)), sp.off-pos)])
				pos += int64(n)
				if err != nil {
					fail(unexpected(err))
					return
				}
			}
			var buf []byte
			select {
			case buf = <-s.free:
			case <-fh.quit:
				fail(errors.New("reading stopped"))
				return
			}
			if int64(cap(buf)) < sp.n {
				buf = make([]byte, sp.n)
			}
			sp.data = buf[:sp.n]
			n, err := io.ReadFull(tee, sp.data)
			pos += int64(n)
			if err != nil {
				fail(unexpected(err))
				return
			}
			close(sp.ready)
		}
		n, err := io.Copy(io.Discard, tee) // the footer
		if err != nil {
			fail(err)
			return
		}
		fh.size, fh.sum = pos+n, h.Sum(nil)
	}()
	return fh
}

// unexpected is an object that ended before its spans did.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
