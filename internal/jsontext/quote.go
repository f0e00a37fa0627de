package jsontext

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// plainWord reports whether none of 8 bytes (little-endian in x) needs
// escaping in a JSON string: none below 0x20, none '"' or '\\', none
// from 0x80 (the start of a multi-byte UTF-8 sequence, checked slowly).
func plainWord(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - lo) & ^v & hi }
	return (x-lo*0x20)&^x&hi|hasZero(x^(lo*'"'))|hasZero(x^(lo*'\\'))|x&hi == 0
}

// AppendString appends s as a JSON string: quotes, backslashes and
// control characters escaped (\n, \r, \t, else \u00XX), nothing else — no
// HTML escaping — and invalid UTF-8 as U+FFFD. Strings that need no escape
// are found 8 bytes at a time. (RFC 8785's canonical form, which escapes
// \b and \f short, is record's.)
func AppendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	plain := true
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if !plainWord(x) {
			plain = false
			break
		}
	}
	for ; plain && i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return append(append(dst, s...), '"')
	}
	return appendEscaped(dst, s)
}

// appendEscaped appends s escaped as in a JSON string, and its closing
// quote.
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
