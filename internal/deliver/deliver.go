// Package deliver sends consent changes, and recipients their notices, out
// of the store: to webhooks (signed as Standard Webhooks, retried with
// backoff) and to NATS JetStream.
// The consent events themselves are the outbox — stored in the same
// transaction as the change, in commit order — and each destination keeps
// a cursor in the store, advanced only after the destination acknowledged
// a batch. Delivery is therefore at least once and in sequence order, which
// is in order per subject; a restarted deliverer resumes at its cursor.
package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Message is a consent change as destinations receive it.
type Message struct {
	Seq       int64          `json:"seq"` // unique and increasing: receivers deduplicate by it
	Subject   string         `json:"subject"`
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient,omitempty"` // absent: every recipient
	State     string         `json:"state"`               // granted or denied
	At        timestamp.Time `json:"at"`
	Source    string         `json:"source"`
	// Policy and Notice are the policy version the choice was given under
	// and its notice URL, as the event noted them (absent: it noted none).
	Policy string `json:"policy,omitempty"`
	Notice string `json:"notice,omitempty"`
}

func message(e *consent.Event) Message {
	return Message{Seq: e.Seq, Subject: e.Subject, Purpose: e.Purpose, Recipient: e.Recipient, State: e.State.String(), At: e.At, Source: e.Source,
		Policy: e.Policy, Notice: e.Notice}
}

// Sink is a destination. Send returns nil only once the destination has
// acknowledged every message.
type Sink interface {
	// Destination names the sink's cursor in the store, e.g.
	// "webhook:https://example.com/hook".
	Destination() string
	Send(ctx context.Context, msgs []Message) error
}

// Options tune a delivery loop.
type Options struct {
	Batch int           // messages per send (default 500)
	Poll  time.Duration // how often to look for new events (default 200 ms)
	Once  bool          // stop when the outbox is drained (or a batch failed onceTries retries: an error)
	// Backoff bounds the wait between failed sends: it starts at
	// MinBackoff and doubles to MaxBackoff (defaults 100 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	Log                    io.Writer // one line per batch and per failure; nil for none
}

// Run delivers every consent event after the sink's cursor, then follows
// new ones until ctx ends (or, with Once, until none is left).
func Run(ctx context.Context, st store.Store, sink Sink, o Options) error {
	return loop(ctx, st, sink.Destination(), o,
		func(after int64, limit int) ([]Message, error) {
			evs, err := st.ConsentAfter(ctx, after, limit)
			msgs := make([]Message, len(evs))
			for i := range evs {
				msgs[i] = message(&evs[i])
			}
			return msgs, err
		},
		func(m *Message) int64 { return m.Seq }, sink.Send, "events")
}

// NoticeMessage is a notice to a recipient as destinations receive it:
// the notice with its log evidence, as GET /v1/notices/{id} answers it.
type NoticeMessage struct {
	Seq       int64 // the notice's place in the outbox
	Recipient string
	ID        string
	Body      json.RawMessage
}

// NoticeSink is a destination of one recipient's notices.
type NoticeSink interface {
	Destination() string
	SendNotices(ctx context.Context, msgs []NoticeMessage) error
}

// RunNotices delivers the notices to recipient after the sink's cursor
// (its destination prefixed with "notices:RECIPIENT:"), then follows new
// ones, like Run: at least once, in order. prepare gives each stored
// notice the body the recipient receives.
func RunNotices(ctx context.Context, st store.Store, recipient string, sink NoticeSink,
	prepare func(ctx context.Context, ns []store.Notice) ([]NoticeMessage, error), o Options) error {
	return loop(ctx, st, NoticesDestination(recipient, sink.Destination()), o,
		func(after int64, limit int) ([]NoticeMessage, error) {
			ns, err := st.NoticesAfter(ctx, recipient, after, limit)
			if err != nil || len(ns) == 0 {
				return nil, err
			}
			return prepare(ctx, ns)
		},
		func(m *NoticeMessage) int64 { return m.Seq }, sink.SendNotices, "notices")
}

// NoticesDestination names the cursor of recipient's notices to a sink
// whose Destination is dest.
func NoticesDestination(recipient, dest string) string {
	return "notices:" + recipient + ":" + dest
}

// onceTries is how many times a run with Once retries a batch before it
// gives up with an error (about a minute with the default backoff).
const onceTries = 10

// loop is the delivery loop of one destination over one outbox.
func loop[T any](ctx context.Context, st store.Store, dest string, o Options, after func(after int64, limit int) ([]T, error),
	seq func(*T) int64, send func(context.Context, []T) error, what string) error {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	cursor, err := st.Delivered(ctx, dest)
	if err != nil {
		return err
	}
	for {
		msgs, err := after(cursor, o.Batch)
		if ctx.Err() != nil {
			return nil // stopped
		}
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			if o.Once {
				return nil
			}
			if err := sleep(ctx, o.Poll); err != nil {
				return nil
			}
			continue
		}
		first, last := seq(&msgs[0]), seq(&msgs[len(msgs)-1])
		wait, tries := o.MinBackoff, 0
		for {
			err := send(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if o.Once && tries >= onceTries {
				// A run that is to stop (cron) does not wait forever on a
				// destination that is down: the next run resumes here.
				return fmt.Errorf("%s: seq %d–%d not delivered after %d attempts: %w", dest, first, last, tries+1, err)
			}
			tries++
			logf(o.Log, "%s: seq %d–%d not delivered, retrying in %v: %v\n", dest, first, last, wait, err)
			// Full jitter keeps many deliverers from retrying in step.
			if err := sleep(ctx, wait/2+rand.N(wait/2+1)); err != nil {
				return nil
			}
			wait = min(2*wait, o.MaxBackoff)
		}
		cursor = last
		// Saved even when stopping: the batch was acknowledged.
		if err := st.SetDelivered(context.WithoutCancel(ctx), dest, cursor); err != nil {
			return err
		}
		logf(o.Log, "%s: delivered seq %d–%d (%d %s)\n", dest, first, cursor, len(msgs), what)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// Body is the JSON a webhook receives.
type Body struct {
	Events []Message `json:"events"`
}

// NoticesBody is the JSON a recipient's webhook receives: its notices,
// each as GET /v1/notices/{id} answers it.
type NoticesBody struct {
	Notices []json.RawMessage `json:"notices"`
}

func encode(msgs []Message) []byte {
	b, _ := json.Marshal(Body{Events: msgs})
	return b
}
