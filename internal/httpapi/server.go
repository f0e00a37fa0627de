// Package httpapi is consentgate's JSON API (SPEC §7), a front end over
// the application (gate): it reads a request, calls one use case and
// writes its answer, with bearer tokens, the C2SP log paths, the OpenAPI
// document, health and Prometheus metrics. It mounts the web pages given
// to it beside the API, and builds none of their answers.
package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/httpmux"
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
	// BodyTimeout bounds the reading of a request body (default ten
	// seconds), extended by a second for every 64 KiB received: a body
	// trickled in is cut off, a large one sent at a sane rate is not.
	BodyTimeout time.Duration
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
	if c.BodyTimeout == 0 {
		c.BodyTimeout = 10 * time.Second
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

// Handler is the whole server: routes behind logging, metrics and
// recovery, and the hardening every answer gets (see harden).
func (s *Server) Handler() http.Handler { return s.bodyDeadline(s.observe(s.harden(s.mux))) }

// bodyDeadline puts a deadline on reading a request's body (BodyTimeout),
// on the connection itself: outermost, where the ResponseWriter is the
// server's.
func (s *Server) bodyDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			r.Body = newDeadlineBody(w, r.Body, s.BodyTimeout)
		}
		h.ServeHTTP(w, r)
	})
}

// harden is what every request gets: X-Content-Type-Options: nosniff on
// the answer, and a JSON error of the API's shape for a path no route serves (404) or a method
// the path's routes do not take (405, with Allow). The pages answer their
// own paths, errors included.
func (s *Server) harden(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if _, pattern := s.mux.Handler(r); pattern != "" {
			h.ServeHTTP(w, r)
			return
		}
		// The mux says 405 (and Allow) or 404; the API words it.
		if allow, ok := httpmux.Unmatched(s.mux, r); ok {
			w.Header().Set("Allow", allow)
			s.fail(w, r, &Error{http.StatusMethodNotAllowed, "method_not_allowed", r.URL.Path + " does not take " + r.Method + "; it takes " + allow, ""})
			return
		}
		s.fail(w, r, &Error{http.StatusNotFound, string(gate.NotFound), "no route serves " + r.Method + " " + r.URL.Path + " (GET /openapi.json lists the routes)", ""})
	})
}

// bodyRate is the rate a body's deadline grows at as it arrives.
const bodyRate = 64 << 10 // bytes per second

// deadlineBody reads a request body within a deadline on the connection:
// the timeout from the first read, plus a second per bodyRate bytes
// received. Reading past the deadline fails (the API answers 408).
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	start   time.Time
	timeout time.Duration
	n       int64
}

func newDeadlineBody(w http.ResponseWriter, body io.ReadCloser, timeout time.Duration) *deadlineBody {
	b := &deadlineBody{ReadCloser: body, rc: http.NewResponseController(w), start: time.Now(), timeout: timeout}
	b.rc.SetReadDeadline(b.start.Add(timeout)) // not every writer has a connection (tests): then nothing to bound
	return b
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	before := b.n
	b.n += int64(n)
	// Once the body has ended the server reads the connection for the next
	// request without a deadline: leave it so.
	if err == nil && b.n/bodyRate != before/bodyRate {
		b.rc.SetReadDeadline(b.start.Add(b.timeout + time.Duration(b.n/bodyRate)*time.Second))
	}
	return n, err
}

// Run serves on l until ctx ends, then shuts down gracefully (requests in
// flight get ten seconds); it checkpoints the log every CheckpointEvery
// when it grew, and once more on the way out. A request's header must
// arrive within five seconds, a whole request (header and body) within a
// minute unless its body keeps arriving at a sane rate (BodyTimeout), and
// a connection idle for two minutes is closed.
func (s *Server) Run(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)}
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
// token. Its answers are Cache-Control: no-store, and the ids its path
// names are checked (consent.ValidateID) before the handler runs.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, p access.Principal) error) http.HandlerFunc {
	return s.authedUpTo(s.MaxBody, h)
}

// authedUpTo is authed with its own body limit (a batch of decisions is
// larger than a consent event).
func (s *Server) authedUpTo(limit int64, h func(w http.ResponseWriter, r *http.Request, p access.Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			token = ""
		}
		p, err := s.Gate.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := pathIDs(r); err != nil {
			s.fail(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := h(w, r, p); err != nil {
			s.fail(w, r, err)
		}
	}
}

// pathIDs checks every id the route's path names ({id}, {version}) by
// the rule the imports check ids by.
func pathIDs(r *http.Request) error {
	for rest := r.Pattern; ; {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			return nil
		}
		name, tail, _ := strings.Cut(after, "}")
		rest = tail
		if strings.HasSuffix(name, "...") {
			continue
		}
		if err := consent.ValidateID(r.PathValue(name)); err != nil {
			return badRequest("the path's {%s}: %v", name, err)
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
