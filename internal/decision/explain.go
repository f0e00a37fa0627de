package decision

import (
	"fmt"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Explanation is a decision with every check that went into it: both checks
// for every subject, even after the first failure.
type Explanation struct {
	Result
	Purpose, Recipient string
	Class              policy.Class
	AsOf, Created      timestamp.Time
	Category           string
	Checks             []CheckDetail
}

// CheckDetail is one check of one subject.
type CheckDetail struct {
	Subject  string
	Role     policy.Role
	Check    Check
	Version  string // "(none)" before the first version
	At       timestamp.Time
	Region   string
	Attrs    map[string]string
	Consent  policy.State
	Event    *consent.Event // the consent event that decided the state, if any
	Outcome  policy.Outcome
	Declared bool // the version declares the purpose, the recipient and the category
}

func (ex *Explanation) add(p *Plan, subj int, role policy.Role, c Check, v int, t timestamp.Time, out *policy.Outcome) {
	st := p.view.StateAt(subj, t)
	doc := p.vs.Table(v).Doc
	_, hasR := doc.RecipientClass(p.target.Recipient)
	cs, k := p.matcher.state(p.view, subj)
	var ev *consent.Event
	if k >= 0 {
		e := p.view.ConsentEvent(subj, k)
		ev = &e
	}
	ex.Checks = append(ex.Checks, CheckDetail{
		Subject: p.view.ID(subj), Role: role, Check: c, Version: doc.Version, At: t,
		Region: p.view.Regions[p.view.StateRegion(st)], Attrs: p.view.Attrs(st),
		Consent: cs, Event: ev, Outcome: *out,
		Declared: hasR && doc.DeclaresPurpose(p.target.Purpose) && doc.DeclaresCategory(ex.Category),
	})
}

// Explain decides a record and records every check.
func (p *Plan) Explain(r *Record) *Explanation {
	ex := &Explanation{Purpose: p.target.Purpose, Recipient: p.target.Recipient, Class: p.target.Class,
		AsOf: p.asOf, Created: r.Created, Category: string(r.Category)}
	p.Hash(r)
	p.Resolve(r)
	ex.Result = p.decide(r, ex)
	ex.Result.Subject = append([]byte(nil), ex.Result.Subject...)
	return ex
}

// Text renders the explanation for a person.
func (ex *Explanation) Text() string {
	var b strings.Builder
	verdict := "DENY"
	if ex.Allow {
		verdict = "ALLOW"
	}
	fmt.Fprintf(&b, "%s  %s\n", verdict, ex.Summary())
	fmt.Fprintf(&b, "  use: purpose %s, recipient %s (%s), category %s\n", ex.Purpose, ex.Recipient, ex.Class, ex.Category)
	fmt.Fprintf(&b, "  times: created %s, as of %s\n", ex.Created, ex.AsOf)
	switch ex.Reason {
	case ReasonCategoryUnknown:
		fmt.Fprintf(&b, "  the policy in force at the as-of time does not declare category %s\n", ex.Category)
	case ReasonFuture:
		b.WriteString("  the record was created after the as-of time\n")
	case ReasonSubjectUnknown:
		fmt.Fprintf(&b, "  subject %s has no subject event at or before the as-of time\n", ex.Subject)
	}
	for _, c := range ex.Checks {
		region := c.Region
		if region == "" {
			region = "unknown"
		}
		fmt.Fprintf(&b, "  - %s as %s, %s check (policy %s at %s): region %s", c.Subject, c.Role, c.Check, c.Version, c.At, region)
		if len(c.Attrs) > 0 {
			fmt.Fprintf(&b, ", attributes %s", attrText(c.Attrs))
		}
		b.WriteString("\n")
		if c.Event != nil {
			fmt.Fprintf(&b, "      consent %s by event of %s (purpose %s, recipient %s, source %s)\n",
				c.Consent, c.Event.At, c.Event.Purpose, c.Event.RecipientLabel(), c.Event.Source)
		} else {
			b.WriteString("      consent: the subject never chose (none)\n")
		}
		verdict := "deny"
		if c.Outcome.Allow {
			verdict = "allow"
		}
		fmt.Fprintf(&b, "      → %s, %s: %s\n", verdict, c.Outcome.Reason, Describe(c.Outcome))
	}
	return b.String()
}

// Summary is a one-line account of the result.
func (ex *Explanation) Summary() string {
	if ex.Allow {
		return "every subject allows this use under both checks"
	}
	if ex.Check == NoCheck {
		if len(ex.Subject) > 0 {
			return fmt.Sprintf("%s (subject %s, %s)", ex.Reason, ex.Subject, ex.Role)
		}
		return ex.Reason
	}
	return fmt.Sprintf("%s (subject %s as %s, %s check)", ex.Reason, ex.Subject, ex.Role, ex.Check)
}

// Describe says what an outcome means in plain words.
func Describe(o policy.Outcome) string {
	switch {
	case strings.HasPrefix(o.Reason, "rule:"):
		return fmt.Sprintf("deny rule %q (line %d) matches", o.Rule, o.Line)
	case o.Reason == "consent.denied":
		return "the subject refused this use"
	case o.Reason == "consent.required:undeclared":
		return "this version never declared the purpose, recipient or category, so it needs an explicit grant"
	case strings.HasPrefix(o.Reason, "consent.required:"):
		return fmt.Sprintf("rule %q (line %d) requires consent and the subject has not granted it", o.Rule, o.Line)
	case o.Reason == "consent.granted":
		return "the subject granted this use"
	case o.Reason == "default.granted":
		return "the subject never chose and the policy's default for this purpose is granted (opt-out)"
	case o.Reason == "default.denied":
		return "the subject never chose and the policy has no granted default for this purpose (opt-in)"
	}
	return o.Reason
}

func attrText(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
