package web

import (
	"slices"
	"strings"

	"github.com/consentgate/consentgate/internal/gate"
)

// settingView is a setting as the privacy centre words it.
type settingView struct {
	gate.Setting
	Title    string // what the use is, in words
	Headline string // the state in words
	By       string // who decided it and when
	Toggle   bool   // a switch is offered (a choice can change something)
	Next     string // the state flipping the switch records
	Agree    bool   // an extra "agree" is offered: the switch is on by default, and agreeing shares more
	Lines    []string
	GPCNote  string
	// AgreeNote says what agreeing shares (turning an off switch on, or
	// the extra agreement): every kind of data it would let through.
	AgreeNote string
}

// classWords says in plain words who a recipient class is.
var classWords = map[string]string{
	"first_party": "this platform itself",
	"affiliate":   "companies in the same group as this platform",
	"third_party": "other companies (partners)",
}

// purposeWords says in plain words what a purpose is, from its name.
func purposeWords(p string) string {
	return strings.NewReplacer("train_ai_system", "train AI systems", ".generative", " that generate text or images", "_", " ", ".", " – ").Replace(p)
}

// categoryWords says what a kind of data is, from its name.
func categoryWords(c string) string {
	switch c {
	case "user.content.public":
		return "Your public posts"
	case "user.content.private.message":
		return "Your private messages"
	case "user.profile":
		return "Your profile"
	}
	parts := strings.Split(c, ".")
	return "Your " + strings.ReplaceAll(parts[len(parts)-1], "_", " ")
}

// reasonWords says why a use of one kind of data is or is not allowed.
func reasonWords(e gate.Effective) string {
	r := e.Reason
	switch {
	case r == "consent.granted":
		return "used: you agreed"
	case r == "default.granted":
		return "used by default: you never chose"
	case r == "consent.denied":
		return "not used: you refused"
	case r == "default.denied":
		return "not used unless you agree"
	case r == "consent.required:undeclared":
		return "not used unless you agree: the policy never told you about this use"
	case strings.HasPrefix(r, "consent.required:"):
		return "not used unless you agree explicitly (the policy asks for your agreement for this kind of data)"
	case strings.HasPrefix(r, "rule:"):
		return "never used: the policy forbids it (" + strings.TrimPrefix(r, "rule:") + ")"
	}
	return e.Decision + " (" + r + ")"
}

// wordSetting words a setting: its headline from its state, who decided
// it, and a line per recipient and kind of data where they differ.
func wordSetting(s *gate.Setting, words map[string]string) settingView {
	v := settingView{Setting: *s}
	say := func(name string, fallback func(string) string) string {
		if w := words[name]; w != "" {
			return w
		}
		return fallback(name)
	}
	who := say(s.Class, func(c string) string { return classWords[c] })
	if len(s.Recipients) > 0 && s.Class != "first_party" {
		names := make([]string, len(s.Recipients))
		for i, r := range s.Recipients {
			names[i] = say(r, func(r string) string { return r })
		}
		who += " — " + strings.Join(names, ", ")
	}
	what := say(s.Purpose, purposeWords)
	if words[s.Purpose] != "" {
		what = strings.ToLower(what[:1]) + what[1:]
		v.Title = "Your data for " + what + ", by " + who
	} else {
		v.Title = "Use of your data to " + what + ", by " + who
	}
	catWords := func(c string) string { return say(c, categoryWords) }
	switch s.State {
	case gate.OnByDefault:
		v.Headline = "On by default — you never chose."
	case gate.OnAgreed:
		v.Headline = "On: you agreed."
	case gate.OffRefused:
		v.Headline = "Off: you refused."
	case gate.OffByDefault:
		v.Headline = "Off — you never chose, and nothing is used without your agreement."
	case gate.Partly:
		v.Headline = "Partly on: your choices differ between these companies (below)."
		if !s.On {
			v.Headline = "Off: your choices differ between these companies (below)."
		}
	case gate.NotPossible:
		v.Headline = "Not possible"
		switch {
		case slices.Contains(s.RuleTests, "region"):
			v.Headline += " in your region"
		case len(s.RuleTests) > 0 && s.RuleTests[0] != "category" && s.RuleTests[0] != "role":
			v.Headline += " with your " + s.RuleTests[0]
		}
		v.Headline += ": the platform's policy forbids it (" + s.Rule + "), whatever you choose."
	}
	if e := s.ChosenBy; e != nil && s.State == gate.Partly {
		v.By = "Your latest choice: " + e.State + " for " + e.Recipient + ", " + e.At.Time().UTC().Format("2 Jan 2006, 15:04 UTC") + " (" + sourceWords(e.Source) + "). The switch chooses for all of them."
	} else if e != nil {
		v.By = "Your choice of " + e.At.Time().UTC().Format("2 Jan 2006, 15:04 UTC") + " (" + sourceWords(e.Source) + ")."
	} else if e := s.Uncovered; e != nil {
		v.By = "Your agreement of " + e.At.Time().UTC().Format("2 Jan 2006") + " was given before the policy named these companies, so it does not reach them; this is the platform's default."
	} else if s.State != gate.NotPossible {
		v.By = "You have not chosen; this is the platform's default."
	}
	v.Toggle = s.CanAgree || s.CanRefuse
	v.Next = "granted"
	if s.On {
		v.Next = "denied"
	}
	v.Agree = s.On && s.CanAgree
	if g := s.GPC; g != nil {
		v.GPCNote = "A Global Privacy Control signal from your browser was recorded on " + g.At.Time().UTC().Format("2 Jan 2006") + "; you turned this on afterwards, and that choice stands."
	}
	// What agreeing would share that is not shared now: what turning an
	// off switch on agrees to, or what the extra agreement adds.
	if s.CanAgree && (!s.On || v.Agree) {
		var more []string
		seen := map[string]bool{}
		for k, e := range s.IfAgreed {
			if e.Decision == "allow" && s.Entries[k].Decision != "allow" && !seen[e.Category] {
				seen[e.Category] = true
				w := catWords(e.Category)
				more = append(more, strings.ToLower(w[:1])+w[1:])
			}
		}
		switch {
		case len(more) == 0:
		case v.Agree:
			v.AgreeNote = "Agreeing also lets them use " + strings.Join(more, ", ") + "."
		default:
			v.AgreeNote = "Turning it on agrees to the use of " + strings.Join(more, ", ") + "."
		}
	}
	// One line per kind of data (per recipient when they differ).
	same := map[string]string{}
	for _, e := range s.Entries {
		same[e.Category] += e.Reason + "|"
	}
	seen := map[string]bool{}
	for _, e := range s.Entries {
		key := e.Category
		if strings.Count(same[e.Category], "|") > 1 && strings.Trim(strings.ReplaceAll(same[e.Category], e.Reason+"|", ""), "|") != "" {
			key += " " + e.Recipient
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		line := catWords(e.Category)
		if key != e.Category {
			line += " (" + say(e.Recipient, func(r string) string { return r }) + ")"
		}
		v.Lines = append(v.Lines, line+": "+reasonWords(e))
	}
	return v
}

func sourceWords(s string) string {
	switch s {
	case "settings":
		return "here, in your settings"
	case "gpc":
		return "a Global Privacy Control signal of your browser"
	case "support":
		return "recorded by support"
	case "import":
		return "imported"
	case "api":
		return "recorded by the platform"
	}
	return s
}
