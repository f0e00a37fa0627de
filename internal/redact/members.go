package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Members finds mentions of platform members in text: their @handles and
// their display names. It is a multi-pattern matcher over words — the text
// is split into words once, and each handle, and each run of two to four
// words, is one hash lookup — so its cost grows with the text, not with the
// number of members, and no regular expression is involved. Matching
// ignores case. A display name must have at least two words (a lone first
// name would match far too much); a handle starts with @.
type Members struct {
	handles  map[string][]int32
	names    map[string][]int32
	maxWords int
}

// NewMembers starts an empty set.
func NewMembers() *Members {
	return &Members{handles: map[string][]int32{}, names: map[string][]int32{}}
}

// Add registers a member (by its position in the view) with its handle and
// display name; either may be empty.
func (m *Members) Add(subject int32, handle, name string) {
	if h := strings.ToLower(strings.TrimSpace(handle)); len(h) > 1 {
		if h[0] != '@' {
			h = "@" + h
		}
		m.handles[h] = append(m.handles[h], subject)
	}
	words := strings.Fields(strings.ToLower(name))
	if len(words) >= 2 && len(words) <= 4 {
		key := strings.Join(words, " ")
		m.names[key] = append(m.names[key], subject)
		m.maxWords = max(m.maxWords, len(words))
	}
}

// Len is the number of distinct handles and names.
func (m *Members) Len() int { return len(m.handles) + len(m.names) }

type word struct {
	start, end int
	handle     bool
	joined     bool // separated from the previous word by spaces only
}

func wordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := 0; c < utf8.RuneSelf; c++ {
		t[c] = c == '_' || c == '-' || c == '\'' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return
}()

// next decodes the rune at text[i], cheaply for ASCII.
func next(text string, i int) (rune, int) {
	if c := text[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(text[i:])
}

// detect appends the spans of mentions whose members deny returns true
// for (any of the members with that handle or name).
func (m *Members) detect(text string, deny func(subject int32) bool, words []word, key []byte, dst []Span) ([]Span, []word, []byte) {
	words = words[:0]
	spaceOnly := false
	for i := 0; i < len(text); {
		r, size := next(text, i)
		handle := r == '@' && i+1 < len(text)
		if !handle && !wordRune(r) {
			spaceOnly = spaceOnly && r == ' '
			if r != ' ' {
				spaceOnly = false
			}
			i += size
			continue
		}
		st := i
		i += size
		for i < len(text) {
			r, size := next(text, i)
			if !wordRune(r) {
				break
			}
			i += size
		}
		end := i
		if strings.HasSuffix(text[st:end], "'s") && end-st > 2 {
			end -= 2 // a possessive: Ana Silva's, @ana's
		}
		for end > st+1 && (text[end-1] == '.' || text[end-1] == '\'' || text[end-1] == '-') {
			end-- // trailing punctuation is not part of the word
		}
		words = append(words, word{st, end, handle, spaceOnly && len(words) > 0})
		spaceOnly = true
	}
	lower := func(k []byte, s string) []byte {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return append(k, strings.ToLower(s)...)
			}
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			k = append(k, c)
		}
		return k
	}
	denied := func(subjects []int32) bool {
		for _, s := range subjects {
			if deny(s) {
				return true
			}
		}
		return false
	}
	last := -1 // end of the last span, so that spans do not overlap
	for i, w := range words {
		if w.start < last {
			continue
		}
		if w.handle {
			key = lower(key[:0], text[w.start:w.end])
			if subs, ok := m.handles[string(key)]; ok && denied(subs) {
				dst = append(dst, Span{w.start, w.end, Member})
				last = w.end
			}
			continue
		}
		// The longest name that starts here.
		for n := min(m.maxWords, len(words)-i); n >= 2; n-- {
			ok := true
			for k := i + 1; k < i+n; k++ {
				ok = ok && words[k].joined && !words[k].handle
			}
			if !ok {
				continue
			}
			key = lower(key[:0], text[w.start:w.end])
			for k := i + 1; k < i+n; k++ {
				key = lower(append(key, ' '), text[words[k].start:words[k].end])
			}
			if subs, found := m.names[string(key)]; found && denied(subs) {
				dst = append(dst, Span{w.start, words[i+n-1].end, Member})
				last = words[i+n-1].end
				break
			}
		}
	}
	return dst, words, key
}
