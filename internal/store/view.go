package store

import (
	"context"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// LoadView reads the point-in-time view at asOf, keeping the named
// attributes; subjects limits it to those subjects when not nil. Consent
// events are read on their own connection while subject events are read.
func LoadView(ctx context.Context, s Store, asOf timestamp.Time, attrs []string, subjects []string) (*consent.View, error) {
	var nSubj, nCons int64
	if subjects == nil {
		var err error
		if nSubj, nCons, err = s.EventCounts(ctx); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cons := &consent.ConsentRows{}
	cons.Grow(int(min(nCons, 1<<26)))
	done := make(chan error, 1)
	go func() {
		done <- s.ScanConsent(ctx, asOf, subjects, func(r *ConsentRow) error {
			cons.Add(r.Subject, r.Purpose, r.Recipient, r.State, r.At, r.Seq, r.Source)
			return nil
		})
	}()
	b := consent.NewBuilder(asOf, attrs, int(nSubj), int(nCons))
	err := s.ScanSubjects(ctx, asOf, subjects, func(r *SubjectRow) error {
		return b.AddSubjectRow(r.Subject, r.At, r.Seq, r.RegionSet, r.Region, r.Attrs)
	})
	if err != nil {
		cancel()
	}
	if cerr := <-done; err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	b.AddConsentRows(cons)
	return b.Finish(), nil
}
