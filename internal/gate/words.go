package gate

import (
	"strings"

	"github.com/consentgate/consentgate/internal/policy"
)

// Words says in words what a policy's names mean to people: the
// version's `describe` entry (SPEC §2.1) when it gives one, else words
// made from the name. Every page, notice and record a person reads words
// names through it, so that one name reads the same everywhere.
type Words map[string]string

// WordsOf is the words of a version (nil: none described).
func WordsOf(doc *policy.Document) Words {
	if doc == nil {
		return Words{}
	}
	return Words(doc.Describe)
}

// Described reports whether the policy itself gives words for a name.
func (w Words) Described(name string) bool { return w[name] != "" }

// Purpose is what a purpose is, as a noun phrase starting with a capital
// ("Training AI models that write text", "Train AI systems").
func (w Words) Purpose(p string) string {
	if s := w[p]; s != "" {
		return s
	}
	if p == "" || p == "*" {
		return "Every use"
	}
	s := strings.NewReplacer("train_ai_system", "training AI systems", ".generative", " that generate text or images",
		"provide_service", "running the service", "_", " ", ".", ": ").Replace(p)
	return capital(s)
}

// Recipient is who a recipient id, a class or "*" is, lower case
// unless a name ("Partner X, an AI company", "other companies (partners)").
func (w Words) Recipient(r string) string {
	if s := w[r]; s != "" {
		return s
	}
	switch r {
	case "", "*":
		return "everyone"
	case "first_party":
		return "this platform itself"
	case "affiliate":
		return "companies in the same group as this platform"
	case "third_party":
		return "other companies (partners)"
	}
	return r
}

// Category is what a kind of data is ("Your private messages").
func (w Words) Category(c string) string {
	if s := w[c]; s != "" {
		return s
	}
	switch c {
	case "user.content.public":
		return "Your public posts"
	case "user.content.private.message":
		return "Your private messages"
	case "user.content.private":
		return "Your private content"
	case "user.content":
		return "Everything you post or send"
	case "user.profile":
		return "Your profile"
	}
	parts := strings.Split(c, ".")
	return "Your " + strings.ReplaceAll(parts[len(parts)-1], "_", " ")
}

// Source says how a consent event was recorded.
func (Words) Source(s string) string {
	switch s {
	case "settings":
		return "by you, in this privacy centre"
	case "gpc":
		return "by a Global Privacy Control signal of your browser"
	case "support":
		return "by the platform's support, at your request"
	case "import":
		return "imported from the platform's earlier records"
	case "api":
		return "by the platform, from one of its apps"
	}
	return s
}

// Lower is a purpose's or a category's words inside a sentence: the
// first letter in lower case unless the first word is an acronym ("AI").
// Recipients' words are names or phrases as the policy wrote them and
// are never changed.
func Lower(s string) string {
	if s == "" {
		return s
	}
	first, _, _ := strings.Cut(s, " ")
	if len(first) > 1 && strings.ToUpper(first) == first {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
