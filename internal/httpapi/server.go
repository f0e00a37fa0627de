// Package httpapi is consentgate's HTTP adapter (SPEC §7): the JSON API
// over the store, bearer-token access control, GPC, the C2SP log paths,
// the OpenAPI document, health and Prometheus metrics.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// Config is what a server runs on.
type Config struct {
	Store  store.Store
	Keys   store.Keys // the subject keys that link a subject to its pseudonyms
	Signer *translog.Signer
	Logger *slog.Logger
	// MaxBody bounds request bodies (default 1 MiB).
	MaxBody int64
	// CheckpointEvery is how often the log is checkpointed when it grew
	// (default one minute).
	CheckpointEvery time.Duration
	// Extra handlers mounted beside the API (the web pages).
	Extra func(mux *http.ServeMux, s *Server)
}

// Server serves the API.
type Server struct {
	Config
	mux       *http.ServeMux
	metrics   *metrics
	routeList []Route

	tokens sync.Map // token hash → cachedToken
	cache  *viewCache

	mu       sync.Mutex
	versions *decision.Versions
	policies []store.Policy
	digests  string
	checked  time.Time // when the published set was last compared
}

// versionsTTL is how long the compiled versions are used before the
// published set is compared again (a publication through this server
// takes effect at once; through another process, within it).
const versionsTTL = time.Second

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
	s := &Server{Config: c, mux: http.NewServeMux(), metrics: newMetrics(), cache: newViewCache(c.Store)}
	s.routes()
	if c.Extra != nil {
		c.Extra(s.mux, s)
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
			s.checkpoint(ctx)
		case <-ctx.Done():
			shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := srv.Shutdown(shut)
			cancel()
			s.checkpoint(context.Background())
			if errors.Is(<-done, http.ErrServerClosed) {
				return err
			}
			return err
		}
	}
}

// Checkpoint issues a checkpoint now if the log grew since the last.
func (s *Server) Checkpoint(ctx context.Context) { s.checkpoint(ctx) }

func (s *Server) checkpoint(ctx context.Context) {
	if s.Signer == nil {
		return
	}
	if _, err := translog.Issue(ctx, s.Store, s.Signer, timestamp.Now()); err != nil {
		s.Logger.Error("checkpoint", "err", err)
	}
}

// Versions returns the compiled published versions, compiling again only
// when the published set changed (another process may publish).
func (s *Server) Versions(ctx context.Context) (*decision.Versions, []store.Policy, error) {
	s.mu.Lock()
	if s.versions != nil && time.Since(s.checked) < versionsTTL {
		defer s.mu.Unlock()
		return s.versions, s.policies, nil
	}
	s.mu.Unlock()
	ps, err := s.Store.Policies(ctx)
	if err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Version + "\x00" + p.Digest + "\x00")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.versions != nil && s.digests == b.String() {
		s.checked = time.Now()
		return s.versions, s.policies, nil
	}
	vs, ps, err := store.LoadVersions(ctx, s.Store)
	if err != nil {
		return nil, nil, err
	}
	s.versions, s.policies, s.digests, s.checked = vs, ps, b.String(), time.Now()
	return vs, ps, nil
}

// forgetVersions makes the next Versions compare the published set.
func (s *Server) forgetVersions() {
	s.mu.Lock()
	s.checked = time.Time{}
	s.mu.Unlock()
}

// principalKey is the context key of the request's principal.
type principalKey struct{}

// PrincipalOf returns the request's principal (set by authenticate).
func PrincipalOf(ctx context.Context) (access.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(access.Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p (for the web pages' sessions).
func WithPrincipal(ctx context.Context, p access.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// tokenTTL is how long a looked-up token is trusted without asking the
// store again: a revocation takes effect within it.
const tokenTTL = 2 * time.Second

type cachedToken struct {
	p       access.Principal
	expires time.Time
}

// Authenticate resolves a bearer token to its principal; ErrUnauthorized
// for a missing, unknown or revoked one. Valid tokens are remembered for
// tokenTTL.
func (s *Server) Authenticate(ctx context.Context, token string) (access.Principal, error) {
	if token == "" {
		return access.Principal{}, errUnauthorized
	}
	hash := access.Hash(token)
	if c, ok := s.tokens.Load(hash); ok && time.Now().Before(c.(cachedToken).expires) {
		return c.(cachedToken).p, nil
	}
	p, err := s.lookupToken(ctx, hash)
	if err == nil {
		s.tokens.Store(hash, cachedToken{p, time.Now().Add(tokenTTL)})
	}
	return p, err
}

func (s *Server) lookupToken(ctx context.Context, hash string) (access.Principal, error) {
	t, err := s.Store.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.RevokedAt != 0) {
		return access.Principal{}, errUnauthorized
	}
	if err != nil {
		return access.Principal{}, err
	}
	return access.Principal{Role: access.Role(t.Role), Subject: t.Subject, Token: t.Hash}, nil
}

// authed wraps a handler that needs a principal: a bearer token, or one a
// web session put in the context.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, p access.Principal) error) http.HandlerFunc {
	return s.authedUpTo(s.MaxBody, h)
}

// authedUpTo is authed with its own body limit (a batch of decisions is
// larger than a consent event).
func (s *Server) authedUpTo(limit int64, h func(w http.ResponseWriter, r *http.Request, p access.Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalOf(r.Context())
		if !ok {
			auth := r.Header.Get("Authorization")
			token, found := strings.CutPrefix(auth, "Bearer ")
			if !found {
				token = ""
			}
			var err error
			if p, err = s.Authenticate(r.Context(), strings.TrimSpace(token)); err != nil {
				s.fail(w, r, err)
				return
			}
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

// must checks that p may do a on subject, answering 403 otherwise — the
// same for a subject that exists and one that does not.
func must(p access.Principal, a access.Action, subject string) error {
	if !p.Can(a, subject) {
		return errForbidden
	}
	return nil
}
