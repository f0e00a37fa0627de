package deliver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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

// Webhook posts batches of messages as JSON ({"events": [...]} or
// {"notices": [...]}) to a URL, signed as Standard Webhooks
// (https://www.standardwebhooks.com/) sign them, so that a receiver can
// check them with any of that scheme's libraries. Each request carries
//
//	webhook-id: msg_TAG_FIRST-LAST
//	webhook-timestamp: UNIX
//	webhook-signature: v1,BASE64
//	Consentgate-Delivery: FIRST-LAST
//
// where BASE64 is the base64 HMAC-SHA256, keyed with Key, of
// "ID.UNIX.BODY"; UNIX is the attempt's time, so a receiver refuses
// replays of old requests; the id is the same for every attempt of a
// batch (TAG is derived from the key, so it differs between endpoints and
// stores), and FIRST-LAST are the sequence numbers the batch carries. Any
// 2xx status acknowledges the batch; anything else is retried.
type Webhook struct {
	URL string
	// Key is the endpoint's signing key: a receiver is configured with
	// Secret(), its Standard Webhooks form. ChangesWebhook and
	// NoticesWebhook derive one per endpoint from the store's key.
	Key    []byte
	Client *http.Client // nil for one with a 10 s timeout
}

// SecretPrefix marks a Standard Webhooks symmetric secret.
const SecretPrefix = "whsec_"

// ChangesWebhook is the webhook at url that consent changes go to, with
// the signing key derived for it from storeKey (the keys directory's
// webhook.key): each endpoint has a secret of its own, so that one
// receiver cannot sign for another.
func ChangesWebhook(storeKey []byte, url string) *Webhook {
	w := &Webhook{URL: url}
	w.Key = endpointKey(storeKey, w.Destination())
	return w
}

// NoticesWebhook is recipient's webhook at url that its notices go to,
// with its own signing key derived from storeKey: a recipient cannot sign
// notices to another recipient, nor consent changes.
func NoticesWebhook(storeKey []byte, recipient, url string) *Webhook {
	w := &Webhook{URL: url}
	w.Key = endpointKey(storeKey, NoticesDestination(recipient, w.Destination()))
	return w
}

// endpointKey is HMAC-SHA256(storeKey, label ‖ 0 ‖ destination): the
// destination is the cursor's name `deliver status` shows.
func endpointKey(storeKey []byte, destination string) []byte {
	mac := hmac.New(sha256.New, storeKey)
	mac.Write([]byte("consentgate webhook signing key\x00"))
	mac.Write([]byte(destination))
	return mac.Sum(nil)
}

// Secret is the endpoint's secret as a Standard Webhooks receiver is
// configured with it: "whsec_" and the base64 of Key.
func (w *Webhook) Secret() string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(w.Key)
}

// ParseSecret reads a Standard Webhooks secret ("whsec_" and base64; the
// prefix may be left out) back to the key bytes.
func ParseSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("a webhook secret is %s followed by base64: %v", SecretPrefix, err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("a webhook secret holds 24 to 64 bytes, this one %d", len(key))
	}
	return key, nil
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

// MessageID is the webhook-id of the batch first–last: the same for every
// attempt, different for every endpoint (its tag comes from the key).
func (w *Webhook) MessageID(first, last int64) string {
	mac := hmac.New(sha256.New, w.Key)
	mac.Write([]byte("consentgate webhook-id"))
	return fmt.Sprintf("msg_%s_%d-%d", hex.EncodeToString(mac.Sum(nil)[:8]), first, last)
}

func (w *Webhook) post(ctx context.Context, body []byte, first, last int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	id, now := w.MessageID(first, last), time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(w.Key, id, now, body))
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

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign returns the webhook-signature header value of a message: "v1," and
// the base64 HMAC-SHA256 of "id.UNIX.body", UNIX being t in seconds.
func Sign(key []byte, id string, t time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, t.Unix(), body))
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(unix, 10) + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a request's Standard Webhooks headers against its body
// with the endpoint's secret (whsec_…), as a receiver does: the three
// headers present, a webhook-timestamp within tolerance of now either way
// (replays), and one of the space-separated webhook-signature entries a
// v1 signature that matches, compared in constant time. Entries of other
// versions (v1a, asymmetric) are skipped.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("expected the headers %s, %s and %s", HeaderID, HeaderTimestamp, HeaderSignature)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q: expected whole seconds since 1970", HeaderTimestamp, ts)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s %s is more than %v from now", HeaderTimestamp, time.Unix(unix, 0).UTC().Format(time.RFC3339), tolerance)
	}
	want := mac(key, id, unix, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature in webhook-signature matches the body")
}
