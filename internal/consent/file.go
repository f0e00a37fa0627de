package consent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"

	"github.com/consentgate/consentgate/internal/timestamp"
)

// MaxLine is the longest line the data files may hold.
const MaxLine = 16 << 20

// LineError is a problem with one line of an input file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// EachLine calls fn for every line of r that is not blank, with its 1-based
// number; a leading byte-order mark and a trailing \r are dropped.
func EachLine(file string, r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine+2)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &LineError{file, n + 1, fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// ParseSubjectLine reads one line of a subjects file (SPEC §3): it is
// ReadSubjectChange then Event(now), so `at` may not be after now.
func ParseSubjectLine(line []byte, now timestamp.Time) (SubjectEvent, error) {
	c, err := ReadSubjectChange(line)
	if err != nil {
		return SubjectEvent{}, err
	}
	return c.Event(now)
}

// ParseConsentLine reads one line of a consent file (SPEC §3): it is
// ReadChoice then Event(now, "import"), so a missing source is "import"
// and a missing recipient or "*" means every recipient.
func ParseConsentLine(line []byte, now timestamp.Time) (Event, error) {
	var f choiceFields // ReadChoice then Event, without the pointers
	if err := f.read(line, nil); err != nil {
		return Event{}, err
	}
	return f.event(now, "import")
}

// lineErrors gathers the bad lines of a file; the file is refused whole.
type lineErrors struct {
	first *LineError
	more  int
}

func (l *lineErrors) add(e *LineError) {
	if l.first == nil {
		l.first = e
	} else {
		l.more++
	}
}

func (l *lineErrors) err() error {
	if l.first == nil {
		return nil
	}
	if l.more > 0 {
		return fmt.Errorf("%w (and %d more bad lines); nothing was imported", l.first, l.more)
	}
	return fmt.Errorf("%w; nothing was imported", l.first)
}

// fileLines yields the parsed lines of a file, one at a time. At the first
// bad line it stops yielding values but reads on to count the other bad
// lines, then yields one error naming the first (the caller, storing in one
// transaction, then stores nothing).
func fileLines[T any](file string, parse func([]byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		f, err := os.Open(file)
		if err != nil {
			yield(zero, err)
			return
		}
		defer f.Close()
		var bad lineErrors
		stopped := false
		err = EachLine(file, f, func(n int, line []byte) error {
			v, err := parse(line)
			if err != nil {
				bad.add(&LineError{File: file, Line: n, Msg: err.Error()})
				return nil
			}
			if bad.first == nil && !yield(v, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if stopped {
			return
		}
		if err == nil {
			err = bad.err()
		}
		if err != nil {
			yield(zero, err)
		}
	}
}

var errStop = errors.New("stopped")

// SubjectsFile yields the events of a subjects file (SPEC §3); a bad line
// ends it with a *LineError naming the line (and counting the others).
func SubjectsFile(file string, now timestamp.Time) iter.Seq2[SubjectEvent, error] {
	return fileLines(file, func(line []byte) (SubjectEvent, error) { return ParseSubjectLine(line, now) })
}

// ConsentFile yields the events of a consent file; check validates each
// event against the published policies.
func ConsentFile(file string, now timestamp.Time, check func(*Event) error) iter.Seq2[Event, error] {
	in := interner{}
	return fileLines(file, func(line []byte) (Event, error) {
		var f choiceFields
		if err := f.read(line, in); err != nil {
			return Event{}, err
		}
		e, err := f.event(now, "import")
		if err == nil && check != nil {
			err = check(&e)
		}
		return e, err
	})
}

// Collect gathers what a file iterator yields, or its error.
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ReadSubjectsFile reads a whole subjects file into memory.
func ReadSubjectsFile(file string, now timestamp.Time) ([]SubjectEvent, error) {
	return Collect(SubjectsFile(file, now))
}

// ReadConsentFile reads a whole consent file into memory.
func ReadConsentFile(file string, now timestamp.Time, check func(*Event) error) ([]Event, error) {
	return Collect(ConsentFile(file, now, check))
}
