package inclusion

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// DefaultSpoolMemory is how many bytes of chunks a spool keeps in memory
// before it moves them to a temporary file: about four million kept
// records.
const DefaultSpoolMemory = 64 << 20

// Spool keeps an export's record chunks in order until the store takes
// them: in memory up to a bound, then in a temporary file, so that what an
// export keeps grows with its records while its memory does not (SPEC §10:
// memory grows with subjects, not records). A Spool is used by one
// goroutine; Close removes its file.
type Spool struct {
	limit int
	mem   [][]byte
	bytes int
	n     int
	f     *os.File
	w     *bufio.Writer
}

// NewSpool returns a spool keeping up to limit bytes in memory (0: the
// default).
func NewSpool(limit int) *Spool {
	if limit <= 0 {
		limit = DefaultSpoolMemory
	}
	return &Spool{limit: limit}
}

// Add keeps a copy of chunk after those added before.
func (s *Spool) Add(chunk []byte) error {
	s.n++
	if s.f == nil && s.bytes+len(chunk) <= s.limit {
		s.mem = append(s.mem, append([]byte(nil), chunk...))
		s.bytes += len(chunk)
		return nil
	}
	if s.f == nil {
		f, err := os.CreateTemp("", "consentgate-records-*")
		if err != nil {
			return fmt.Errorf("a temporary file for the kept records: %w", err)
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 1<<20)
		for _, c := range s.mem {
			if err := s.write(c); err != nil {
				return err
			}
		}
		s.mem, s.bytes = nil, 0
	}
	return s.write(chunk)
}

func (s *Spool) write(chunk []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	if _, err := s.w.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(chunk)))]); err != nil {
		return err
	}
	_, err := s.w.Write(chunk)
	return err
}

// Len is the number of chunks added.
func (s *Spool) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Each calls fn with every chunk in the order added; a chunk is valid only
// during its call. It may be called more than once.
func (s *Spool) Each(fn func(chunk []byte) error) error {
	if s == nil {
		return nil
	}
	if s.f == nil {
		for _, c := range s.mem {
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	defer s.f.Seek(0, io.SeekEnd)
	r := bufio.NewReaderSize(s.f, 1<<20)
	var buf []byte
	for k := 0; k < s.n; k++ {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("the kept records' temporary file: %w", err)
		}
		if uint64(cap(buf)) < l {
			buf = make([]byte, l)
		}
		buf = buf[:l]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("the kept records' temporary file: %w", err)
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
	return nil
}

// Spilled reports whether the chunks moved to a temporary file.
func (s *Spool) Spilled() bool { return s != nil && s.f != nil }

// Close removes the temporary file, if any.
func (s *Spool) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	name := s.f.Name()
	err := s.f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	s.f, s.w = nil, nil
	return err
}
