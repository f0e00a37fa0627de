package gate

import (
	"context"
	"errors"
	"slices"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// PolicyFile is a policy document read and compiled, with its warnings.
type PolicyFile struct {
	Table    *policy.Table
	Warnings []policy.Problem
}

// ReadPolicy parses, validates and compiles a policy document; name says
// where it came from in messages. A refused document is an Invalid error
// whose cause is the *policy.InvalidError listing every problem.
func ReadPolicy(name string, src []byte) (*PolicyFile, error) {
	doc, warnings, err := policy.Parse(name, src)
	if err != nil {
		return nil, &Error{Code: Invalid, Message: err.Error(), Err: err}
	}
	t, err := policy.Compile(doc)
	if err != nil {
		return nil, &Error{Code: Invalid, Message: err.Error(), Err: err}
	}
	return &PolicyFile{Table: t, Warnings: warnings}, nil
}

// PolicyInfo is a published version as listed.
type PolicyInfo struct {
	Version       string         `json:"version"`
	EffectiveFrom timestamp.Time `json:"effective_from"`
	SHA256        string         `json:"sha256"`
	PublishedAt   timestamp.Time `json:"published_at"`
	Forced        bool           `json:"forced"`
}

func policyInfo(p store.Policy) PolicyInfo {
	return PolicyInfo{p.Version, p.EffectiveFrom, p.Digest, p.PublishedAt, p.Forced}
}

// Published is what a publication did.
type Published struct {
	PolicyInfo
	// Already: the same version with the same content was published
	// before; nothing was done.
	Already bool `json:"already_published"`
}

// Publish publishes a policy version after the checks of SPEC §2.5: a
// label already published with other content is always refused (Exists);
// a widening before the notice it owes, or an effective_from not after
// every published version's, is Refused with the Force hint unless force
// is given, and a forced publication is recorded as forced.
func (g *Gate) Publish(ctx context.Context, p access.Principal, pf *PolicyFile, force bool) (*Published, error) {
	if !p.Can(access.Publish, "") {
		return nil, errForbidden
	}
	if err := g.writable(); err != nil {
		return nil, err
	}
	t := pf.Table
	d := t.Doc
	at := now()
	existing, err := g.st.Policies(ctx)
	if err != nil {
		return nil, err
	}
	forced := false
	diff, prev, err := diffWithPrevious(existing, t, at)
	if err != nil {
		return nil, err
	}
	if diff != nil && diff.Notice.Violation {
		if !force {
			return nil, Errorf(Refused, Force, "policy %s widens what %s allowed (%d cells) but takes effect at %s, before the notice it owes runs out at %s (announced %s, min_notice %s): announce it earlier or move effective_from",
				d.Version, prev, diff.Widening, d.EffectiveFrom, diff.Notice.Due, diff.Notice.AnnouncedAt, diff.Notice.MinNotice)
		}
		forced = true
	}
	for _, e := range existing {
		if e.Version == d.Version {
			if e.Digest == d.Digest() {
				return &Published{PolicyInfo: policyInfo(e), Already: true}, nil
			}
			return nil, Errorf(Exists, NoHint, "policy version %q is already published with different content: published versions are immutable, give this one a new version label", d.Version)
		}
		if d.EffectiveFrom <= e.EffectiveFrom {
			if !force {
				return nil, Errorf(Refused, Force, "policy %s takes effect at %s, not after published version %s (%s): a new version must take effect after every published one",
					d.Version, d.EffectiveFrom, e.Version, e.EffectiveFrom)
			}
			forced = true
		}
	}
	sp := store.Policy{Version: d.Version, EffectiveFrom: d.EffectiveFrom, Source: d.Source, Digest: d.Digest(), PublishedAt: at, Forced: forced}
	if _, err := g.st.PublishPolicy(ctx, sp); err != nil {
		return nil, err
	}
	g.forgetVersions()
	return &Published{PolicyInfo: policyInfo(sp)}, nil
}

// diffWithPrevious compares a version with the published one it follows
// (the latest taking effect before it); nil when there is none. Without an
// announced_at, the notice counts from now, the publication.
func diffWithPrevious(existing []store.Policy, t *policy.Table, at timestamp.Time) (*policy.Diff, string, error) {
	var prev *store.Policy
	for i := range existing {
		p := &existing[i]
		if p.Version != t.Doc.Version && p.EffectiveFrom < t.Doc.EffectiveFrom && (prev == nil || p.EffectiveFrom >= prev.EffectiveFrom) {
			prev = p
		}
	}
	if prev == nil {
		return nil, "", nil
	}
	pt, err := compileStored(prev)
	if err != nil {
		return nil, "", err
	}
	d, err := policy.Compare(pt, t, at)
	return d, prev.Version, err
}

func compileStored(p *store.Policy) (*policy.Table, error) {
	doc, _, err := policy.ParsePublished("policy "+p.Version, p.Source) // checked when published, perhaps by an earlier release
	if err != nil {
		return nil, err
	}
	return policy.Compile(doc)
}

// Policies lists the published versions by effective_from.
func (g *Gate) Policies(ctx context.Context, p access.Principal) ([]PolicyInfo, error) {
	if !p.Can(access.ReadPolicies, "") {
		return nil, errForbidden
	}
	ps, err := g.st.Policies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PolicyInfo, len(ps))
	for i, x := range ps {
		out[i] = policyInfo(x)
	}
	return out, nil
}

// Policy returns a published version with its source.
func (g *Gate) Policy(ctx context.Context, p access.Principal, version string) (*PolicyInfo, []byte, error) {
	if !p.Can(access.ReadPolicies, "") {
		return nil, nil, errForbidden
	}
	ps, err := g.st.Policies(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, x := range ps {
		if x.Version == version {
			info := policyInfo(x)
			return &info, x.Source, nil
		}
	}
	return nil, nil, notFound("policy version %q is not published", version)
}

// PolicyArg names one side of a diff: a document read with ReadPolicy, or
// a published version's label.
type PolicyArg struct {
	File  *PolicyFile
	Label string
}

// Diff is the exact difference between two versions (SPEC §2.5) and, with
// a store, how many subjects the widening exposes.
type Diff struct {
	Old string `json:"old"`
	New string `json:"new"`
	*policy.Diff
	// Exposed counts the subjects whose current region, attributes and
	// consent fall in at least one widened combination (nil without a
	// store).
	Exposed *int `json:"subjects_newly_allowed,omitempty"`
}

// Diff compares two versions exactly. g may be nil: then both sides must
// be documents and nothing is counted. The notice is counted from NEW's
// announced_at, else its publication (a published version) or its
// effective_from (a document).
func (g *Gate) Diff(ctx context.Context, p access.Principal, oldArg, newArg PolicyArg) (*Diff, error) {
	if g != nil && !p.Can(access.ReadPolicies, "") {
		return nil, errForbidden
	}
	oldT, _, err := g.policyArg(ctx, oldArg)
	if err != nil {
		return nil, err
	}
	newT, announced, err := g.policyArg(ctx, newArg)
	if err != nil {
		return nil, err
	}
	d, err := policy.Compare(oldT, newT, announced)
	if err != nil {
		return nil, err
	}
	out := &Diff{Old: oldT.Doc.Version, New: newT.Doc.Version, Diff: d}
	if g != nil {
		vs, _, err := g.loadVersions(ctx)
		if err != nil {
			return nil, err
		}
		attrs := diffAttributes(oldT, newT)
		view, err := store.LoadView(ctx, g.st, now(), attrs, nil)
		if err != nil {
			return nil, err
		}
		n := exposed(vs, view, d)
		out.Exposed = &n
	}
	return out, nil
}

// policyArg compiles a diff side; the time is the one its notice counts
// from when it is NEW.
func (g *Gate) policyArg(ctx context.Context, a PolicyArg) (*policy.Table, timestamp.Time, error) {
	if a.File != nil {
		return a.File.Table, a.File.Table.Doc.EffectiveFrom, nil
	}
	if g == nil {
		return nil, 0, notFound("%q is not a policy file, and without a store it cannot be a published version", a.Label)
	}
	ps, err := g.st.Policies(ctx)
	if err != nil {
		return nil, 0, err
	}
	for i := range ps {
		if ps[i].Version == a.Label {
			t, err := compileStored(&ps[i])
			return t, ps[i].PublishedAt, err
		}
	}
	return nil, 0, notFound("policy version %q is not published", a.Label)
}

// diffAttributes are the attributes either side of a diff declares.
func diffAttributes(ts ...*policy.Table) []string {
	var attrs []string
	for _, t := range ts {
		for _, a := range t.Doc.Attributes {
			if !slices.Contains(attrs, a.Name) {
				attrs = append(attrs, a.Name)
			}
		}
	}
	return attrs
}

// exposed counts the subjects of a view whose state at its as-of time
// (region, attributes, consent) falls in at least one widened combination
// of a diff.
func exposed(vs *decision.Versions, view *consent.View, d *policy.Diff) int {
	type use struct {
		p string
		r policy.Recipient
	}
	states := map[use][]policy.State{}
	n := 0
	for i := 0; i < view.Len(); i++ {
		s := view.StateAt(i, view.AsOf)
		code := view.Regions[view.StateRegion(s)]
		if d.SubjectInWidening(code, view.Attrs(s), func(p string, r policy.Recipient) policy.State {
			u := use{p, r}
			if states[u] == nil {
				states[u] = decision.ConsentAll(vs, view, decision.Target{Purpose: p, Recipient: r.ID, Class: r.Class})
			}
			return states[u][i]
		}) {
			n++
		}
	}
	return n
}

// History is the published versions, newest first, each with its diff
// from the version before it (nil for the first) and the subjects that
// diff's widening exposes now.
type History struct {
	Version PolicyInfo `json:"version"`
	Diff    *Diff      `json:"diff,omitempty"`
}

// PolicyHistory lists every published version with its diff from the one
// before, counting exposed subjects over one view of the store now.
func (g *Gate) PolicyHistory(ctx context.Context, p access.Principal) ([]History, error) {
	if !p.Can(access.ReadPolicies, "") {
		return nil, errForbidden
	}
	vs, ps, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	return g.policyHistory(vs, ps, g.viewOnce(ctx, vs))
}

func (g *Gate) policyHistory(vs *decision.Versions, ps []store.Policy, nowView func() (*consent.View, error)) ([]History, error) {
	var tables []*policy.Table
	for _, x := range ps {
		t, ok := vs.ByLabel(x.Version)
		if !ok {
			return nil, errors.New("a published version is missing from the compiled set")
		}
		tables = append(tables, t)
	}
	var view *consent.View
	if len(ps) > 1 {
		var err error
		if view, err = nowView(); err != nil {
			return nil, err
		}
	}
	out := make([]History, len(ps))
	for i, x := range ps {
		out[len(ps)-1-i].Version = policyInfo(x)
		if i == 0 {
			continue
		}
		d, err := policy.Compare(tables[i-1], tables[i], x.PublishedAt)
		if err != nil {
			return nil, err
		}
		n := exposed(vs, view, d)
		out[len(ps)-1-i].Diff = &Diff{Old: ps[i-1].Version, New: x.Version, Diff: d, Exposed: &n}
	}
	return out, nil
}
