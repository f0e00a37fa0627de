package consent

import (
	"fmt"
	"unicode/utf8"
)

// MaxIDBytes is the longest id consentgate takes, in bytes.
const MaxIDBytes = 256

// ValidateID checks an id — a subject's, or any id a route or a data file
// names — by the one rule the API and the imports share: non-empty, valid
// UTF-8, at most MaxIDBytes bytes, with no control character (C0, DEL,
// C1: NUL and newlines among them) and no bidirectional-text control
// (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which would let an id
// print as another. The error says what is wrong, for a person.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("an id may not be empty")
	case len(id) > MaxIDBytes:
		return fmt.Errorf("an id is at most %d bytes; this one has %d", MaxIDBytes, len(id))
	}
	for i := 0; i < len(id); {
		c := id[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("an id may not hold a control character (%U at byte %d)", rune(c), i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(id[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Errorf("an id must be valid UTF-8 (byte %d is not)", i)
		case r >= 0x80 && r <= 0x9f:
			return fmt.Errorf("an id may not hold a control character (%U at byte %d)", r, i)
		case r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			return fmt.Errorf("an id may not hold a bidirectional-text control (%U at byte %d)", r, i)
		}
		i += n
	}
	return nil
}
