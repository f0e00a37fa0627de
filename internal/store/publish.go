package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// ErrNotice: a publication refused without force — a widening before the
// notice it owes, or an effective_from not after every published version.
var ErrNotice = errors.New("publication refused")

// refusal is an error with its own message that matches a sentinel.
type refusal struct {
	msg    string
	target error
}

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == r.target }

func refused(target error, format string, args ...any) error {
	return &refusal{fmt.Sprintf(format, args...), target}
}

// publish stores a compiled version after the publication checks of SPEC
// §2.5: a label already published with other content is always refused; a
// notice violation against the version it follows, or an effective_from
// at or before a published version's, is refused unless forced, and a
// forced publication is recorded as forced.
func Publish(ctx context.Context, st Store, t *policy.Table, force bool, now timestamp.Time) (string, error) {
	d := t.Doc
	existing, err := st.Policies(ctx)
	if err != nil {
		return "", err
	}
	forced := false
	if diff, prev, err := DiffWithPrevious(existing, t, now); err != nil {
		return "", err
	} else if diff != nil && diff.Notice.Violation {
		if !force {
			return "", refused(ErrNotice, "policy %s widens what %s allowed (%d cells) but takes effect at %s, before the notice it owes runs out at %s (announced %s, min_notice %s); announce it earlier, move effective_from, or --force (see consentgate policy diff %s %s)",
				d.Version, prev, diff.Widening, d.EffectiveFrom, diff.Notice.Due, diff.Notice.AnnouncedAt, diff.Notice.MinNotice, prev, d.File)
		}
		forced = true
	}
	for _, p := range existing {
		if p.Version == d.Version {
			if p.Digest == d.Digest() {
				return fmt.Sprintf("policy %s is already published (same content); nothing to do", d.Version), nil
			}
			return "", refused(ErrExists, "policy version %q is already published with different content: published versions are immutable, give this one a new version label", d.Version)
		}
		if d.EffectiveFrom <= p.EffectiveFrom {
			if !force {
				return "", refused(ErrNotice, "policy %s takes effect at %s, not after published version %s (%s): a new version must take effect after every published one; --force publishes it anyway",
					d.Version, d.EffectiveFrom, p.Version, p.EffectiveFrom)
			}
			forced = true
		}
	}
	_, err = st.PublishPolicy(ctx, Policy{Version: d.Version, EffectiveFrom: d.EffectiveFrom, Source: d.Source,
		Digest: d.Digest(), PublishedAt: now, Forced: forced})
	if err != nil {
		return "", err
	}
	note := ""
	if forced {
		note = " (forced)"
	}
	return fmt.Sprintf("published policy %s, effective from %s%s", d.Version, d.EffectiveFrom, note), nil
}

// diffWithPrevious compares a version with the published one it follows
// (the latest taking effect before it); nil when there is none. Without an
// announced_at, the notice counts from now, the publication.
func DiffWithPrevious(existing []Policy, t *policy.Table, now timestamp.Time) (*policy.Diff, string, error) {
	var prev *Policy
	for i := range existing {
		p := &existing[i]
		if p.Version != t.Doc.Version && p.EffectiveFrom < t.Doc.EffectiveFrom && (prev == nil || p.EffectiveFrom >= prev.EffectiveFrom) {
			prev = p
		}
	}
	if prev == nil {
		return nil, "", nil
	}
	doc, _, err := policy.Parse("policy "+prev.Version, prev.Source)
	if err != nil {
		return nil, "", err
	}
	pt, err := policy.Compile(doc)
	if err != nil {
		return nil, "", err
	}
	d, err := policy.Compare(pt, t, now)
	return d, prev.Version, err
}
