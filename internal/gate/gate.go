// Package gate is consentgate's application: every use case — publishing
// and diffing policy versions, recording subject changes and consent,
// deciding, exporting and finalizing, reporting, impact, the transparency
// log and its proofs, manifests, tokens — computed in one place over the
// store and the decision engine. The front ends (the command line, the
// JSON API, the privacy centre and the admin console) parse a request,
// call one method and present its answer; none of them assembles an
// answer of its own. Failures are *Error values with a Code and a Hint
// that each front end words for its users.
package gate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// Mode is what a session may do to the store. Opening is explicit about
// intent: a read-only session never creates a store, a key or a file.
type Mode int

const (
	// ReadOnly: the store must exist; nothing is written (not even a
	// checkpoint, a key or a schema upgrade).
	ReadOnly Mode = iota
	// Write: the store must exist; the session may append to it.
	Write
	// Create: the session may append, creating the store and its keys
	// when there are none.
	Create
)

// Config says which store to open and how.
type Config struct {
	// Store is the DSN: sqlite:PATH (or a bare path), sqlite://PATH, or
	// postgres://… / postgresql://….
	Store string
	// Keys is the directory of the signing key, the subjects' log keys and
	// the other secrets; "" means PATH.keys beside a SQLite store.
	Keys string
	Mode Mode
	// Origin is the log's origin (the checkpoints' first line, SPEC §6's
	// consentgate/<deployment>), set when the signing key is created and
	// kept with it. "" takes the key's when there is one, else, at
	// creation, consentgate/<Deployment> when Deployment is set, else
	// consentgate/ and a random id unique to the store. Given with a
	// store whose key has another origin, Open fails (Invalid): an origin
	// never changes.
	Origin string
	// Deployment names the origin of a signing key created without an
	// Origin: consentgate/<deployment> (tests give their stores fixed
	// names).
	Deployment string
	// Serving keeps a view of every subject in memory for reads of the
	// present state, following the store's writes (a long-running server).
	Serving bool
	// Warn receives what a person should hear about that is not an error
	// (an export found abandoned as the store opened). Nil drops them.
	Warn func(msg string)
	// BusyTimeout is how long a write waits for another writer (a long
	// import) before it fails with the Busy code; 0: ten seconds, two for
	// a server.
	BusyTimeout time.Duration
	// Verifier, when set, is the log's verifier key to check checkpoints
	// with in place of the keys directory's: an auditor's read-only
	// session over a copy of the store, without its secrets. (A read-only
	// session does without the subject keys when they are not at hand;
	// what needs them, a pseudonym, fails with the KeysDir hint.)
	Verifier string
	// StoryClock, when set, is the time notices are sent, answered and
	// judged overdue at (and the "now" of the impact they are sent from):
	// the guided tour replays a year of notices on its story's calendar.
	// Nil, as everywhere else: the real time.
	StoryClock func() timestamp.Time
}

// Gate is one session over a store. It is safe for concurrent use.
type Gate struct {
	cfg     Config
	st      store.Store
	keys    *keyRef
	keysDir string
	start   int64 // the log's size when opened

	signerMu sync.Mutex
	// deliverMu lets one notice delivery at a time issue its checkpoint.
	deliverMu sync.Mutex
	// noticeCache holds what listings read of each stored notice, by seq.
	noticeMu    sync.Mutex
	noticeCache map[int64]*noticeSummary
	signer      *translog.Signer

	mu       sync.Mutex
	versions *decision.Versions
	policies []store.Policy
	digests  string
	checked  time.Time

	cache  *viewCache // nil unless serving
	tokens sync.Map   // token hash → cachedToken
	closed bool
}

// Open opens a session. A store that is not there is a NoStore error
// (with the CreateStore hint) unless the mode is Create.
func Open(ctx context.Context, c Config) (*Gate, error) {
	backend, target, err := parseDSN(c.Store)
	if err != nil {
		return nil, err
	}
	if c.Verifier != "" {
		if err := CheckVerifierKey(c.Verifier); err != nil {
			return nil, err
		}
	}
	dir := c.Keys
	if dir == "" {
		if backend != "sqlite" {
			return nil, Errorf(Invalid, KeysDir, "a keys directory is required with a PostgreSQL store")
		}
		dir = target + ".keys"
	}
	if err := checkOrigin(c, dir); err != nil {
		return nil, err
	}
	opts := store.OpenOptions{Create: c.Mode == Create, ReadOnly: c.Mode == ReadOnly}
	opts.BusyTimeout = c.BusyTimeout
	if c.Serving && opts.BusyTimeout == 0 {
		// A server answers "busy" within a couple of seconds when another
		// writer (a long import) holds the store, rather than hang.
		opts.BusyTimeout = ServingBusyTimeout
	}
	// The subject keys are never created here: a store that holds events
	// but whose keys are not in dir must not get new ones (its log would
	// no longer verify); they are created below only for a store without
	// events.
	keys := &keyRef{}
	var keysErr error // why the subject keys could not be opened
	if keys.ks, err = translog.OpenKeysWith(dir, store.OpenOptions{ReadOnly: opts.ReadOnly}); errors.Is(err, translog.ErrNoKeys) {
		keys.ks, err = nil, nil
	} else if errors.Is(err, fs.ErrPermission) {
		keys.ks, keysErr, err = nil, err, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys %s: %w", dir, err)
	}
	var st store.Store
	switch backend {
	case "postgres":
		st, err = postgres.OpenWith(ctx, target, keys, opts)
	default:
		st, err = sqlite.OpenWith(ctx, target, keys, opts)
	}
	if err != nil {
		keys.Close()
		if errors.Is(err, store.ErrNoStore) {
			return nil, &Error{Code: NoStore, Hint: CreateStore, Err: err, Message: fmt.Sprintf("there is no consentgate store at %s", redactDSN(c.Store))}
		}
		return nil, err
	}
	g := &Gate{cfg: c, st: st, keys: keys, keysDir: dir}
	if keys.ks == nil {
		subj, cons, err := st.EventCounts(ctx)
		if err == nil && subj+cons > 0 {
			err = Errorf(Unavailable, KeysDir, "the subject keys of this store's log are not in %s", dir)
			if keysErr != nil {
				err = &Error{Code: Unavailable, Hint: KeysDir, Err: keysErr, Message: keysErr.Error()}
			}
			// A read-only session does without them until something
			// needs a subject's pseudonym (an auditor's copy of the
			// store, the secrets kept elsewhere).
			if c.Mode == ReadOnly {
				keys.missing, err = err, nil
			}
		} else if err == nil && keysErr != nil {
			err = fmt.Errorf("keys %s: %w", dir, keysErr)
		} else if err == nil && c.Mode != ReadOnly {
			keys.ks, err = translog.OpenKeys(dir)
		}
		if err != nil {
			g.close()
			return nil, err
		}
	}
	if g.start, err = st.LogSize(ctx); err != nil {
		g.close()
		return nil, err
	}
	if c.Mode != ReadOnly {
		if err := g.reconcileExports(ctx); err != nil {
			g.close()
			return nil, err
		}
	}
	if c.Serving {
		g.cache = newViewCache(st)
	}
	return g, nil
}

// parseDSN splits a DSN into its backend and the path or URL to open.
func parseDSN(dsn string) (backend, target string, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		target = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		target = strings.TrimPrefix(dsn, "sqlite:")
	case strings.Contains(dsn, "://"):
		return "", "", invalid("store %q: expected sqlite:PATH or postgres://HOST/DB", redactDSN(dsn))
	default:
		target = dsn
	}
	if target == "" {
		return "", "", invalid("store %q: the SQLite path is empty", dsn)
	}
	return "sqlite", target, nil
}

// redactDSN hides a password in a DSN.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// ErrCheckpointPending: a session's changes are stored, but the signed
// checkpoint that should cover them could not be issued as it closed; the
// next writing session issues one. A warning, not a failure of the change.
var ErrCheckpointPending = errors.New("the change is stored")

// Close ends the session. A writing session whose log grew issues a
// signed checkpoint first (SPEC §6); failing to is ErrCheckpointPending, after
// everything is closed.
func (g *Gate) Close() error {
	if g.closed {
		return nil
	}
	var cpErr error
	if g.cfg.Mode != ReadOnly {
		ctx := context.Background()
		if size, err := g.st.LogSize(ctx); err == nil && size > g.start {
			if _, err := g.Checkpoint(ctx); err != nil {
				cpErr = fmt.Errorf("%w: the log grew to %d leaves but its checkpoint could not be signed (%v); the next command that writes signs it", ErrCheckpointPending, size, err)
			}
		}
	}
	err := g.close()
	if cpErr != nil {
		return cpErr
	}
	return err
}

func (g *Gate) close() error {
	g.closed = true
	err := g.st.Close()
	g.keys.Close()
	return err
}

// Mode is the session's mode.
func (g *Gate) Mode() Mode { return g.cfg.Mode }

// writable refuses a use case that writes in a read-only session.
func (g *Gate) writable() error {
	if g.cfg.Mode == ReadOnly {
		return Errorf(Internal, NoHint, "a read-only session may not write")
	}
	return nil
}

func (g *Gate) warn(format string, args ...any) {
	if g.cfg.Warn != nil {
		g.cfg.Warn(fmt.Sprintf(format, args...))
	}
}

// keyRef is the subjects' log keys as the store sees them: the key store,
// or none yet (a new store opened for writing gets one on first use).
type keyRef struct {
	ks      *translog.KeyStore
	missing error // the store has events whose keys are not at hand
}

func (k *keyRef) SubjectKeys(ctx context.Context, subjects []string, create bool) (map[string][]byte, error) {
	if k.missing != nil && len(subjects) > 0 {
		return nil, k.missing
	}
	if k.ks == nil {
		if create && len(subjects) > 0 {
			return nil, errors.New("no subject key store is open")
		}
		return map[string][]byte{}, nil
	}
	return k.ks.SubjectKeys(ctx, subjects, create)
}

// Table gives every subject's key (log verification).
func (k *keyRef) Table(ctx context.Context) (*translog.KeyTable, error) {
	if k.missing != nil {
		return nil, k.missing
	}
	if k.ks == nil {
		return translog.NewKeyTable(0), nil
	}
	return k.ks.Table(ctx)
}

func (k *keyRef) Close() {
	if k.ks != nil {
		k.ks.Close()
	}
}

// signing returns the log's signer, creating the signing key at first use
// in a writing session — unless the store already holds checkpoints,
// which were signed by a key that must then be the one in the keys
// directory.
func (g *Gate) signing(ctx context.Context) (*translog.Signer, error) {
	if err := g.writable(); err != nil {
		return nil, err
	}
	g.signerMu.Lock()
	defer g.signerMu.Unlock()
	if g.signer != nil {
		return g.signer, nil
	}
	if !translog.HasSigningKey(g.keysDir) {
		cps, err := g.st.Checkpoints(ctx)
		if err != nil {
			return nil, err
		}
		if len(cps) > 0 {
			return nil, Errorf(Unavailable, KeysDir, "the signing key of this store's log is not in %s", g.keysDir)
		}
	}
	origin := g.cfg.Origin
	if origin == "" && g.cfg.Deployment != "" && !translog.HasSigningKey(g.keysDir) {
		origin = "consentgate/" + g.cfg.Deployment
	}
	s, err := translog.LoadSigner(g.keysDir, origin)
	if errors.Is(err, translog.ErrOriginMismatch) {
		return nil, Errorf(Invalid, NoHint, "%v", err)
	} else if err != nil {
		return nil, err
	}
	g.signer = s
	return s, nil
}

// checkOrigin refuses an origin asked for that is not one (Invalid), or
// that is not the origin the store's key was created with.
func checkOrigin(c Config, dir string) error {
	if c.Origin == "" {
		return nil
	}
	if err := translog.CheckOrigin(c.Origin); err != nil {
		return invalid("%v", err)
	}
	vkey := c.Verifier
	if vkey == "" {
		var err error
		if vkey, err = translog.LoadVerifier(dir); errors.Is(err, translog.ErrNoSigningKey) {
			return nil // set when the key is created
		} else if err != nil {
			return err
		}
	}
	if o, err := translog.KeyOrigin(vkey); err == nil && o != c.Origin {
		return invalid("origin %q: this store's log signs as %q (%v)", c.Origin, o, translog.ErrOriginMismatch)
	}
	return nil
}

// VerifierKey is the log's verifier key (the signed-note form), read
// without creating anything.
func (g *Gate) VerifierKey() (string, error) {
	if g.cfg.Verifier != "" {
		return g.cfg.Verifier, nil
	}
	g.signerMu.Lock()
	s := g.signer
	g.signerMu.Unlock()
	if s != nil {
		return s.Verifier, nil
	}
	v, err := translog.LoadVerifier(g.keysDir)
	if errors.Is(err, translog.ErrNoSigningKey) {
		if cps, cerr := g.st.Checkpoints(context.Background()); cerr == nil && len(cps) > 0 {
			return "", Errorf(Unavailable, KeysDir, "the log's verifier key (log.pub) is not in %s", g.keysDir)
		}
		return "", Errorf(Unavailable, KeysDir, "there is no signing key in %s: nothing of this store has been signed yet", g.keysDir)
	}
	return v, err
}

// Origin is the log's origin line (consentgate/<deployment>), creating
// the signing key in a writing session.
func (g *Gate) Origin(ctx context.Context) (string, error) {
	s, err := g.signing(ctx)
	if err != nil {
		return "", err
	}
	return s.Origin, nil
}

// Secret returns a named 32-byte secret from the keys directory (the
// session, redaction and webhook keys), creating it in a writing session.
func (g *Gate) Secret(name string) ([]byte, error) {
	path := filepath.Join(g.keysDir, name)
	if b, err := os.ReadFile(path); err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: expected 32 bytes, found %d", path, len(b))
		}
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := g.writable(); err != nil {
		return nil, Errorf(Unavailable, KeysDir, "%s does not exist", path)
	}
	if err := os.MkdirAll(g.keysDir, 0o700); err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	// Written whole under a temporary name, then linked into place, so
	// that two processes creating it at once agree on one secret.
	f, err := atomicfile.Temp(path)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := atomicfile.SyncClose(f); err != nil {
		return nil, err
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return g.Secret(name)
	} else if err != nil {
		return nil, err
	}
	return b, nil
}

// versionsTTL is how long compiled versions are used before the published
// set is compared again (a publication in this session takes effect at
// once; through another process, within it).
const versionsTTL = time.Second

// loadVersions returns the compiled published versions, compiling again
// only when the published set changed.
func (g *Gate) loadVersions(ctx context.Context) (*decision.Versions, []store.Policy, error) {
	g.mu.Lock()
	if g.versions != nil && time.Since(g.checked) < versionsTTL {
		defer g.mu.Unlock()
		return g.versions, g.policies, nil
	}
	g.mu.Unlock()
	ps, err := g.st.Policies(ctx)
	if err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Version + "\x00" + p.Digest + "\x00")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.versions != nil && g.digests == b.String() {
		g.checked = time.Now()
		return g.versions, g.policies, nil
	}
	vs, err := store.CompileVersions(ps)
	if err != nil {
		return nil, nil, err
	}
	g.versions, g.policies, g.digests, g.checked = vs, ps, b.String(), time.Now()
	return vs, ps, nil
}

// forgetVersions makes the next loadVersions compare the published set.
func (g *Gate) forgetVersions() {
	g.mu.Lock()
	g.checked = time.Time{}
	g.mu.Unlock()
}

// now is the session's clock.
func now() timestamp.Time { return timestamp.Now() }

// noticeNow is the time of notices: the story clock's, else now.
func (g *Gate) noticeNow() timestamp.Time {
	if g.cfg.StoryClock != nil {
		return g.cfg.StoryClock()
	}
	return now()
}

// Health reports whether the store answers and, for a writing session
// over a store on this machine, has room to write.
func (g *Gate) Health(ctx context.Context) error {
	if _, err := g.st.LogSize(ctx); err != nil {
		return err
	}
	if fs, ok := g.st.(interface{ FreeSpace() (uint64, error) }); ok && g.cfg.Mode != ReadOnly {
		if free, err := fs.FreeSpace(); err == nil && free < minFreeSpace {
			return &Error{Code: Full, Message: fmt.Sprintf("the store's disk has %d bytes free: writes would fail", free)}
		}
	}
	return nil
}

// minFreeSpace is the free space below which the store is reported
// unwritable: a group of writes, its log leaves and the WAL need room.
const minFreeSpace = 1 << 20

// ServingBusyTimeout is how long a server's write waits for another
// writer before it answers busy.
const ServingBusyTimeout = 2 * time.Second
