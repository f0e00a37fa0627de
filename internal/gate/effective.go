package gate

import (
	"context"
	"slices"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// ConsentEvent is a consent event as the answers show it.
type ConsentEvent struct {
	Seq       int64          `json:"seq"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"` // "*" for every recipient
	State     string         `json:"state"`
	At        timestamp.Time `json:"at"`
	Source    string         `json:"source"`
	// Policy and Notice are the version in force when the choice was
	// recorded and where it is explained, as the event noted them (absent
	// for one that noted none: an import, or one stored before events
	// noted their version).
	Policy string `json:"policy,omitempty"`
	Notice string `json:"notice,omitempty"`
}

func eventOf(e *consent.Event) *ConsentEvent {
	if e == nil {
		return nil
	}
	return &ConsentEvent{e.Seq, e.Purpose, e.RecipientLabel(), e.State.String(), e.At, e.Source, e.Policy, e.Notice}
}

// Cell is a subject's stored consent for one purpose and recipient: the
// state the latest applicable event gives ("none" when the subject never
// chose) and that event.
type Cell struct {
	Purpose        string        `json:"purpose"`
	Recipient      string        `json:"recipient"`
	RecipientClass string        `json:"recipient_class"`
	State          string        `json:"state"`
	DecidedBy      *ConsentEvent `json:"decided_by"`
}

// Effective is what is shared now for one use (SPEC §7): the decision and
// reason decide gives for a record of the category created at the as-of
// time with the subject as its author.
type Effective struct {
	Purpose        string `json:"purpose"`
	Recipient      string `json:"recipient"`
	RecipientClass string `json:"recipient_class"`
	Category       string `json:"category"`
	Decision       string `json:"decision"` // allow or deny
	Reason         string `json:"reason"`
	Check          string `json:"check,omitempty"` // the failing check, for a denial
}

func (e Effective) allowed() bool { return e.Decision == "allow" }

// Consents is a subject's consent under the version in force at a time:
// the stored choices per purpose and recipient, and the effective state
// per leaf purpose, declared recipient and leaf category.
type Consents struct {
	Subject   string         `json:"subject"`
	AsOf      timestamp.Time `json:"as_of"`
	Policy    string         `json:"policy"` // the version in force ("" before the first)
	Known     bool           `json:"known"`
	Consent   []Cell         `json:"consent"`
	Effective []Effective    `json:"effective"`
}

// Consents answers a subject's consent as of asOf (nil: now).
func (g *Gate) Consents(ctx context.Context, p access.Principal, id string, asOf *timestamp.Time) (*Consents, error) {
	if !p.Can(access.ReadSubject, id) {
		return nil, errForbidden
	}
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	t := now()
	if asOf != nil {
		t = *asOf
	}
	view, err := g.subjectView(ctx, vs, id, t, asOf == nil)
	if err != nil {
		return nil, err
	}
	return consentsOf(vs, view, id, t), nil
}

// subjectView is a view holding one subject as of t: the server's view of
// every subject for the present, else one loaded from the store.
func (g *Gate) subjectView(ctx context.Context, vs *decision.Versions, id string, t timestamp.Time, present bool) (*consent.View, error) {
	if present && g.cache != nil {
		return g.cache.view(ctx, id, vs.Attributes())
	}
	return store.LoadView(ctx, g.st, t, vs.Attributes(), []string{id})
}

func consentsOf(vs *decision.Versions, view *consent.View, id string, t timestamp.Time) *Consents {
	out := &Consents{Subject: id, AsOf: t, Consent: []Cell{}, Effective: []Effective{}}
	idx, known := view.Lookup(id)
	out.Known = known
	if vs.IndexAt(t) == 0 {
		return out
	}
	doc := vs.At(t).Doc
	out.Policy = doc.Version
	if !known {
		out.Effective = effective(vs, nil, t, doc.LeafPurposes(), doc.Recipients, nil)
		return out
	}
	for _, purpose := range doc.Purposes {
		for _, r := range doc.Recipients {
			st, ev := decision.ConsentStateAt(vs, view, idx, decision.Target{Purpose: purpose, Recipient: r.ID, Class: r.Class}, t)
			out.Consent = append(out.Consent, Cell{purpose, r.ID, r.Class.String(), st.String(), eventOf(ev)})
		}
	}
	out.Effective = effective(vs, decision.NewOne(vs, view, idx), t, doc.LeafPurposes(), doc.Recipients, nil)
	return out
}

// effective decides, for each purpose and recipient given and each leaf
// category of the version in force at t, a record of that category
// created at t with the subject as its author (decide's answer, SPEC §7);
// with consent not nil, as that consent would make it (a choice not made
// yet). A nil one is a subject unknown at t: subject.unknown throughout.
func effective(vs *decision.Versions, one *decision.One, t timestamp.Time, purposes []string, recipients []policy.Recipient, consent *policy.State) []Effective {
	doc := vs.At(t).Doc
	var out []Effective
	for _, purpose := range purposes {
		for _, r := range recipients {
			target := decision.Target{Purpose: purpose, Recipient: r.ID, Class: r.Class}
			for _, c := range doc.LeafCategories() {
				e := Effective{Purpose: purpose, Recipient: r.ID, RecipientClass: r.Class.String(), Category: c, Decision: "deny", Reason: decision.ReasonSubjectUnknown}
				if one != nil {
					o, check := one.Decide(target, c, t, t, policy.Author, consent)
					e.Reason = o.Reason
					if o.Allow {
						e.Decision = "allow"
					} else {
						e.Check = check.String()
					}
				}
				out = append(out, e)
			}
		}
	}
	return out
}

// The states a privacy-centre setting can be in.
const (
	OnByDefault  = "on_default"   // the member never chose; the policy's default allows
	OnAgreed     = "on_agreed"    // the member agreed
	OffRefused   = "off_refused"  // the member refused
	OffByDefault = "off_default"  // the member never chose; nothing is used without their agreement
	NotPossible  = "not_possible" // a rule forbids it whatever the member chooses
	// Partly: the member's choices differ between the class's recipients
	// (an agreement or refusal for one of them); the entries say which.
	Partly = "partly"
)

// Setting is one switch of the privacy centre: a leaf purpose and a
// recipient class, with what is shared now for each of the class's
// recipients and each kind of data, and whether a choice can change it.
type Setting struct {
	Purpose    string   `json:"purpose"`
	Class      string   `json:"class"`
	Recipients []string `json:"recipients"`
	State      string   `json:"state"`
	// On is the switch's position: something is shared now, and refusing
	// would stop it. Flipping an on switch records a refusal, an off one
	// an agreement.
	On bool `json:"on"`
	// CanAgree and CanRefuse say whether agreeing or refusing would change
	// what is shared; a setting where neither would has no switch.
	CanAgree  bool          `json:"can_agree"`
	CanRefuse bool          `json:"can_refuse"`
	ChosenBy  *ConsentEvent `json:"chosen_by"` // the member's choice that decides it, if any
	// GPC is the Global Privacy Control denial that the member's later
	// agreement overrides, shown beside it.
	GPC *ConsentEvent `json:"gpc,omitempty"`
	// Uncovered is the member's latest agreement that overlaps the setting
	// but does not reach it (SPEC §2.2: given before the version in force
	// then declared these recipients), when no choice decides it.
	Uncovered *ConsentEvent `json:"uncovered,omitempty"`
	Entries   []Effective   `json:"entries"`
	// IfAgreed is what agreeing now would make of the entries (what
	// turning the switch on, or the extra agreement, shares), and
	// AgreeAdds the leaf categories it would let through that are not
	// shared now, in the version's order.
	IfAgreed  []Effective `json:"if_agreed"`
	AgreeAdds []string    `json:"agree_adds"`
	// Rule is the first rule that forbids the use, for NotPossible, with
	// what it tests (the member's region, an attribute, the kind of data).
	Rule      string   `json:"rule,omitempty"`
	RuleTests []string `json:"rule_tests,omitempty"`
}

// PrivacyCentre is everything a member's privacy centre shows.
type PrivacyCentre struct {
	Subject string `json:"subject"`
	Policy  string `json:"policy"`
	// Notice is where the version in force is explained to members, and
	// Words what they read for its purposes, categories and recipients
	// (the version's describe; a name without words is shown as itself).
	Notice string `json:"notice,omitempty"`
	Words  Words  `json:"words,omitempty"`
	Known  bool   `json:"known"`
	// Region is the member's region now ("" when the store knows none).
	Region   string         `json:"region"`
	Settings []Setting      `json:"settings"`
	History  []ConsentEvent `json:"history"` // newest first
	// GPC are the denials Global Privacy Control signals recorded that still
	// stand (no later choice of the member decides the same use), newest
	// first.
	GPC    []ConsentEvent `json:"gpc"`
	Report *Report        `json:"report"`
	// Sharing is what is shared now, by kind of data: the settings'
	// allowed entries regrouped ("what am I sharing right now?").
	Sharing []Sharing `json:"sharing"`
	// AfterOptOut is what happened to the exports that held data the
	// member no longer allows (Aftermaths): who was told, what they
	// answered, which jobs had trained on it.
	AfterOptOut []Aftermath `json:"after_opt_out"`
}

// Sharing is what is shared now of one kind of the member's data.
type Sharing struct {
	Category string `json:"category"`
	Uses     []Use  `json:"uses"` // none: this kind of data is not used
}

// Use is one purpose and recipient class a kind of data is shared for now,
// with the recipients of the class that get it and why.
type Use struct {
	Purpose    string   `json:"purpose"`
	Class      string   `json:"class"`
	Recipients []string `json:"recipients"`
	// Agreed: the member agreed to it (consent.granted), else it is the
	// policy's default (default.granted).
	Agreed bool `json:"agreed"`
}

// sharing regroups the settings' allowed entries by leaf category.
func sharing(doc *policy.Document, settings []Setting) []Sharing {
	out := []Sharing{}
	for _, c := range doc.LeafCategories() {
		sh := Sharing{Category: c, Uses: []Use{}}
		for _, s := range settings {
			u := Use{Purpose: s.Purpose, Class: s.Class}
			for _, e := range s.Entries {
				if e.Category == c && e.allowed() {
					u.Recipients = append(u.Recipients, e.Recipient)
					u.Agreed = u.Agreed || e.Reason == "consent.granted"
				}
			}
			if len(u.Recipients) > 0 {
				sh.Uses = append(sh.Uses, u)
			}
		}
		out = append(out, sh)
	}
	return out
}

// Saved is the member's choice recorded at `at` in the privacy centre
// (source settings), while it is still their latest choice for its use
// (nil otherwise): what the page's saved message may speak of, so that a
// link cannot make it say something was saved that was not.
func (pc *PrivacyCentre) Saved(at timestamp.Time) *ConsentEvent {
	seen := map[[2]string]bool{}
	for i := range pc.History { // newest first
		e := &pc.History[i]
		k := [2]string{e.Purpose, e.Recipient}
		if e.At == at && e.Source == "settings" && !seen[k] {
			return e
		}
		seen[k] = true
	}
	return nil
}

// PrivacyCentre answers a member's privacy centre: their settings from
// the effective state (SPEC §7), their history, and where their data went.
func (g *Gate) PrivacyCentre(ctx context.Context, p access.Principal, id string) (*PrivacyCentre, error) {
	if !p.Can(access.ReadSubject, id) {
		return nil, errForbidden
	}
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	t := now()
	view, err := g.subjectView(ctx, vs, id, t, true)
	if err != nil {
		return nil, err
	}
	hist, err := g.st.ConsentHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	rep, err := g.Report(ctx, p, id)
	if err != nil {
		return nil, err
	}
	after, err := g.aftermaths(ctx, id, rep)
	if err != nil {
		return nil, err
	}
	out := &PrivacyCentre{Subject: id, Settings: []Setting{}, History: []ConsentEvent{}, GPC: []ConsentEvent{}, Report: rep, Sharing: []Sharing{}, Words: Words{},
		AfterOptOut: after}
	i, known := view.Lookup(id)
	out.Known = known
	for i := len(hist) - 1; i >= 0; i-- {
		out.History = append(out.History, *eventOf(&hist[i]))
	}
	if vs.IndexAt(t) == 0 || !out.Known {
		return out, nil
	}
	doc := vs.At(t).Doc
	out.Region = view.Regions[view.StateRegion(view.StateAt(i, t))]
	for i := len(hist) - 1; i >= 0; i-- {
		e := &hist[i]
		if e.Source != "gpc" || e.State != policy.Denied {
			continue
		}
		standing := true
		for _, later := range hist[i+1:] {
			standing = standing && !gpcOverlaps(doc, &later, e.Purpose, e.Recipient)
		}
		if standing {
			out.GPC = append(out.GPC, *eventOf(e))
		}
	}
	out.Policy, out.Notice, out.Words = doc.Version, doc.Notice, WordsOf(doc)
	for _, purpose := range doc.LeafPurposes() {
		for class := policy.FirstParty; class <= policy.ThirdParty; class++ {
			var rs []policy.Recipient
			for _, r := range doc.Recipients {
				if r.Class == class {
					rs = append(rs, r)
				}
			}
			if len(rs) == 0 {
				continue
			}
			out.Settings = append(out.Settings, setting(vs, view, i, t, doc, purpose, class, rs, hist))
		}
	}
	out.Sharing = sharing(doc, out.Settings)
	return out, nil
}

// setting works out one switch: the effective state now, and as it would
// be after an agreement or a refusal recorded now for the purpose and the
// class (what flipping the switch records: then the latest applicable
// event for every recipient of the class).
func setting(vs *decision.Versions, view *consent.View, i int, t timestamp.Time, doc *policy.Document,
	purpose string, class policy.Class, rs []policy.Recipient, hist []consent.Event) Setting {
	one := decision.NewOne(vs, view, i)
	s := Setting{Purpose: purpose, Class: class.String(), Entries: effective(vs, one, t, []string{purpose}, rs, nil)}
	for _, r := range rs {
		s.Recipients = append(s.Recipients, r.ID)
	}
	granted, denied := policy.Granted, policy.Denied
	agreed, refused := effective(vs, one, t, []string{purpose}, rs, &granted), effective(vs, one, t, []string{purpose}, rs, &denied)
	allowedAny := false
	for k, e := range s.Entries {
		allowedAny = allowedAny || e.allowed()
		s.CanAgree = s.CanAgree || agreed[k].allowed() != e.allowed()
		s.CanRefuse = s.CanRefuse || refused[k].allowed() != e.allowed()
	}
	s.On = allowedAny && s.CanRefuse
	s.IfAgreed, s.AgreeAdds = agreed, []string{}
	for k, e := range agreed {
		if e.allowed() && !s.Entries[k].allowed() && !slices.Contains(s.AgreeAdds, e.Category) {
			s.AgreeAdds = append(s.AgreeAdds, e.Category)
		}
	}
	// The member's choice for each recipient of the class: the setting
	// speaks for all of them, so it names the latest deciding choice and
	// says when they differ.
	var st policy.State
	var ev *consent.Event
	differ := false
	for k, r := range rs {
		rst, rev := decision.ConsentStateAt(vs, view, i, decision.Target{Purpose: purpose, Recipient: r.ID, Class: class}, t)
		if k == 0 {
			st, ev = rst, rev
			continue
		}
		differ = differ || rst != st
		if rev != nil && (ev == nil || rev.At > ev.At || rev.At == ev.At && rev.Seq > ev.Seq) {
			ev = rev
		}
	}
	s.ChosenBy = eventOf(ev)
	if ev == nil {
		// An agreement that overlaps the use but does not reach it.
		for k := len(hist) - 1; k >= 0; k-- {
			e := &hist[k]
			if e.State == policy.Granted && e.At <= t && gpcOverlaps(doc, e, purpose, class.String()) && policy.IsAncestorOrSelf(e.Purpose, purpose) {
				s.Uncovered = eventOf(e)
				break
			}
		}
	}
	switch {
	case !s.CanAgree && !s.CanRefuse:
		s.State = NotPossible
		for _, e := range s.Entries {
			if rule, ok := strings.CutPrefix(e.Reason, "rule:"); ok {
				s.Rule, s.RuleTests = rule, ruleTests(doc, rule)
				break
			}
		}
	case differ:
		s.State = Partly
	case st == policy.Granted:
		s.State = OnAgreed
		s.GPC = overriddenGPC(doc, hist, ev, purpose, class.String())
	case st == policy.Denied:
		s.State = OffRefused
	case allowedAny:
		s.State = OnByDefault
	default:
		s.State = OffByDefault
	}
	return s
}

// ruleTests names what a rule's condition tests about a member or their
// data: "region", an attribute's name, "category", "role".
func ruleTests(doc *policy.Document, id string) []string {
	for _, r := range doc.Rules {
		if r.ID != id {
			continue
		}
		var out []string
		if r.When.Regions != nil {
			out = append(out, "region")
		}
		for _, a := range r.When.Attrs {
			out = append(out, a.Name)
		}
		if r.When.Categories != nil {
			out = append(out, "category")
		}
		if r.When.Roles != nil {
			out = append(out, "role")
		}
		return out
	}
	return nil
}

// overriddenGPC returns the GPC denial of a use overlapping (purpose,
// class) that a grant made after it overrides.
func overriddenGPC(doc *policy.Document, hist []consent.Event, grant *consent.Event, purpose, class string) *ConsentEvent {
	if grant == nil {
		return nil
	}
	for i := len(hist) - 1; i >= 0; i-- {
		e := &hist[i]
		if e.Source != "gpc" || e.State != policy.Denied || e.Seq == grant.Seq {
			continue
		}
		if (e.At < grant.At || e.At == grant.At && e.Seq < grant.Seq) && gpcOverlaps(doc, &consent.Event{Purpose: purpose, Recipient: class}, e.Purpose, e.Recipient) {
			return eventOf(e)
		}
	}
	return nil
}
