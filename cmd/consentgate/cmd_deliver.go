package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/deliver"
	"github.com/consentgate/consentgate/internal/gate"
)

func cmdDeliver(a *app, fs *pflag.FlagSet) runFunc {
	var hooks []string
	fs.Var(listFlag{&hooks}, "webhook", "POST consent changes to `URL` (repeat for several)")
	natsURL := fs.String("nats", "", "publish consent changes to the NATS JetStream server at `URL` (nats://…)")
	natsSubject := fs.String("nats-subject", "consentgate.consent", "the NATS `SUBJECT`")
	natsStream := fs.String("nats-stream", "CONSENTGATE", "the JetStream `STREAM` (created with the subject when missing)")
	var noticeHooks []string
	fs.Var(listFlag{&noticeHooks}, "notices", "POST a recipient's notices to its webhook, `RECIPIENT=URL` (repeat for several)")
	var noticeNATS []string
	fs.Var(listFlag{&noticeNATS}, "notices-nats", "publish `RECIPIENT`'s notices to the --nats server, subject --notices-nats-prefix.RECIPIENT (repeat for several)")
	natsNoticePrefix := fs.String("notices-nats-prefix", "consentgate.notices", "the NATS subject `PREFIX` of notices (the notices' stream holds PREFIX.>)")
	natsNoticeStream := fs.String("notices-nats-stream", "CONSENTGATE_NOTICES", "the JetStream `STREAM` of notices (created with PREFIX.> when missing)")
	once := fs.Bool("once", false, "stop when every stored change is delivered")
	poll := fs.Duration("poll", 200*time.Millisecond, "look for new changes every `DURATION`")
	batch := new(int)
	*batch = 500
	fs.Var(countFlag{batch, 1, "a whole number of at least 1"}, "batch", "`N` changes per request, at least 1")
	return func(ctx context.Context, args []string) error {
		pos := args
		if len(pos) > 0 {
			return usagef("unexpected argument %q", pos[0])
		}
		if len(noticeNATS) > 0 && *natsURL == "" {
			return usagef("--notices-nats needs --nats URL")
		}
		if len(hooks) == 0 && *natsURL == "" && len(noticeHooks) == 0 {
			return usagef("give at least one --webhook URL, --nats URL or --notices RECIPIENT=URL")
		}
		nhooks, err := noticeHooksOf(noticeHooks)
		if err != nil {
			return err
		}
		if *poll <= 0 {
			return usagef("--poll %s: expected a positive duration such as 200ms or 5s", *poll)
		}
		if err := checkHooks(hooks); err != nil {
			return err
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		var sinks []deliver.Sink
		var routes []gate.NoticeRoute
		if len(hooks) > 0 || len(nhooks) > 0 {
			key, err := g.Secret("webhook.key")
			if err != nil {
				return err
			}
			for _, u := range hooks {
				sinks = append(sinks, deliver.ChangesWebhook(key, u))
			}
			for _, h := range nhooks {
				routes = append(routes, gate.NoticeRoute{Recipient: h.recipient, Sink: deliver.NoticesWebhook(key, h.recipient, h.url)})
			}
		}
		if *natsURL != "" {
			n := &deliver.NATS{URL: *natsURL, Subject: *natsSubject, Stream: *natsStream}
			if err := n.Connect(ctx); err != nil {
				return err
			}
			defer n.Close()
			sinks = append(sinks, n)
		}
		for _, r := range noticeNATS {
			n := &deliver.NATS{URL: *natsURL, Subject: *natsNoticePrefix + "." + r, Stream: *natsNoticeStream, StreamSubjects: []string{*natsNoticePrefix + ".>"}}
			if err := n.Connect(ctx); err != nil {
				return err
			}
			defer n.Close()
			routes = append(routes, gate.NoticeRoute{Recipient: r, Sink: n})
		}
		return g.Deliver(ctx, sinks, routes, deliver.Options{Batch: *batch, Poll: *poll, Once: *once, Log: a.stderr})
	}
}

// noticeHook is a recipient's webhook, from --notices RECIPIENT=URL.
type noticeHook struct{ recipient, url string }

func noticeHooksOf(flags []string) ([]noticeHook, error) {
	var nhooks []noticeHook
	for _, h := range flags {
		r, u, ok := strings.Cut(h, "=")
		if !ok || r == "" {
			return nil, usagef("--notices %q: expected RECIPIENT=URL, e.g. partner-x=https://partner.example/notices", h)
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, usagef("--notices %q: expected an http:// or https:// URL after %s=", h, r)
		}
		nhooks = append(nhooks, noticeHook{r, u})
	}
	return nhooks, nil
}

func checkHooks(hooks []string) error {
	for _, h := range hooks {
		if u, err := url.Parse(h); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--webhook %q: expected an http:// or https:// URL", h)
		}
	}
	return nil
}

// cmdDeliverSecret prints the Standard Webhooks secret (whsec_…) a
// receiver checks one endpoint's requests with. Each endpoint has its own,
// derived from webhook.key in the keys directory and the URL exactly as
// deliver is given it; the key is created here if it does not exist yet,
// so that a receiver can be configured before the first delivery.
func cmdDeliverSecret(a *app, fs *pflag.FlagSet) runFunc {
	hook := fs.String("webhook", "", "the secret of the consent-change webhook at `URL`, as given to deliver --webhook")
	notices := fs.String("notices", "", "the secret of a recipient's notice webhook, `RECIPIENT=URL` as given to deliver --notices")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		if (*hook == "") == (*notices == "") {
			return usagef("give one --webhook URL or one --notices RECIPIENT=URL")
		}
		var nhooks []noticeHook
		if *notices != "" {
			var err error
			if nhooks, err = noticeHooksOf([]string{*notices}); err != nil {
				return err
			}
		} else if err := checkHooks([]string{*hook}); err != nil {
			return err
		}
		g, err := a.open(ctx, gate.Write)
		if err != nil {
			return err
		}
		defer a.done(g)
		key, err := g.Secret("webhook.key")
		if err != nil {
			return err
		}
		w := deliver.ChangesWebhook(key, *hook)
		if len(nhooks) > 0 {
			w = deliver.NoticesWebhook(key, nhooks[0].recipient, nhooks[0].url)
		}
		fmt.Fprintln(a.stdout, w.Secret())
		return nil
	}
}

func cmdDeliverStatus(a *app, fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the destinations as JSON")
	return func(ctx context.Context, args []string) error {
		pos := args
		if len(pos) > 0 {
			return usagef("unexpected argument %q", pos[0])
		}
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		ds, err := g.Deliveries(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(ds)
		}
		if len(ds) == 0 {
			fmt.Fprintln(a.stdout, "no destination has received consent changes yet")
			return nil
		}
		for _, d := range ds {
			fmt.Fprintf(a.stdout, "%s: delivered up to seq %d, %d pending (last progress %s)\n", d.Destination, d.Delivered, d.Pending, d.UpdatedAt)
		}
		return nil
	}
}
