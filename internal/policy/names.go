package policy

import "strings"

// IsAncestorOrSelf reports whether a is b or one of b's ancestors in a dotted
// hierarchy, comparing whole segments: train_ai_system is an ancestor of
// train_ai_system.generative but not of train_ai_system_v2.
func IsAncestorOrSelf(a, b string) bool {
	if a == b {
		return true
	}
	return len(b) > len(a) && b[len(a)] == '.' && b[:len(a)] == a
}

// Parent returns the parent of a dotted name and false for a root.
func Parent(name string) (string, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", false
	}
	return name[:i], true
}

// validName reports whether s is a dotted name of non-empty segments made of
// letters, digits, '_' and '-'.
func validName(s string, dotted bool) bool {
	if s == "" {
		return false
	}
	seg := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			seg++
		case c == '.' && dotted:
			if seg == 0 {
				return false
			}
			seg = 0
		default:
			return false
		}
	}
	return seg > 0
}

// withAncestors adds every name and its ancestors to set, in order.
func withAncestors(names []string) (set map[string]bool, all []string) {
	set = map[string]bool{}
	for _, n := range names {
		var chain []string
		for x, ok := n, true; ok; x, ok = Parent(x) {
			chain = append(chain, x)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			if !set[chain[i]] {
				set[chain[i]] = true
				all = append(all, chain[i])
			}
		}
	}
	return set, all
}
