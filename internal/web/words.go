package web

import (
	"fmt"
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

// aftermathView is one dataset that holds data the member no longer
// allows, and what came of it, in words (the application's Aftermath).
type aftermathView struct {
	ExportID string
	What     string // which dataset held what, for whom
	Why      string // why it may no longer use it, and since when
	Told     string // "" when a notice went; else why nobody was told yet
	Lapsed   string
	Marks    []string
	Notices  []noticeView
	Jobs     []string
}

// noticeView is one notice as the member whose records it names reads it.
type noticeView struct {
	ID       string
	Sentence string // who was told when, about how many of the member's records
	Until    string // the deadline, or that there is none
	Answers  []string
	Overdue  string // "" unless overdue: what is late
	Waiting  string // an open notice not yet late
	LogIndex int64
}

// answerWords says what an answer to a notice means for the member's records.
func answerWords(status string) string {
	switch status {
	case "deleted":
		return "deleted — your records were removed"
	case "excluded":
		return "excluded — your records are kept out of further training"
	case "retrained":
		return "retrained — the model was trained again without your records"
	case "unlearned":
		return "unlearned — the model was made to forget your records"
	case "refused":
		return "refused — the company would not act on it"
	case "wontfix":
		return "closed by the platform without further action"
	}
	return status
}

// answeredBy says who gave an answer ("recipient:partner-x", "operator").
func answeredBy(w gate.Words, by string) string {
	if r, ok := strings.CutPrefix(by, "recipient:"); ok {
		return w.Recipient(r)
	}
	return "the platform"
}

// markWords says what an operator recorded of an item.
func markWords(status string) string {
	switch status {
	case "open":
		return "still to be done"
	case "notified":
		return "the company was told"
	case "deleted":
		return "your records were deleted"
	case "retrained":
		return "the model was retrained without your records"
	case "wontfix":
		return "nothing more will be done"
	}
	return status
}

// causeWords says why a dataset may no longer use the member's data.
func causeWords(a gate.Aftermath) string {
	on := day(a.At)
	switch a.Cause {
	case "withdrawal":
		return "You withdrew on " + on + ": from then on, it may no longer be used."
	case "ineligibility":
		return "On " + on + " your details changed (such as the region you live in or your account), and the policy does not allow this use for you any more."
	case "narrower policy":
		return "A later version of the platform's policy, in force from " + on + ", no longer allows this use of your data."
	}
	return "Since " + on + " this use is no longer allowed (" + a.Cause + ")."
}

func aftermathWords(w gate.Words, as []gate.Aftermath) []aftermathView {
	out := make([]aftermathView, 0, len(as))
	for _, a := range as {
		who := w.Recipient(a.Recipient)
		v := aftermathView{ExportID: a.ExportID, Why: causeWords(a),
			What: "A dataset decided as of " + day(a.AsOf) + " gave " + plural(a.Records, "record", "records") + " of yours to " + commaAfter(who) + " for " + gate.Lower(w.Purpose(a.Purpose)) + "."}
		if a.Lapsed != 0 {
			v.Lapsed = "Since " + day(a.Lapsed) + " you allow this use again, so nothing more is owed for it."
		}
		for _, m := range a.Marks {
			s := "On " + day(m.At) + " the platform recorded: " + markWords(m.Status)
			if m.Note != "" {
				s += " — “" + m.Note + "”"
			}
			v.Marks = append(v.Marks, s+".")
		}
		if len(a.Notices) == 0 && a.Lapsed == 0 {
			v.Told = "Not told yet: the platform has not sent " + who + " a notice about your records so far."
		} else if a.Unnotified > 0 && a.Lapsed == 0 {
			v.Told = "Not told yet about " + plural(a.Unnotified, "one record", "some records") + " of yours: no notice to " + who + " names " +
				plural(a.Unnotified, "it", "them") + " so far."
		}
		for _, n := range a.Notices {
			nv := noticeView{ID: n.ID, LogIndex: n.LogIndex,
				Sentence: capitalFirst(commaAfter(who)) + " was told on " + day(n.IssuedAt) + " (" + plural(n.Records, "record", "records") + " of yours in the notice)."}
			if n.IssuedAt < a.At {
				nv.Sentence += " That was before this applied to you: it named " + plural(n.Records, "that record", "those records")[2:] + " because of another member " + plural(n.Records, "it also concerns", "they also concern")[2:] + "."
			}
			if n.Deadline != 0 && (n.Status == "open" || n.Status == "refused") && !n.Overdue {
				nv.Until = "It has until " + day(n.Deadline) + " to act."
			} else if n.Deadline != 0 {
				nv.Until = "It had until " + day(n.Deadline) + " to act."
			} else {
				nv.Until = "The policy set no deadline for it."
			}
			for _, an := range n.Answers {
				s := "Answered on " + day(an.At)
				if an.By == "operator" {
					s += " (recorded by the platform)"
				} else if by := answeredBy(w, an.By); by != who {
					s += " by " + by
				}
				if an.Late {
					s += ", after its deadline"
				}
				s += ": " + answerWords(an.Status)
				if an.Note != "" {
					s += ". The note: “" + an.Note + "”"
				}
				if !strings.HasSuffix(an.Note, ".") && !strings.HasSuffix(an.Note, "!") && !strings.HasSuffix(an.Note, "?") {
					s += "."
				}
				nv.Answers = append(nv.Answers, s)
			}
			switch {
			case n.Overdue && n.Status == "refused":
				nv.Overdue = "Overdue: refused, and not resolved by " + day(n.Deadline) + ". The platform still has to act on it."
			case n.Overdue:
				nv.Overdue = "Overdue: no answer by " + day(n.Deadline) + "."
			case n.Status == "open":
				nv.Waiting = "Waiting for an answer."
			case n.Status == "refused":
				nv.Waiting = "Still open: the platform has to act on the refusal."
			}
			v.Notices = append(v.Notices, nv)
		}
		v.Jobs = jobWords(a.Jobs, a.Notices, who)
		out = append(out, v)
	}
	return out
}

// plural says a count with the right noun ("1 record", "3 records").
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// capitalFirst starts a sentence with a name said in lower case ("this
// platform itself").
func capitalFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// jobWords says which jobs ran on the data, one line per job (its runs
// counted, the last one's date), and whether one ran after the recipient
// was told.
func jobWords(jobs []gate.LineageLink, notices []gate.MemberNotice, who string) []string {
	var out []string
	for _, j := range gate.GroupJobs(jobs) {
		s := "Job " + j.Namespace + "/" + j.Job + ", run finished " + day(j.Last)
		if j.Runs > 1 {
			s = fmt.Sprintf("Job %s/%s, %d runs, the last finished %s", j.Namespace, j.Job, j.Runs, day(j.Last))
		}
		for _, n := range notices {
			if j.AfterNotice != "" && n.ID == j.AfterNotice {
				s += " — after " + who + " was told, on " + day(n.IssuedAt)
			}
		}
		out = append(out, s)
	}
	return out
}
