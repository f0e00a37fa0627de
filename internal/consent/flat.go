package consent

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// flatStrings reads a JSON object whose values are all strings (or null)
// — a consent line — calling fn for each member with unescaped key and
// value. It refuses anything else with a message for a person; it is the
// fast path of ParseConsentLine, which falls back to encoding/json for the
// message when this refuses.
func flatStrings(s []byte, fn func(key, val []byte, null bool) error) error {
	if !utf8.Valid(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
	}
	str := func() ([]byte, error) {
		if i >= len(s) || s[i] != '"' {
			return nil, errNotFlat
		}
		j := i + 1
		esc := false
		for ; j < len(s) && s[j] != '"'; j++ {
			switch {
			case s[j] == '\\':
				esc = true
				j++
			case s[j] < 0x20:
				return nil, errNotFlat
			}
		}
		if j >= len(s) {
			return nil, errNotFlat
		}
		raw := s[i : j+1]
		i = j + 1
		if !esc {
			return raw[1 : len(raw)-1], nil
		}
		var out string
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, errNotFlat
		}
		return []byte(out), nil
	}
	ws()
	if i >= len(s) || s[i] != '{' {
		return errNotFlat
	}
	i++
	ws()
	if i < len(s) && s[i] == '}' {
		i++
		ws()
		if i != len(s) {
			return errNotFlat
		}
		return nil
	}
	for {
		ws()
		k, err := str()
		if err != nil {
			return err
		}
		ws()
		if i >= len(s) || s[i] != ':' {
			return errNotFlat
		}
		i++
		ws()
		if i+4 <= len(s) && string(s[i:i+4]) == "null" {
			i += 4
			if err := fn(k, nil, true); err != nil {
				return err
			}
		} else {
			v, err := str()
			if err != nil {
				return err
			}
			if err := fn(k, v, false); err != nil {
				return err
			}
		}
		ws()
		if i >= len(s) {
			return errNotFlat
		}
		if s[i] == '}' {
			i++
			ws()
			if i != len(s) {
				return errNotFlat
			}
			return nil
		}
		if s[i] != ',' {
			return errNotFlat
		}
		i++
	}
}

var errNotFlat = fmt.Errorf("not a flat JSON object of strings")
