package gate

import (
	"context"
	"encoding/json"
	"fmt"

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

// NoticeRoute sends one recipient's notices to a destination.
type NoticeRoute struct {
	Recipient string
	Sink      deliver.NoticeSink
}

// Deliver sends consent changes to every sink and each recipient's
// notices to its routes (SPEC §7, §11), at least once and in order, until
// ctx ends (or, with o.Once, until each has everything); the first sink to
// fail stops the others. A notice goes out with its log evidence under a
// checkpoint issued for it.
func (g *Gate) Deliver(ctx context.Context, sinks []deliver.Sink, routes []NoticeRoute, o deliver.Options) error {
	if err := g.writable(); err != nil {
		return err
	}
	for _, r := range routes {
		if err := g.declaredRecipient(ctx, r.Recipient); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(sinks)+len(routes))
	for _, s := range sinks {
		go func() { errs <- deliver.Run(ctx, g.st, s, o) }()
	}
	for _, r := range routes {
		go func() { errs <- deliver.RunNotices(ctx, g.st, r.Recipient, r.Sink, g.noticeMessages, o) }()
	}
	var first error
	for range len(sinks) + len(routes) {
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

// noticeMessages gives stored notices the body their recipient receives:
// each as NoticeByID answers it, with its log evidence under a checkpoint
// issued now.
func (g *Gate) noticeMessages(ctx context.Context, ns []store.Notice) ([]deliver.NoticeMessage, error) {
	g.deliverMu.Lock()
	defer g.deliverMu.Unlock()
	if _, err := g.Checkpoint(ctx); err != nil {
		return nil, err
	}
	all, err := g.notices(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*Notice, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	out := make([]deliver.NoticeMessage, 0, len(ns))
	for _, sn := range ns {
		n := byID[sn.ID]
		if n == nil {
			return nil, fmt.Errorf("notice %s vanished while being delivered", sn.ID)
		}
		ev, err := g.ProveInclusion(ctx, n.LogIndex, 0)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(&NoticeBundle{Notice: *n, Log: ev})
		if err != nil {
			return nil, err
		}
		out = append(out, deliver.NoticeMessage{Seq: sn.Seq, Recipient: sn.Recipient, ID: sn.ID, Body: body})
	}
	return out, nil
}
