package decision_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// refWorld decides records by reading SPEC §2.2–§2.4 literally over the
// raw events, with the policy documents' direct reading: the oracle the
// views, plans and tables are checked against.
type refWorld struct {
	docs []*policy.Document // by effective_from
	subs []consent.SubjectEvent
	cons []consent.Event
}

func (w *refWorld) versionAt(t timestamp.Time) *policy.Document {
	var d *policy.Document
	for _, x := range w.docs {
		if x.EffectiveFrom <= t {
			d = x
		}
	}
	if d == nil {
		return policy.Empty()
	}
	return d
}

func before(at1 timestamp.Time, s1 int64, at2 timestamp.Time, s2 int64) bool {
	return at1 < at2 || at1 == at2 && s1 < s2
}

// state is a subject's region and attributes at t, from its events at or
// before asOf.
func (w *refWorld) state(id string, t, asOf timestamp.Time, attrNames []string) (string, map[string]string) {
	var evs []consent.SubjectEvent
	for _, e := range w.subs {
		if e.Subject == id && e.At <= asOf {
			evs = append(evs, e)
		}
	}
	sort.Slice(evs, func(i, j int) bool { return before(evs[i].At, evs[i].Seq, evs[j].At, evs[j].Seq) })
	field := func(get func(e consent.SubjectEvent) (string, bool, bool)) (string, bool) {
		val, present, found := "", false, false
		for _, e := range evs { // latest at or before t
			if e.At <= t {
				if v, p, sets := get(e); sets {
					val, present, found = v, p, true
				}
			}
		}
		if !found { // earliest that sets it
			for _, e := range evs {
				if v, p, sets := get(e); sets {
					return v, p
				}
			}
		}
		return val, present
	}
	region, _ := field(func(e consent.SubjectEvent) (string, bool, bool) { return e.Region, e.Region != "", e.RegionSet })
	attrs := map[string]string{}
	for _, name := range attrNames {
		v, present := field(func(e consent.SubjectEvent) (string, bool, bool) {
			p, sets := e.Attributes[name]
			if !sets {
				return "", false, false
			}
			if p == nil {
				return "", false, true
			}
			return *p, true, true
		})
		if present {
			attrs[name] = v
		}
	}
	return region, attrs
}

func (w *refWorld) consentState(id, purpose, recipient string, class policy.Class, asOf timestamp.Time) policy.State {
	var evs []consent.Event
	for _, e := range w.cons {
		if e.Subject == id && e.At <= asOf {
			evs = append(evs, e)
		}
	}
	sort.Slice(evs, func(i, j int) bool { return before(evs[i].At, evs[i].Seq, evs[j].At, evs[j].Seq) })
	for k := len(evs) - 1; k >= 0; k-- {
		e := evs[k]
		if !policy.IsAncestorOrSelf(e.Purpose, purpose) {
			continue
		}
		if !(e.Recipient == "" || e.Recipient == class.String() || e.Recipient == recipient) {
			continue
		}
		if e.State == policy.Granted && e.Recipient != recipient {
			d := w.versionAt(e.At)
			if _, has := d.RecipientClass(recipient); !has || !d.DeclaresPurpose(purpose) {
				continue
			}
		}
		return e.State
	}
	return policy.None
}

// known reports whether a subject has a subject event at or before asOf.
func (w *refWorld) known(id string, asOf timestamp.Time) bool {
	for _, e := range w.subs {
		if e.Subject == id && e.At <= asOf {
			return true
		}
	}
	return false
}

type refSubject struct {
	id   string
	role policy.Role
}

func (w *refWorld) decide(category string, created timestamp.Time, subjects []refSubject, purpose, recipient string, asOf timestamp.Time, attrNames []string) (bool, string, string, string) {
	now := w.versionAt(asOf)
	class, _ := now.RecipientClass(recipient)
	if !now.DeclaresCategory(category) {
		return false, decision.ReasonCategoryUnknown, "", ""
	}
	if created > asOf {
		return false, decision.ReasonFuture, "", ""
	}
	for _, s := range subjects {
		known := false
		for _, e := range w.subs {
			known = known || e.Subject == s.id && e.At <= asOf
		}
		if !known {
			return false, decision.ReasonSubjectUnknown, s.id, ""
		}
	}
	for _, s := range subjects {
		c := w.consentState(s.id, purpose, recipient, class, asOf)
		for _, chk := range []struct {
			name string
			t    timestamp.Time
		}{{"now", asOf}, {"collection", created}} {
			region, attrs := w.state(s.id, chk.t, asOf, attrNames)
			reason := w.versionAt(chk.t).DecideDirect(policy.Query{Purpose: purpose, Category: category, Recipient: recipient,
				Class: class, Region: region, Attrs: attrs, Role: s.role, Consent: c})
			if reason != "consent.granted" && reason != "default.granted" {
				return false, reason, s.id, chk.name
			}
		}
	}
	return true, "", "", ""
}

// TestDifferential builds random histories over the corpus policies and
// checks that every record's decision through a view and a plan is the
// literal reading's.
func TestDifferential(t *testing.T) {
	_, vs, _, _, _ := loadWorld(t, "../../testdata/decisions/world.yaml")
	var docs []*policy.Document
	for i := 1; i < vs.Len(); i++ {
		docs = append(docs, vs.Table(i).Doc)
	}
	r := rand.New(rand.NewPCG(7, 11))
	day := func(y, m, d int) timestamp.Time {
		v, _ := timestamp.Parse(fmt.Sprintf("%04d-%02d-%02dT00:00:00Z", y, m, d))
		return v
	}
	times := []timestamp.Time{day(2019, 6, 1), day(2020, 1, 1), day(2023, 5, 1), day(2024, 1, 1), day(2024, 3, 1), day(2024, 6, 1),
		day(2024, 7, 1), day(2024, 9, 1), day(2025, 1, 1), day(2025, 6, 1)}
	regions := []string{"US", "US-CA", "US-TX", "DE", "NO", "ES-CT", "GF", "GB", "", "-"}
	tiers := []string{"free", "premium", "gold", "null", ""}
	purposes := []string{"train_ai_system", "train_ai_system.generative", "train_ai_system.analytics", "train_ai_system_v2"}
	recipients := []string{"", "self", "sister", "partner-x", "third_party", "affiliate", "first_party"}
	categories := []string{"user.content.public", "user.content.private.message", "user.content.private", "user.content.private.draft"}
	attrNames := vs.Attributes()
	cases, one := 0, 0
	at := func(n int, asOf timestamp.Time) timestamp.Time {
		return []timestamp.Time{asOf, day(2024, 1, 1), day(2024, 7, 1)}[n%3]
	}
	for world := 0; world < 40; world++ {
		ref := &refWorld{docs: docs}
		var seq int64
		ids := make([]string, 25)
		for i := range ids {
			ids[i] = fmt.Sprintf("s%d", i)
			for k := 0; k < 1+r.IntN(3); k++ {
				seq++
				e := consent.SubjectEvent{Seq: seq, Subject: ids[i], At: times[r.IntN(len(times))]}
				if reg := regions[r.IntN(len(regions))]; reg != "" {
					e.RegionSet = true
					if reg != "-" {
						e.Region = reg
					}
				}
				if tier := tiers[r.IntN(len(tiers))]; tier != "" {
					e.Attributes = map[string]*string{"tier": nil}
					if tier != "null" {
						e.Attributes["tier"] = &tier
					}
				}
				ref.subs = append(ref.subs, e)
			}
			for k := 0; k < r.IntN(4); k++ {
				seq++
				st := policy.Granted
				if r.IntN(2) == 0 {
					st = policy.Denied
				}
				ref.cons = append(ref.cons, consent.Event{Seq: seq, Subject: ids[i], Purpose: purposes[r.IntN(len(purposes))],
					Recipient: recipients[r.IntN(len(recipients))], State: st, At: times[r.IntN(len(times))], Source: "api"})
			}
		}
		for _, asOf := range []timestamp.Time{day(2024, 8, 1), day(2025, 1, 1), day(2026, 1, 1)} {
			b := consent.NewBuilder(asOf, attrNames, 0, 0)
			for _, e := range ref.subs {
				b.AddSubject(e)
			}
			for _, e := range ref.cons {
				b.AddConsent(e)
			}
			view := b.Finish()
			now := ref.versionAt(asOf)
			for _, purpose := range now.LeafPurposes() {
				for _, rc := range now.Recipients {
					plan, err := decision.NewPlan(vs, view, purpose, rc.ID)
					if err != nil {
						t.Fatal(err)
					}
					for n := 0; n < 30; n++ {
						rec := decision.Record{Category: []byte(categories[r.IntN(len(categories))]), Created: times[r.IntN(len(times))]}
						var subjects []refSubject
						for k := 0; k < 1+r.IntN(3); k++ {
							id := ids[r.IntN(len(ids))]
							if r.IntN(20) == 0 {
								id = "stranger"
							}
							s := refSubject{id, policy.Role(r.IntN(3))}
							subjects = append(subjects, s)
							rec.Subjects = append(rec.Subjects, decision.SubjectRef{ID: []byte(s.id), Role: s.role})
						}
						got := plan.Decide(&rec)
						allow, reason, subject, check := ref.decide(string(rec.Category), rec.Created, subjects, purpose, rc.ID, asOf, attrNames)
						// One subject alone: One, and CheckAt at a time up to the
						// view's, over the view of a later store, decide as the
						// reading does as of that time (the later events unseen).
						if sub := subjects[0]; sub.id != "stranger" && ref.known(sub.id, asOf) && ref.known(sub.id, at(n, asOf)) {
							i, _ := view.Lookup(sub.id)
							at := at(n, asOf)
							d := ref.versionAt(at)
							if cls, ok := d.RecipientClass(rc.ID); ok && cls == plan.Target().Class && at <= asOf && rec.Created <= at {
								a, ra, _, ca := ref.decide(string(rec.Category), rec.Created, subjects[:1], purpose, rc.ID, at, attrNames)
								o, c := decision.PlanFor(vs, view, plan.Target()).CheckAt(i, sub.role, string(rec.Category), rec.Created, at)
								if o.Allow != a || !a && (o.Reason != ra || c.String() != ca) {
									t.Fatalf("world %d, %s alone as of %s (view of %s): CheckAt %v %s %s, reference %v %s %s", world, sub.id, at, asOf, o.Allow, o.Reason, c, a, ra, ca)
								}
								o, c = decision.NewOne(vs, view, i).Decide(plan.Target(), string(rec.Category), rec.Created, at, sub.role, nil)
								if o.Allow != a || !a && (o.Reason != ra || c.String() != ca) {
									t.Fatalf("world %d, %s alone as of %s (view of %s): One %v %s %s, reference %v %s %s", world, sub.id, at, asOf, o.Allow, o.Reason, c, a, ra, ca)
								}
								one++
							}
						}
						if got.Allow != allow || !got.Allow && (got.Reason != reason || string(got.Subject) != subject || got.Check.String() != check) {
							t.Fatalf("world %d, as of %s, %s for %s, category %s created %s, subjects %v:\nplan: %v %s %s %s\nreference: %v %s %s %s",
								world, asOf, purpose, rc.ID, rec.Category, rec.Created, subjects,
								got.Allow, got.Reason, got.Subject, got.Check, allow, reason, subject, check)
						}
						cases++
					}
				}
			}
		}
	}
	if one < 1000 {
		t.Fatalf("only %d single-subject decisions were checked through One and CheckAt", one)
	}
	t.Logf("%d random records agreed; %d single-subject decisions through One and CheckAt", cases, one)
}
