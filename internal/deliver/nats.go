package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS publishes each message to a JetStream subject, with the header
// Nats-Msg-Id set to "consent-SEQ" so that the stream drops a redelivered
// duplicate, and waits for the stream's acknowledgement.
type NATS struct {
	URL     string
	Subject string // e.g. consentgate.consent
	Stream  string // created with Subject when missing
	// StreamSubjects are the subjects the stream is created with, when
	// not just Subject (a stream of every recipient's notices).
	StreamSubjects []string

	nc *nats.Conn
	js jetstream.JetStream
}

// Connect opens the connection and makes sure the stream exists.
func (n *NATS) Connect(ctx context.Context) error {
	nc, err := nats.Connect(n.URL, nats.Name("consentgate deliver"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("--nats %s: %w", n.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	if _, err := js.Stream(ctx, n.Stream); errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: n.Stream, Subjects: n.streamSubjects()})
		if err != nil {
			nc.Close()
			return fmt.Errorf("creating stream %s: %w", n.Stream, err)
		}
	} else if err != nil {
		nc.Close()
		return fmt.Errorf("stream %s: %w", n.Stream, err)
	}
	n.nc, n.js = nc, js
	return nil
}

// Close closes the connection.
func (n *NATS) Close() {
	if n.nc != nil {
		n.nc.Close()
	}
}

// Destination implements Sink.
func (n *NATS) Destination() string { return "nats:" + n.URL + "/" + n.Subject }

// Send implements Sink. Messages are published one at a time, each
// acknowledged before the next: an asynchronous batch could store a later
// message before a failed earlier one is retried, and order per subject is
// the promise.
func (n *NATS) Send(ctx context.Context, msgs []Message) error {
	for i := range msgs {
		data, _ := json.Marshal(&msgs[i])
		m := nats.NewMsg(n.Subject)
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, "consent-"+strconv.FormatInt(msgs[i].Seq, 10))
		if _, err := n.js.PublishMsg(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// SendNotices implements NoticeSink: each notice published to Subject with
// Nats-Msg-Id "notice-ID", acknowledged before the next.
func (n *NATS) SendNotices(ctx context.Context, msgs []NoticeMessage) error {
	for i := range msgs {
		m := nats.NewMsg(n.Subject)
		m.Data = msgs[i].Body
		m.Header.Set(jetstream.MsgIDHeader, "notice-"+msgs[i].ID)
		if _, err := n.js.PublishMsg(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (n *NATS) streamSubjects() []string {
	if len(n.StreamSubjects) > 0 {
		return n.StreamSubjects
	}
	return []string{n.Subject}
}
