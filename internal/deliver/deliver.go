// Package deliver sends consent changes out of the store: to webhooks
// (signed with HMAC-SHA256, retried with backoff) and to NATS JetStream.
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
	Once  bool          // stop when the outbox is drained
	// Backoff bounds the wait between failed sends: it starts at
	// MinBackoff and doubles to MaxBackoff (defaults 100 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	Log                    io.Writer // one line per batch and per failure; nil for none
}

// Run delivers every consent event after the sink's cursor, then follows
// new ones until ctx ends (or, with Once, until none is left).
func Run(ctx context.Context, st store.Store, sink Sink, o Options) error {
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
	dest := sink.Destination()
	cursor, err := st.Delivered(ctx, dest)
	if err != nil {
		return err
	}
	for {
		evs, err := st.ConsentAfter(ctx, cursor, o.Batch)
		if ctx.Err() != nil {
			return nil // stopped
		}
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			if o.Once {
				return nil
			}
			if err := sleep(ctx, o.Poll); err != nil {
				return nil
			}
			continue
		}
		msgs := make([]Message, len(evs))
		for i := range evs {
			msgs[i] = message(&evs[i])
		}
		wait := o.MinBackoff
		for {
			err := sink.Send(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			logf(o.Log, "%s: seq %d–%d not delivered, retrying in %v: %v\n", dest, msgs[0].Seq, msgs[len(msgs)-1].Seq, wait, err)
			// Full jitter keeps many deliverers from retrying in step.
			if err := sleep(ctx, wait/2+rand.N(wait/2+1)); err != nil {
				return nil
			}
			wait = min(2*wait, o.MaxBackoff)
		}
		cursor = msgs[len(msgs)-1].Seq
		// Saved even when stopping: the batch was acknowledged.
		if err := st.SetDelivered(context.WithoutCancel(ctx), dest, cursor); err != nil {
			return err
		}
		logf(o.Log, "%s: delivered seq %d–%d (%d events)\n", dest, msgs[0].Seq, cursor, len(msgs))
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

func encode(msgs []Message) []byte {
	b, _ := json.Marshal(Body{Events: msgs})
	return b
}
