package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/httpapi"
	"github.com/consentgate/consentgate/internal/web"
)

func cmdServe(a *app, fs *pflag.FlagSet) runFunc {
	addr := fs.String("addr", ":8080", "the `ADDRESS` to listen on (:0 picks a free port)")
	every := fs.Duration("checkpoint-every", time.Minute, "how often to checkpoint the log while it grows")
	quiet := fs.Bool("quiet", false, "log only warnings and errors (not every request)")
	public := fs.String("public-url", "", "the `URL` members and staff reach the server at, e.g. behind a proxy that ends TLS; when it is https the session cookie is Secure")
	return func(ctx context.Context, args []string) error {
		if *every <= 0 {
			return usagef("--checkpoint-every %s: expected a positive duration", *every)
		}
		if *public != "" {
			u, err := url.Parse(*public)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				return usagef("--public-url %q: expected an absolute http or https URL, such as https://privacy.example.com", *public)
			}
		}
		level := slog.LevelInfo
		if *quiet {
			level = slog.LevelWarn
		}
		logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		g, err := a.openWith(ctx, gate.Config{Mode: gate.Create, Serving: true, Warn: func(msg string) { logger.Warn(msg) }})
		if err != nil {
			return err
		}
		defer a.done(g)
		origin, err := g.Origin(ctx)
		if err != nil {
			return err
		}
		sessionKey, err := g.Secret("session.key")
		if err != nil {
			return err
		}
		pages := web.New(web.Config{Gate: g, SessionKey: sessionKey, Logger: logger, PublicURL: *public})
		srv := httpapi.New(httpapi.Config{Gate: g, Logger: logger, CheckpointEvery: *every, Pages: pages})
		l, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "consentgate serving on http://%s (log origin %s)\n", l.Addr(), origin)
		logger.Info("serving", "addr", l.Addr().String())
		return srv.Run(ctx, l)
	}
}
