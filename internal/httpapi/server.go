// Package httpapi is consentgate's JSON API (SPEC §7), a front end over
// the application (gate): it reads a request, calls one use case and
// writes its answer, with bearer tokens, the C2SP log paths, the OpenAPI
// document, health and Prometheus metrics. It mounts the web pages given
// to it beside the API, and builds none of their answers.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

// Config is what a server runs on.
type Config struct {
	Gate   *gate.Gate
	Logger *slog.Logger
	// MaxBody bounds request bodies (default 1 MiB).
	MaxBody int64
	// CheckpointEvery is how often the log is checkpointed when it grew
	// (default one minute).
	CheckpointEvery time.Duration
	// Pages, when not nil, serves the web pages: /privacy, /admin and
	// /static/ are routed to it.
	Pages http.Handler
}

// Server serves the API.
type Server struct {
	Config
	mux       *http.ServeMux
	metrics   *metrics
	routeList []Route
	// fullSince is when a write last failed for lack of space (unix
	// nanoseconds; 0 once a write has succeeded since): /healthz reports
	// the store unwritable meanwhile.
	fullSince atomic.Int64
}

// New builds a server.
func New(c Config) *Server {
	if c.MaxBody == 0 {
		c.MaxBody = 1 << 20
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	s := &Server{Config: c, mux: http.NewServeMux(), metrics: newMetrics()}
	s.metrics.reg.MustRegister(newNoticeCollector(c.Gate))
	s.routes()
	if c.Pages != nil {
		for _, p := range []string{"/privacy", "/privacy/", "/admin", "/admin/", "/static/"} {
			s.mux.Handle(p, c.Pages)
		}
	}
	return s
}

// Handler is the whole server: routes behind logging, metrics and recovery.
func (s *Server) Handler() http.Handler { return s.observe(s.mux) }

// Run serves on l until ctx ends, then shuts down gracefully (requests in
// flight get ten seconds); it checkpoints the log every CheckpointEvery
// when it grew, and once more on the way out.
func (s *Server) Run(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	tick := time.NewTicker(s.CheckpointEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			s.Checkpoint(ctx)
		case <-ctx.Done():
			shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := srv.Shutdown(shut)
			cancel()
			s.Checkpoint(context.Background())
			if errors.Is(<-done, http.ErrServerClosed) {
				return err
			}
			return err
		}
	}
}

// Checkpoint issues a checkpoint now if the log grew since the last.
func (s *Server) Checkpoint(ctx context.Context) {
	if _, err := s.Gate.Checkpoint(ctx); err != nil {
		s.Logger.Error("checkpoint", "err", err)
	}
}

// authed wraps a handler that needs a principal: the request's bearer
// token.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, p access.Principal) error) http.HandlerFunc {
	return s.authedUpTo(s.MaxBody, h)
}

// authedUpTo is authed with its own body limit (a batch of decisions is
// larger than a consent event).
func (s *Server) authedUpTo(limit int64, h func(w http.ResponseWriter, r *http.Request, p access.Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			token = ""
		}
		p, err := s.Gate.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := h(w, r, p); err != nil {
			s.fail(w, r, err)
		}
	}
}

// public wraps a handler anyone may call (health, metrics, the log).
func (s *Server) public(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}
