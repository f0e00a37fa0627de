// Package redact owns finding and removing personal data of other people
// in the text of records that are otherwise allowed (issue 7): detectors
// for e-mail addresses, phone numbers, payment cards, IBANs, IP addresses,
// URLs and US social security numbers — scanners with checksums where one
// exists, never backtracking regular expressions — and the operators that
// replace, hash or drop what they find.
package redact

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Kind is what a detector finds.
type Kind uint8

// The detectors.
const (
	Email Kind = iota
	Phone
	Card
	IBAN
	IP
	URL
	SSN
	Member // mentions of members who do not allow the export (see Members)
	numKinds
)

var kindNames = [...]string{"email", "phone", "card", "iban", "ip", "url", "ssn", "member"}

func (k Kind) String() string { return kindNames[k] }

// ParseKind reads a detector name.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Kinds lists every detector.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// Span is a finding: text[Start:End] is personal data of kind Kind.
type Span struct {
	Start, End int
	Kind       Kind
}

func (s Span) String() string { return fmt.Sprintf("%s[%d:%d]", s.Kind, s.Start, s.End) }

// Detect appends to dst the spans of the enabled kinds found in text, in
// order and without overlap (a longer finding wins over one it overlaps;
// a URL over the address inside it).
func Detect(text string, enabled [numKinds]bool, dst []Span) []Span {
	// Most text holds no digit, no @ and no colon: skip the detectors that
	// could not match.
	var digit, at, colon, dot bool
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c == '@':
			at = true
		case c == ':':
			colon = true
		case c == '.':
			dot = true
		}
	}
	possible := [numKinds]bool{Email: at && dot, Phone: digit, Card: digit, IBAN: digit, IP: digit && dot || colon, URL: dot, SSN: digit}
	start := len(dst)
	for k := Kind(0); k < numKinds; k++ {
		if enabled[k] && possible[k] && detectors[k] != nil {
			dst = detectors[k](text, dst)
		}
	}
	return append(dst[:start], mergeSpans(dst[start:])...)
}

// mergeSpans orders spans and removes overlaps, a longer span winning, in
// place.
func mergeSpans(found []Span) []Span {
	if len(found) < 2 {
		return found
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Start != found[j].Start {
			return found[i].Start < found[j].Start
		}
		return found[i].End-found[i].Start > found[j].End-found[j].Start
	})
	out := found[:0]
	for _, s := range found {
		if n := len(out); n > 0 && s.Start < out[n-1].End {
			if s.End-s.Start > out[n-1].End-out[n-1].Start {
				out[n-1] = s
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// detectors are the text-only detectors; Member needs the store and is run
// by the Redactor.
var detectors = [numKinds]func(string, []Span) []Span{detectEmail, detectPhone, detectCard, detectIBAN, detectIP, detectURL, detectSSN, nil}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool  { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool  { return isDigit(c) || isAlpha(c) }
func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func wordByte(c byte) bool { return isAlnum(c) || c == '_' || c >= 0x80 }

// boundary reports whether text[i] (or the edge) does not continue a word
// or a number.
func boundary(text string, i int) bool {
	return i < 0 || i >= len(text) || !wordByte(text[i])
}

// ----- e-mail ---------------------------------------------------------------

func emailLocal(c byte) bool {
	return isAlnum(c) || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0
}

func detectEmail(text string, dst []Span) []Span {
	for at := strings.IndexByte(text, '@'); at >= 0; {
		s := at
		for s > 0 && emailLocal(text[s-1]) {
			s--
		}
		for s < at && text[s] == '.' {
			s++
		}
		e := at + 1
		labels, labelLen, lastLabelAlpha := 0, 0, true
		for e < len(text) {
			c := text[e]
			switch {
			case isAlnum(c) || c == '-':
				labelLen++
				lastLabelAlpha = lastLabelAlpha && isAlpha(c)
				e++
				continue
			case c == '.' && labelLen > 0 && e+1 < len(text) && isAlnum(text[e+1]):
				labels++
				labelLen, lastLabelAlpha = 0, true
				e++
				continue
			}
			break
		}
		if labelLen > 0 {
			labels++
		}
		if s < at && at-s <= 64 && text[at-1] != '.' && labels >= 2 && labelLen >= 2 && lastLabelAlpha && boundary(text, s-1) {
			dst = append(dst, Span{s, e, Email})
		}
		next := strings.IndexByte(text[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return dst
}

// ----- URLs -----------------------------------------------------------------

// urlStart finds the next "http://", "https://" or "www." (either case)
// at or after i, or -1.
func urlStart(text string, i int) int {
	best := -1
	if k := strings.Index(text[i:], "://"); k >= 0 {
		j := i + k
		switch {
		case j-5 >= i && strings.EqualFold(text[j-5:j], "https"):
			best = j - 5
		case j-4 >= i && strings.EqualFold(text[j-4:j], "http"):
			best = j - 4
		default:
			if next := urlStart(text, j+3); next >= 0 {
				best = next
			}
		}
	}
	for _, w := range []string{"www.", "WWW."} {
		if k := strings.Index(text[i:], w); k >= 0 && (best < 0 || i+k < best) {
			best = i + k
		}
	}
	return best
}

func detectURL(text string, dst []Span) []Span {
	for i := 0; i < len(text); {
		j := urlStart(text, i)
		if j < 0 {
			break
		}
		if !boundary(text, j-1) {
			i = j + 1
			continue
		}
		e := j
		parens := 0
		for e < len(text) {
			c := text[e]
			if c <= ' ' || c == '"' || c == '<' || c == '>' || c == '`' {
				break
			}
			if c == '(' {
				parens++
			} else if c == ')' {
				if parens == 0 {
					break
				}
				parens--
			}
			e++
		}
		for e > j && strings.IndexByte(".,;:!?'", text[e-1]) >= 0 {
			e--
		}
		host := text[j:e]
		if k := strings.Index(host, "://"); k >= 0 {
			host = host[k+3:]
		}
		if strings.Contains(host, ".") && len(host) > 4 {
			dst = append(dst, Span{j, e, URL})
		}
		i = max(e, j+1)
	}
	return dst
}

// ----- digits with separators -----------------------------------------------

// digitRun reads digits from text[i] with single separators from seps
// between them, stopping at anything else; it returns the end and the
// digits.
func digitRun(text string, i int, seps string, buf []byte) (int, []byte) {
	buf = buf[:0]
	for i < len(text) {
		c := text[i]
		if isDigit(c) {
			buf = append(buf, c)
			i++
			continue
		}
		if strings.IndexByte(seps, c) >= 0 && i+1 < len(text) && isDigit(text[i+1]) && len(buf) > 0 {
			i++
			continue
		}
		break
	}
	return i, buf
}

// ----- payment cards (Luhn) -------------------------------------------------

func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// cardPrefix accepts the issuer ranges of the big networks.
func cardPrefix(d []byte) bool {
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] == '4': // Visa
		return len(d) == 13 || len(d) == 16 || len(d) == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return len(d) == 16
	case p2 == 34 || p2 == 37: // Amex
		return len(d) == 15
	case p4 == 6011 || p2 == 65 || p4 >= 6440 && p4 <= 6499: // Discover
		return len(d) >= 16
	case p4 >= 3528 && p4 <= 3589: // JCB
		return len(d) >= 16
	case p2 == 36 || p2 == 38 || p4 >= 3000 && p4 <= 3059: // Diners
		return len(d) >= 14
	}
	return false
}

func detectCard(text string, dst []Span) []Span {
	var buf [32]byte
	for i := 0; i < len(text); i++ {
		if !isDigit(text[i]) || !boundary(text, i-1) {
			continue
		}
		e, d := digitRun(text, i, " -", buf[:0])
		if len(d) >= 13 && len(d) <= 19 && boundary(text, e) && cardPrefix(d) && luhn(d) {
			dst = append(dst, Span{i, e, Card})
		}
		i = e
	}
	return dst
}

// ----- US social security numbers --------------------------------------------

func detectSSN(text string, dst []Span) []Span {
	for i := 0; i+11 <= len(text); i++ {
		if !isDigit(text[i]) || !boundary(text, i-1) {
			continue
		}
		s := text[i : i+11]
		sep := s[3]
		if (sep != '-' && sep != ' ') || s[6] != sep || !boundary(text, i+11) {
			continue
		}
		ok := true
		for _, k := range []int{0, 1, 2, 4, 5, 7, 8, 9, 10} {
			ok = ok && isDigit(s[k])
		}
		if !ok {
			continue
		}
		area, group, serial := s[0:3], s[4:6], s[7:11]
		if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
			continue
		}
		dst = append(dst, Span{i, i + 11, SSN})
		i += 10
	}
	return dst
}

// ----- phone numbers ----------------------------------------------------------

func detectPhone(text string, dst []Span) []Span {
	var buf [32]byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '+' && i+1 < len(text) && text[i+1] >= '1' && text[i+1] <= '9' && boundary(text, i-1):
			// International: + then 8 to 15 digits with spaces, dashes, dots or one pair of parentheses.
			e, n := i+1, 0
			for e < len(text) {
				switch ch := text[e]; {
				case isDigit(ch):
					n++
					e++
					continue
				case (ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')') && e+1 < len(text) &&
					(isDigit(text[e+1]) || text[e+1] == '(' || ch == ')' && text[e+1] == ' '):
					e++
					continue
				}
				break
			}
			for e > i && !isDigit(text[e-1]) {
				e--
			}
			if n >= 8 && n <= 15 && boundary(text, e) {
				dst = append(dst, Span{i, e, Phone})
				i = e
			}
		case c == '(' && i+14 <= len(text) && boundary(text, i-1):
			// (555) 123-4567
			s := text[i : i+14]
			if isDigits(s[1:4]) && s[4] == ')' && s[5] == ' ' && isDigits(s[6:9]) && (s[9] == '-' || s[9] == ' ' || s[9] == '.') && isDigits(s[10:14]) && boundary(text, i+14) {
				dst = append(dst, Span{i, i + 14, Phone})
				i += 13
			}
		case isDigit(c) && boundary(text, i-1) && (i == 0 || text[i-1] != '+'):
			e, d := digitRun(text, i, " -.", buf[:0])
			groups := digitGroups(text[i:e])
			switch {
			// US: 555-123-4567, 555.123.4567, 555 123 4567 (one kind of separator)
			case len(d) == 10 && len(groups) == 3 && groups[0] == 3 && groups[1] == 3 && groups[2] == 4 && oneSeparator(text[i:e]) && d[0] >= '2':
				dst = append(dst, Span{i, e, Phone})
			// UK: 07700 900123, 020 7946 0958
			case d[0] == '0' && len(d) == 11 && (len(groups) == 2 && groups[0] == 5 || len(groups) == 3 && groups[0] == 3 && groups[1] == 4) && oneSeparator(text[i:e]) && d[1] != '0':
				dst = append(dst, Span{i, e, Phone})
			}
			i = e
		}
	}
	return dst
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// digitGroups returns the lengths of the digit groups of a run.
func digitGroups(s string) []int {
	var g []int
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		} else {
			g = append(g, n)
			n = 0
		}
	}
	return append(g, n)
}

func oneSeparator(s string) bool {
	var sep byte
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			if sep != 0 && s[i] != sep {
				return false
			}
			sep = s[i]
		}
	}
	return true
}

// ----- IBAN (ISO 13616, mod 97) ------------------------------------------------

// ibanLength is the length of each country's IBAN.
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
	"CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
	"FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
	"IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
	"LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
	"PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
	"SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

func ibanValid(s []byte) bool {
	// Move the first four characters to the end, letters to numbers, mod 97.
	rem := 0
	add := func(c byte) {
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A') + 10) % 97
		}
	}
	for _, c := range s[4:] {
		add(c)
	}
	for _, c := range s[:4] {
		add(c)
	}
	return rem == 1
}

func detectIBAN(text string, dst []Span) []Span {
	var buf [40]byte
	for i := 0; i+15 <= len(text); i++ {
		if !isUpper(text[i]) || !isUpper(text[i+1]) || !isDigit(text[i+2]) || !isDigit(text[i+3]) || !boundary(text, i-1) {
			continue
		}
		want, ok := ibanLength[text[i:i+2]]
		if !ok {
			continue
		}
		b := buf[:0]
		e := i
		for e < len(text) && len(b) < want {
			c := text[e]
			if isDigit(c) || isUpper(c) {
				b = append(b, c)
				e++
			} else if c == ' ' && e+1 < len(text) && isAlnum(text[e+1]) && len(b)%4 == 0 {
				e++
			} else {
				break
			}
		}
		if len(b) == want && boundary(text, e) && ibanValid(b) {
			dst = append(dst, Span{i, e, IBAN})
			i = e - 1
		}
	}
	return dst
}

// ----- IP addresses ----------------------------------------------------------

// versionBefore reports whether the text before i reads like a version
// label ("v1.2.3.4", "version 1.2.3.4"), where dotted numbers are not
// addresses.
func versionBefore(text string, i int) bool {
	t := strings.TrimRight(text[:i], " ")
	w := len(t)
	for w > 0 && isAlpha(t[w-1]) {
		w--
	}
	switch strings.ToLower(t[w:]) {
	case "v", "ver", "version", "release", "build":
		return true
	}
	return false
}

func detectIP(text string, dst []Span) []Span {
	// IPv4: four octets, no leading zeros, nothing dotted or numeric around.
	for i := 0; i < len(text); i++ {
		if !isDigit(text[i]) || !boundary(text, i-1) || i > 0 && text[i-1] == '.' {
			continue
		}
		e, octets, ok := i, 0, true
		for octets < 4 {
			s := e
			for e < len(text) && isDigit(text[e]) && e-s < 4 {
				e++
			}
			o := text[s:e]
			if len(o) == 0 || len(o) > 3 || len(o) > 1 && o[0] == '0' || atoi(o) > 255 {
				ok = false
				break
			}
			octets++
			if octets < 4 {
				if e >= len(text) || text[e] != '.' {
					ok = false
					break
				}
				e++
			}
		}
		if ok && boundary(text, e) && !(e+1 < len(text) && text[e] == '.' && isDigit(text[e+1])) && !versionBefore(text, i) {
			dst = append(dst, Span{i, e, IP})
			i = e
		}
	}
	// IPv6: runs of hex digits, colons and dots with at least two colons,
	// checked by the standard parser.
	for i := 0; i < len(text); i++ {
		if !(isHex(text[i]) || text[i] == ':') || !boundary(text, i-1) {
			continue
		}
		e, colons := i, 0
		for e < len(text) && (isHex(text[e]) || text[e] == ':' || text[e] == '.') {
			if text[e] == ':' {
				colons++
			}
			e++
		}
		cand := strings.TrimRight(text[i:e], ".")
		if colons >= 2 && len(cand) >= 6 && boundary(text, i+len(cand)) {
			if a, err := netip.ParseAddr(cand); err == nil && a.Is6() && !a.Is4In6() || err == nil && a.Is4In6() {
				dst = append(dst, Span{i, i + len(cand), IP})
			}
		}
		i = e
	}
	return dst
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
