package demo

import (
	"context"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// ImportScale puts a GenerateScale world into a store: the tour's policy
// versions, then its subject and consent events — what every benchmark on
// the world (SQLite or PostgreSQL, the records pass or the whole command)
// starts from.
func ImportScale(ctx context.Context, st store.Store, files *ScaleFiles) error {
	names, srcs := PolicyFiles()
	for i, n := range names {
		doc, _, err := policy.Parse(n, srcs[n])
		if err != nil {
			return err
		}
		if _, err := st.PublishPolicy(ctx, store.Policy{Version: doc.Version, EffectiveFrom: doc.EffectiveFrom, Source: doc.Source,
			Digest: doc.Digest(), PublishedAt: timestamp.Time(i)}); err != nil {
			return err
		}
	}
	now := timestamp.Now()
	subs, err := consent.ReadSubjectsFile(files.Subjects, now)
	if err != nil {
		return err
	}
	if _, err := st.AddSubjectEvents(ctx, subs); err != nil {
		return err
	}
	cons, err := consent.ReadConsentFile(files.Consent, now, nil)
	if err != nil {
		return err
	}
	_, err = st.AddConsentEvents(ctx, cons)
	return err
}
