package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
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
	return func(ctx context.Context, args []string) error {
		if *every <= 0 {
			return usagef("--checkpoint-every %s: expected a positive duration", *every)
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
		pages := web.New(web.Config{Gate: g, SessionKey: sessionKey, Logger: logger})
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
