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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		evs []consent.Event
		err error
	}
	done := make(chan result, 1)
	go func() {
		var evs []consent.Event
		err := s.ScanConsent(ctx, asOf, subjects, func(e *consent.Event) error {
			evs = append(evs, *e)
			return nil
		})
		done <- result{evs, err}
	}()
	b := consent.NewBuilder(asOf, attrs)
	err := s.ScanSubjects(ctx, asOf, subjects, func(r *SubjectRow) error {
		return b.AddSubjectJSON(r.Subject, r.At, r.Seq, r.RegionSet, r.Region, r.Attrs)
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
	for i := range res.evs {
		b.AddConsent(res.evs[i])
	}
	return b.Finish(), nil
}
