package web

import (
	"slices"
	"strconv"
	"strings"

	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// The privacy centre's words. Every name is said through gate.Words (the
// policy's describe, else words made from the name), every state comes
// from the application's answer; this file only puts them in sentences.

// settingView is a setting as the privacy centre words it.
type settingView struct {
	gate.Setting
	ID       string // the switch's element id
	Title    string // what the use is, in words (the switch's name)
	Who      string // who gets it
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
	Saved     string // the saved message, on the setting just changed
}

// group is the settings of one recipient class: who gets the data, then
// one setting per purpose.
type group struct {
	Class    string
	Who      string
	Settings []settingView
}

func when(t timestamp.Time) string { return t.Time().UTC().Format("2 Jan 2006, 15:04 UTC") }
func day(t timestamp.Time) string  { return t.Time().UTC().Format("2 Jan 2006") }

// whoOf names a recipient class and, beyond the platform itself, its
// recipients.
func whoOf(w gate.Words, class string, recipients []string) string {
	who := w.Recipient(class)
	if len(recipients) > 0 && class != "first_party" {
		var names []string
		for _, r := range recipients {
			if n := w.Recipient(r); n != who {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return who
		}
		who += ": " + strings.Join(names, "; ")
	}
	return who
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
		return "not used unless you agree explicitly: the policy asks for your agreement for this kind of data"
	case strings.HasPrefix(r, "rule:"):
		return "never used: the policy forbids it"
	}
	return e.Decision + " (" + r + ")"
}

// wordSetting words a setting: its headline from its state, who decided
// it, and a line per kind of data (per recipient where they differ).
func wordSetting(s *gate.Setting, w gate.Words, region string) settingView {
	v := settingView{Setting: *s, ID: "t-" + s.Purpose + "-" + s.Class}
	v.Title = w.Purpose(s.Purpose)
	v.Who = whoOf(w, s.Class, s.Recipients)
	switch s.State {
	case gate.OnByDefault:
		v.Headline = "On by default: you never chose."
	case gate.OnAgreed:
		v.Headline = "On: you agreed."
	case gate.OffRefused:
		v.Headline = "Off: you refused."
	case gate.OffByDefault:
		v.Headline = "Off: you never chose, and nothing is used without your agreement."
	case gate.Partly:
		v.Headline = "Partly on: your choices differ between these companies (below)."
		if !s.On {
			v.Headline = "Off: your choices differ between these companies (below)."
		}
	case gate.NotPossible:
		v.Headline = "Not possible"
		switch {
		case slices.Contains(s.RuleTests, "region") && region == "":
			v.Headline += " while the platform does not know your region"
		case slices.Contains(s.RuleTests, "region"):
			v.Headline += " in your region"
		case len(s.RuleTests) > 0 && s.RuleTests[0] != "category" && s.RuleTests[0] != "role":
			v.Headline += " with your " + s.RuleTests[0]
		}
		v.Headline += ": the platform's policy forbids it, whatever you choose."
	}
	if e := s.ChosenBy; e != nil && s.State == gate.Partly {
		v.By = "Your latest choice: " + stateWords(e.State) + " for " + w.Recipient(e.Recipient) + ", " + when(e.At) + ", " + w.Source(e.Source) + ". The switch chooses for all of them."
	} else if e != nil {
		v.By = "Recorded on " + when(e.At) + ", " + w.Source(e.Source) + "."
	} else if e := s.Uncovered; e != nil {
		v.By = "Your agreement of " + day(e.At) + " was given before the policy named these companies, so it does not reach them; this is the platform's default."
	}
	v.Toggle = s.CanAgree || s.CanRefuse
	v.Next = "granted"
	if s.On {
		v.Next = "denied"
	}
	v.Agree = s.On && s.CanAgree
	if g := s.GPC; g != nil {
		v.GPCNote = "Your browser's Global Privacy Control signal of " + day(g.At) + " refused this; you turned it on afterwards, and that choice stands."
	}
	// What agreeing would share that is not shared now (the application's
	// AgreeAdds): what turning an off switch on agrees to, or what the
	// extra agreement adds.
	if s.CanAgree && (!s.On || v.Agree) && len(s.AgreeAdds) > 0 {
		more := make([]string, len(s.AgreeAdds))
		for i, c := range s.AgreeAdds {
			more[i] = gate.Lower(w.Category(c))
		}
		if v.Agree {
			v.AgreeNote = "Agreeing also lets " + v.Who + " use " + strings.Join(more, ", ") + "."
		} else {
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
		line := w.Category(e.Category)
		if key != e.Category {
			line += " (" + w.Recipient(e.Recipient) + ")"
		}
		v.Lines = append(v.Lines, line+": "+reasonWords(e))
	}
	return v
}

// stateWords says a stored choice.
func stateWords(s string) string {
	switch s {
	case "granted":
		return "agreed"
	case "denied":
		return "refused"
	}
	return "never chose"
}

// groups orders the settings by who gets the data: the platform itself,
// its group, other companies.
func groups(w gate.Words, settings []gate.Setting, region string, saved savedChoice) []group {
	var out []group
	for i := range settings {
		s := &settings[i]
		v := wordSetting(s, w, region)
		if saved.purpose == s.Purpose && saved.class == s.Class {
			v.Saved = savedWords(v, saved)
		}
		k := slices.IndexFunc(out, func(g group) bool { return g.Class == s.Class })
		if k < 0 {
			out = append(out, group{Class: s.Class, Who: v.Who})
			k = len(out) - 1
		}
		out[k].Settings = append(out[k].Settings, v)
	}
	slices.SortStableFunc(out, func(a, b group) int { return classRank(a.Class) - classRank(b.Class) })
	return out
}

func classRank(c string) int {
	switch c {
	case "first_party":
		return 0
	case "affiliate":
		return 1
	}
	return 2
}

// savedChoice is the choice the page was reloaded after.
type savedChoice struct {
	purpose, class, state string
	at                    timestamp.Time
}

// savedWords says what was saved and what it does now.
func savedWords(v settingView, c savedChoice) string {
	did := "agreed to"
	if c.state == "denied" {
		did = "refused"
	}
	return "Saved at " + c.at.Time().UTC().Format("15:04 UTC") + ": you " + did + " " + gate.Lower(v.Title) + " by " + v.Who + ". The setting now reads: “" + v.Headline + "”" +
		" It applies from that moment on, to every dataset decided as of then or later."
}

// usesView is one kind of data and what it is used for now, in words.
type usesView struct {
	Category string
	Uses     []string
}

// sharingWords words what is shared now, kind of data by kind.
func sharingWords(w gate.Words, sh []gate.Sharing) []usesView {
	var out []usesView
	for _, s := range sh {
		u := usesView{Category: w.Category(s.Category)}
		for _, use := range s.Uses {
			why := "on by default"
			if use.Agreed {
				why = "you agreed"
			}
			u.Uses = append(u.Uses, w.Purpose(use.Purpose)+", by "+whoOf(w, use.Class, use.Recipients)+" ("+why+")")
		}
		out = append(out, u)
	}
	return out
}

// eventView is one line of the member's history.
type eventView struct {
	At, What, How, Policy, Notice string
	State                         string
}

// historyWords words the member's history.
func historyWords(w gate.Words, hist []gate.ConsentEvent) []eventView {
	out := make([]eventView, len(hist))
	for i, e := range hist {
		what := "Refused "
		if e.State == "granted" {
			what = "Agreed to "
		}
		what += gate.Lower(w.Purpose(e.Purpose)) + " by " + w.Recipient(e.Recipient)
		out[i] = eventView{At: when(e.At), What: what, How: w.Source(e.Source), State: e.State}
		out[i].Policy, out[i].Notice = historyPolicy(e)
	}
	return out
}

// exportView is one dataset that held the member's data, in words.
type exportView struct {
	gate.ReportEntry
	Sentence string
	AsOf     string
	Status   string
}

func wentWords(w gate.Words, es []gate.ReportEntry) []exportView {
	out := make([]exportView, len(es))
	for i, e := range es {
		records := "1 record with your data"
		if e.Records != 1 {
			records = itoa(int64(e.Records)) + " records with your data"
		}
		out[i] = exportView{ReportEntry: e, AsOf: day(e.AsOf),
			Sentence: records + " went to " + commaAfter(w.Recipient(e.Recipient)) + " for " + gate.Lower(w.Purpose(e.Purpose)) + "."}
		switch e.Status {
		case "complete":
			out[i].Status = "complete: the dataset was written and its manifest signed and logged"
		case "logged":
			out[i].Status = "being written"
		case "abandoned":
			out[i].Status = "abandoned: it was never delivered"
		default:
			out[i].Status = e.Status
		}
	}
	return out
}

// historyPolicy is the version in force when a choice was given, and
// where it is explained.
func historyPolicy(e gate.ConsentEvent) (version, notice string) { return e.Policy, e.Notice }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// gpcView is the one notice of the Global Privacy Control signals that
// stand: when, and what they refused, in words.
type gpcView struct {
	First, Last string
	Refused     []string
}

func gpcWords(w gate.Words, es []gate.ConsentEvent) *gpcView {
	if len(es) == 0 {
		return nil
	}
	v := &gpcView{First: day(es[len(es)-1].At), Last: day(es[0].At)}
	seen := map[string]bool{}
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		s := gate.Lower(w.Purpose(e.Purpose)) + " by " + w.Recipient(e.Recipient)
		if e.Purpose == "" || e.Purpose == "*" {
			s = "every use by " + w.Recipient(e.Recipient)
		}
		if !seen[s] {
			seen[s] = true
			v.Refused = append(v.Refused, s)
		}
	}
	return v
}

// commaAfter closes a name that holds a comma ("Partner X, an AI
// company,") so that the sentence goes on clearly.
func commaAfter(s string) string {
	if strings.Contains(s, ",") {
		return s + ","
	}
	return s
}
