package store

import (
	"context"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// LoadView reads the point-in-time view at asOf, keeping the named
// attributes; subjects limits it to those subjects when not nil. Subject
// and consent events are read concurrently.
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
	type result struct {
		rows *consent.ConsentRows
		err  error
	}
	done := make(chan result, 1)
	go func() {
		rows := &consent.ConsentRows{}
		err := s.ScanConsent(ctx, asOf, subjects, func(r *ConsentRow) error {
			rows.Add(r.Subject, r.Purpose, r.Recipient, r.State, r.At, r.Seq, r.Source)
			return nil
		})
		done <- result{rows, err}
	}()
	b := consent.NewBuilder(asOf, attrs, int(nSubj), int(nCons))
	err := s.ScanSubjects(ctx, asOf, subjects, func(r *SubjectRow) error {
		return b.AddSubjectRow(r.Subject, r.At, r.Seq, r.RegionSet, r.Region, r.Attrs)
	})
	if err != nil {
		cancel()
		<-done
		return nil, err
	}
	res := <-done
	if res.err != nil {
		return nil, res.err
	}
	b.AddConsentRows(res.rows)
	return b.Finish(), nil
}
