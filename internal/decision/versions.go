// Package decision owns deciding: which policy version is in force when,
// what a subject's consent is for a purpose and recipient, and whether a
// record may be used (SPEC §2.2–§2.4), with the explanation. It is pure: no
// I/O and no clock; time is always an argument.
package decision

import (
	"fmt"

	"sort"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Versions is the published history of a policy: compiled tables ordered by
// effective_from. Index 0 is the empty version that governs before the
// first (SPEC §2.2: only an explicit grant is allowed then).
type Versions struct {
	tables []*policy.Table
	from   []timestamp.Time
}

// NewVersions orders the tables by effective_from; tables sharing an
// effective_from (possible only through a forced publication) keep the order
// given, so the one given last governs from then on.
func NewVersions(tables []*policy.Table) (*Versions, error) {
	empty, err := policy.Compile(policy.Empty())
	if err != nil {
		return nil, err
	}
	ts := append([]*policy.Table(nil), tables...)
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Doc.EffectiveFrom < ts[j].Doc.EffectiveFrom })
	vs := &Versions{tables: []*policy.Table{empty}, from: []timestamp.Time{timestamp.Min}}
	for _, t := range ts {
		vs.tables = append(vs.tables, t)
		vs.from = append(vs.from, t.Doc.EffectiveFrom)
	}
	return vs, nil
}

// Len counts the versions including the empty one at index 0.
func (vs *Versions) Len() int { return len(vs.tables) }

// Table returns version i (0 is the empty version).
func (vs *Versions) Table(i int) *policy.Table { return vs.tables[i] }

// IndexAt returns the index of the version in force at t: the latest with
// effective_from ≤ t, or 0 when none is.
func (vs *Versions) IndexAt(t timestamp.Time) int {
	f := vs.from
	// Few versions: a backwards scan beats a binary search.
	for i := len(f) - 1; i > 0; i-- {
		if f[i] <= t {
			return i
		}
	}
	return 0
}

// At returns the table in force at t.
func (vs *Versions) At(t timestamp.Time) *policy.Table { return vs.tables[vs.IndexAt(t)] }

// ByLabel finds a version by its label.
func (vs *Versions) ByLabel(label string) (*policy.Table, bool) {
	for _, t := range vs.tables[1:] {
		if t.Doc.Version == label {
			return t, true
		}
	}
	return nil, false
}

// Attributes returns every attribute any version declares, in first-seen order.
func (vs *Versions) Attributes() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range vs.tables {
		for _, a := range t.Doc.Attributes {
			if !seen[a.Name] {
				seen[a.Name] = true
				out = append(out, a.Name)
			}
		}
	}
	return out
}

// CheckDeclared validates a consent event's purpose and recipient against
// the whole history: the purpose must be declared by some published version
// and the recipient must be a class or declared by some version.
func (vs *Versions) CheckDeclared(purpose, recipient string) error {
	if len(vs.tables) <= 1 {
		return fmt.Errorf("no policy is published: publish one (consentgate policy publish FILE) before importing consent")
	}
	okP, okR := false, recipient == ""
	if _, isClass := policy.ParseClass(recipient); isClass {
		okR = true
	}
	for _, t := range vs.tables[1:] {
		okP = okP || t.Doc.DeclaresPurpose(purpose)
		if _, has := t.Doc.RecipientClass(recipient); has {
			okR = true
		}
	}
	if !okP {
		return fmt.Errorf("purpose %q is not declared by any published policy version", purpose)
	}
	if !okR {
		return fmt.Errorf("recipient %q is neither declared by a published policy version nor a recipient class", recipient)
	}
	return nil
}
