package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/consentgate/consentgate/internal/httpapi"
	"github.com/consentgate/consentgate/internal/web"
)

func cmdServe(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("serve")
	addr := fs.String("addr", ":8080", "the `ADDRESS` to listen on (:0 picks a free port)")
	every := fs.Duration("checkpoint-every", time.Minute, "how often to checkpoint the log while it grows")
	quiet := fs.Bool("quiet", false, "log only warnings and errors (not every request)")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	signer, err := a.signer()
	if err != nil {
		return err
	}
	sessionKey, err := a.secret("session.key")
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	srv := httpapi.New(httpapi.Config{Store: st, Keys: st.keys, Signer: signer, Logger: logger, CheckpointEvery: *every,
		Extra: web.New(sessionKey)})
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "consentgate serving on http://%s (log origin %s)\n", l.Addr(), signer.Origin)
	logger.Info("serving", "addr", l.Addr().String())
	return srv.Run(ctx, l)
}
