package deliver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook posts batches of messages as JSON ({"events": [...]}) to a URL.
// Each request carries
//
//	Consentgate-Signature: t=UNIX,v1=HEX
//
// where HEX is HMAC-SHA256(key, "UNIX." + body), so that a receiver can
// check who sent it and reject replays of old requests; and
// Consentgate-Delivery: FIRST-LAST, the sequence numbers it carries. Any
// 2xx status acknowledges the batch; anything else is retried.
type Webhook struct {
	URL    string
	Key    []byte
	Client *http.Client // nil for one with a 10 s timeout
}

// Destination implements Sink.
func (w *Webhook) Destination() string { return "webhook:" + w.URL }

// Send implements Sink.
func (w *Webhook) Send(ctx context.Context, msgs []Message) error {
	return w.post(ctx, encode(msgs), msgs[0].Seq, msgs[len(msgs)-1].Seq)
}

// SendNotices implements NoticeSink: {"notices": [...]}, signed and
// acknowledged like consent changes.
func (w *Webhook) SendNotices(ctx context.Context, msgs []NoticeMessage) error {
	nb := NoticesBody{Notices: make([]json.RawMessage, len(msgs))}
	for i := range msgs {
		nb.Notices[i] = msgs[i].Body
	}
	body, err := json.Marshal(&nb)
	if err != nil {
		return err
	}
	return w.post(ctx, body, msgs[0].Seq, msgs[len(msgs)-1].Seq)
}

func (w *Webhook) post(ctx context.Context, body []byte, first, last int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Consentgate-Signature", Sign(w.Key, time.Now(), body))
	req.Header.Set("Consentgate-Delivery", fmt.Sprintf("%d-%d", first, last))
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", w.URL, resp.Status)
	}
	return nil
}

// Sign returns the Consentgate-Signature header value for a body sent at t.
func Sign(key []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks a Consentgate-Signature header against the body,
// refusing signatures older than maxAge: what a receiver runs.
func VerifySignature(key []byte, header string, body []byte, now time.Time, maxAge time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed Consentgate-Signature: expected t=UNIX,v1=HEX")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
		return fmt.Errorf("signature time %s is more than %v from now", time.Unix(sec, 0).UTC(), maxAge)
	}
	want := Sign(key, time.Unix(sec, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("signature does not match the body")
	}
	return nil
}
