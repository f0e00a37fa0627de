package gate

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// viewCache answers reads of a subject's current state from memory: a view
// of every subject (every event, as of the end of time: events are never
// dated in the future), loaded once, plus per-subject views of the subjects
// whose events changed since. It stays correct by following the store: at
// most syncEvery after any write anywhere (another server process
// included), and at once after this server's own writes, it reads the
// events stored since it last looked and marks their subjects changed; a
// changed subject's view is loaded from the store on its next read. When
// many have changed, the whole view is loaded again.
type viewCache struct {
	st store.Store

	mu      sync.Mutex
	attrs   string        // the attribute set the views were built with
	base    *consent.View // every subject, as of the last full load
	changed map[string]bool
	views   map[string]*consent.View // changed subjects, loaded since
	subjSeq int64                    // highest subject event sequence number seen
	consSeq int64                    // highest consent event sequence number seen
	synced  time.Time
	// gen counts the marks of changed subjects (by a sync or this server's
	// own write): a view loaded while it moved may predate the change.
	gen uint64
}

const (
	syncEvery  = 50 * time.Millisecond
	maxChanged = 50_000 // then the whole view is loaded again
)

func newViewCache(st store.Store) *viewCache {
	return &viewCache{st: st}
}

// sync marks the subjects with events stored since the last sync changed;
// force skips the syncEvery wait (after this server's own write).
func (c *viewCache) sync(ctx context.Context, force bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base == nil || (!force && time.Since(c.synced) < syncEvery) {
		return nil
	}
	subj, cons, err := c.st.EventCounts(ctx)
	if err != nil {
		return err
	}
	mark := func(subject []byte) {
		c.changed[string(subject)] = true
		delete(c.views, string(subject))
		c.gen++
	}
	if subj > c.subjSeq {
		err := c.st.SubjectRows(ctx, c.subjSeq+1, math.MaxInt64, func(r *store.SubjectRow) error {
			mark(r.Subject)
			c.subjSeq = max(c.subjSeq, r.Seq)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if cons > c.consSeq {
		err := c.st.ConsentRows(ctx, c.consSeq+1, math.MaxInt64, func(r *store.ConsentRow) error {
			mark(r.Subject)
			c.consSeq = max(c.consSeq, r.Seq)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(c.changed) > maxChanged {
		c.base = nil // loaded again on the next read
	}
	c.synced = time.Now()
	return nil
}

// changedBy marks a subject changed by this server's own write, so the
// next read of it loads it afresh (the periodic sync sees the write too).
func (c *viewCache) changedBy(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed != nil {
		c.changed[subject] = true
		delete(c.views, subject)
		c.gen++
	}
}

// view returns a view holding the subject's current state.
func (c *viewCache) view(ctx context.Context, subject string, attrs []string) (*consent.View, error) {
	key := ""
	for _, a := range attrs {
		key += a + "\x00"
	}
	if err := c.load(ctx, key, attrs); err != nil {
		return nil, err
	}
	if err := c.sync(ctx, false); err != nil {
		return nil, err
	}
	c.mu.Lock()
	base, changed := c.base, c.changed[subject]
	v, ok := c.views[subject]
	gen := c.gen
	c.mu.Unlock()
	if base != nil && !changed {
		return base, nil
	}
	if ok {
		return v, nil
	}
	v, err := store.LoadView(ctx, c.st, timestamp.Max, attrs, []string{subject})
	if err != nil {
		return nil, err
	}
	// Keep it only if no subject was marked changed while it loaded (by a
	// sync or by a write of this server: it might predate that change); a
	// write elsewhere not yet synced will mark it changed.
	c.mu.Lock()
	if c.attrs == key && c.gen == gen && c.views != nil {
		c.views[subject] = v
	}
	c.mu.Unlock()
	return v, nil
}

// load loads the view of every subject when there is none (or the
// attribute set changed with a new policy version).
func (c *viewCache) load(ctx context.Context, key string, attrs []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base != nil && c.attrs == key {
		return nil
	}
	// The sequence numbers first: whatever is stored during the load is
	// seen by the next sync, and its subjects are then read afresh.
	subj, cons, err := c.st.EventCounts(ctx)
	if err != nil {
		return err
	}
	base, err := store.LoadView(ctx, c.st, timestamp.Max, attrs, nil)
	if err != nil {
		return err
	}
	c.base, c.attrs, c.subjSeq, c.consSeq = base, key, subj, cons
	c.changed, c.views, c.synced = map[string]bool{}, map[string]*consent.View{}, time.Now()
	return nil
}

// changed tells the server's view that a write of this session changed a
// subject ("" for many: an import), so its next read loads it afresh.
func (g *Gate) changed(subject string) {
	if g.cache == nil {
		return
	}
	if subject == "" {
		g.cache.sync(context.Background(), true)
		return
	}
	g.cache.changedBy(subject)
}
