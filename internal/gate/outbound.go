package gate

import (
	"context"

	"github.com/consentgate/consentgate/internal/deliver"
	"github.com/consentgate/consentgate/internal/snapshot"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Snapshot writes the point-in-time view an export needs, as of asOf, to
// one file (SPEC §8): the store is only read.
func (g *Gate) Snapshot(ctx context.Context, asOf timestamp.Time, path string) (*snapshot.Summary, error) {
	return snapshot.Write(ctx, g.st, asOf, now(), path)
}

// VerifySnapshot checks a snapshot file whole (its checksums and its
// contents' order) without a store, and summarises it.
func VerifySnapshot(path string) (*snapshot.Summary, error) {
	return snapshot.Verify(path)
}

// Deliver sends consent changes to every sink, at least once and in order
// (SPEC §7), until ctx ends (or, with o.Once, until each has everything);
// the first sink to fail stops the others.
func (g *Gate) Deliver(ctx context.Context, sinks []deliver.Sink, o deliver.Options) error {
	if err := g.writable(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(sinks))
	for _, s := range sinks {
		go func() { errs <- deliver.Run(ctx, g.st, s, o) }()
	}
	var first error
	for range sinks {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// Delivery is a destination's progress through the consent events.
type Delivery = store.Delivery

// Deliveries lists every destination's progress, by name.
func (g *Gate) Deliveries(ctx context.Context) ([]Delivery, error) {
	ds, err := g.st.Deliveries(ctx)
	if ds == nil && err == nil {
		ds = []Delivery{}
	}
	return ds, err
}
