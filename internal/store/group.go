package store

import (
	"context"
	"errors"
	"sync"
)

// Group commits concurrent writes together: callers' batches queue (up to
// a bound, beyond which callers wait: backpressure), and one committer
// stores whatever has queued in one transaction — one log append, one
// fsync — then answers each caller. Under load the cost of a durable
// commit is shared; alone, a write commits at once.
type Group[E any] struct {
	// Commit stores batches in one transaction and returns how many of
	// each were new.
	Commit func(ctx context.Context, batches [][]E) ([]int, error)
	// MaxEvents bounds the events one transaction takes.
	MaxEvents int

	once sync.Once
	reqs chan *groupReq[E]
	quit chan struct{}
	wg   sync.WaitGroup
}

type groupReq[E any] struct {
	evs  []E
	done chan groupResult
}

type groupResult struct {
	added int
	err   error
}

// groupQueue bounds the batches waiting for the committer.
const groupQueue = 4096

// Add stores evs (in the next group transaction) and returns how many were
// new. If ctx ends while the write is queued or committing, Add returns
// ctx's error; the write may still be stored.
func (g *Group[E]) Add(ctx context.Context, evs []E) (int, error) {
	g.once.Do(g.start)
	r := &groupReq[E]{evs: evs, done: make(chan groupResult, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-g.quit:
		return 0, ErrClosed
	}
	select {
	case res := <-r.done:
		return res.added, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (g *Group[E]) start() {
	g.reqs = make(chan *groupReq[E], groupQueue)
	g.quit = make(chan struct{})
	if g.MaxEvents <= 0 {
		g.MaxEvents = 10_000
	}
	g.wg.Add(1)
	go g.run()
}

func (g *Group[E]) run() {
	defer g.wg.Done()
	for {
		var first *groupReq[E]
		select {
		case first = <-g.reqs:
		case <-g.quit:
			// Answer whatever is still queued.
			for {
				select {
				case r := <-g.reqs:
					r.done <- groupResult{err: ErrClosed}
				default:
					return
				}
			}
		}
		group := []*groupReq[E]{first}
		n := len(first.evs)
	more:
		for n < g.MaxEvents {
			select {
			case r := <-g.reqs:
				group = append(group, r)
				n += len(r.evs)
			default:
				break more
			}
		}
		g.commit(group)
	}
}

// commit stores a group; if the group fails, each batch is tried alone so
// that one bad batch fails only its caller.
func (g *Group[E]) commit(group []*groupReq[E]) {
	batches := make([][]E, len(group))
	for i, r := range group {
		batches[i] = r.evs
	}
	added, err := g.Commit(context.Background(), batches)
	if errors.Is(err, ErrBusy) {
		// Another writer holds the store: every batch of the group, and
		// every one queued while this one waited, would wait as long
		// again. They are all answered busy at once.
		for _, r := range group {
			r.done <- groupResult{err: err}
		}
		for {
			select {
			case r := <-g.reqs:
				r.done <- groupResult{err: err}
			default:
				return
			}
		}
	}
	if err != nil && len(group) > 1 {
		for _, r := range group {
			g.commit([]*groupReq[E]{r})
		}
		return
	}
	for i, r := range group {
		if err != nil {
			r.done <- groupResult{err: err}
		} else {
			r.done <- groupResult{added: added[i]}
		}
	}
}

// Close stops the committer after the group in progress; queued writes
// fail with ErrClosed.
func (g *Group[E]) Close() {
	g.once.Do(g.start)
	close(g.quit)
	g.wg.Wait()
}
