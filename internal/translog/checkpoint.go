package translog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
	"golang.org/x/mod/sumdb/note"

	"github.com/consentgate/consentgate/internal/atomicfile"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// The signing key's files under --keys: the private key in the signed-note
// format, and its verifier key, which auditors are given.
const (
	SigningKeyFile  = "log.key"
	VerifierKeyFile = "log.pub"
)

// Signer signs checkpoints (as signed notes) and manifests (Ed25519 over
// their RFC 8785 canonical JSON) with one Ed25519 key.
type Signer struct {
	Origin   string // the checkpoints' origin line, the key's name
	Verifier string // the verifier key, in the signed-note format
	signer   note.Signer
	priv     ed25519.PrivateKey
}

// LoadSigner reads the signing key under dir, creating it at first use
// with origin as its name (the checkpoints' origin line), or, when origin
// is "", DefaultOrigin(): the origin is set once, when the key is
// created, and kept in the key file (the signed-note key's name), so a
// store signs as it always has. A key there under another origin than
// one asked for is ErrOriginMismatch.
func LoadSigner(dir, origin string) (*Signer, error) {
	if origin != "" {
		if err := CheckOrigin(origin); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, SigningKeyFile)
	skey, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		o := origin
		if o == "" {
			o = DefaultOrigin()
		}
		if err := createSigner(dir, o); err != nil {
			return nil, err
		}
		skey, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	s, err := newSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if origin != "" && s.Origin != origin {
		return nil, fmt.Errorf("%s signs as %q: %w", path, s.Origin, ErrOriginMismatch)
	}
	return s, nil
}

// ErrOriginMismatch: an origin was asked for that is not the one the
// store's signing key was created with. A log's origin never changes
// (its checkpoints name it); leave the origin out, or give that one.
var ErrOriginMismatch = errors.New("a log's origin is set once, when its signing key is created")

// DefaultOrigin is the origin of a signing key created without one:
// consentgate/ and a random id of 16 hex digits, unique to the store
// (never the host name: stores on one machine are different logs).
func DefaultOrigin() string {
	var id [8]byte
	rand.Read(id[:])
	return "consentgate/" + hex.EncodeToString(id[:])
}

// CheckOrigin checks that s can be a log's origin: a signed-note key name
// (non-empty UTF-8 without spaces, control characters or '+'), as C2SP
// tlog-checkpoint asks of the origin line, of at most 255 bytes.
func CheckOrigin(s string) error {
	if s == "" || len(s) > 255 || !utf8.ValidString(s) {
		return fmt.Errorf("origin %q: expected 1 to 255 bytes of UTF-8", s)
	}
	for _, r := range s {
		if r == '+' || unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("origin %q: %q is not allowed in an origin (no spaces, control characters or '+'; for example consentgate/eu-prod or log.example.com/consent)", s, r)
		}
	}
	return nil
}

// KeyOrigin is the origin of a verifier key (its name).
func KeyOrigin(verifierKey string) (string, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return "", err
	}
	return v.Name(), nil
}

// ErrNoSigningKey: the keys directory holds no signing key.
var ErrNoSigningKey = errors.New("no signing key there")

// HasSigningKey reports whether dir holds a signing key.
func HasSigningKey(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SigningKeyFile))
	return err == nil
}

// LoadVerifier reads the verifier key under dir without creating anything
// (ErrNoSigningKey when there is none): what a read-only session checks
// checkpoints and manifests with.
func LoadVerifier(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, VerifierKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		skey, err := os.ReadFile(filepath.Join(dir, SigningKeyFile))
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", dir, ErrNoSigningKey)
		} else if err != nil {
			return "", err
		}
		s, err := newSigner(strings.TrimSpace(string(skey)))
		if err != nil {
			return "", fmt.Errorf("%s: %w", filepath.Join(dir, SigningKeyFile), err)
		}
		return s.Verifier, nil
	} else if err != nil {
		return "", err
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, VerifierKeyFile), err)
	}
	return vkey, nil
}

func createSigner(dir, origin string) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, VerifierKeyFile), vkey+"\n", 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// The private key last, linked into place: two processes creating it at
	// once agree on the first.
	if err := writeNew(filepath.Join(dir, SigningKeyFile), skey+"\n", 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

func writeNew(path, body string, mode os.FileMode) error {
	f, err := atomicfile.Temp(path)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return err
	}
	f.Chmod(mode)
	if err := atomicfile.SyncClose(f); err != nil {
		return err
	}
	return os.Link(f.Name(), path)
}

// newSigner parses a private key in the signed-note format:
// PRIVATE+KEY+<name>+<hash>+<base64(1 ‖ 32-byte Ed25519 seed)>.
func newSigner(skey string) (*Signer, error) {
	ns, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(skey, "+", 5) // names hold no '+'; base64 may
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 signed-note key")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	vkey, err := note.NewEd25519VerifierKey(ns.Name(), priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &Signer{Origin: ns.Name(), Verifier: vkey, signer: ns, priv: priv}, nil
}

// PublicKey is the Ed25519 public key manifests are signed with.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Checkpoint is a log size and root.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   []byte
}

// Body is the checkpoint's C2SP tlog-checkpoint body (before signatures).
func (c *Checkpoint) Body() string {
	return c.Origin + "\n" + strconv.FormatInt(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n"
}

// Sign returns the checkpoint as a signed note.
func (s *Signer) Sign(size int64, root []byte) ([]byte, error) {
	c := Checkpoint{Origin: s.Origin, Size: size, Root: root}
	return note.Sign(&note.Note{Text: c.Body()}, s.signer)
}

// Issue returns the signed checkpoint of the log as it is in st, signing
// and keeping a new one when the latest kept is of a smaller size (SPEC §6:
// after every command that appends, and once a minute by the server).
func Issue(ctx context.Context, st store.Store, s *Signer, now timestamp.Time) ([]byte, error) {
	size, err := st.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(cps); n > 0 && cps[n-1].Size == size {
		return cps[n-1].Note, nil
	}
	root, err := Root(ctx, st, size)
	if err != nil {
		return nil, err
	}
	note, err := s.Sign(size, root)
	if err != nil {
		return nil, err
	}
	return note, st.AddCheckpoint(ctx, store.Checkpoint{Size: size, Note: note, At: now})
}

// OpenCheckpoint verifies a signed checkpoint with the verifier key and
// parses it.
func OpenCheckpoint(signed []byte, verifierKey string) (*Checkpoint, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return nil, errors.New("checkpoint: expected origin, size and root lines")
	}
	c := &Checkpoint{Origin: lines[0]}
	if c.Origin != v.Name() {
		return nil, fmt.Errorf("checkpoint: origin %q, expected %q", c.Origin, v.Name())
	}
	if c.Size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || c.Size < 0 {
		return nil, fmt.Errorf("checkpoint: size %q", lines[1])
	}
	if c.Root, err = base64.StdEncoding.DecodeString(lines[2]); err != nil || len(c.Root) != 32 {
		return nil, fmt.Errorf("checkpoint: root %q", lines[2])
	}
	return c, nil
}

// CanonicalManifest returns the RFC 8785 canonical JSON of a manifest
// without the named top-level fields.
func CanonicalManifest(manifest []byte, without ...string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, err
	}
	for _, k := range without {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(b)
}

// SignManifest returns the signature of a manifest: Ed25519 over the
// canonical JSON of everything but the signature, base64.
func (s *Signer) SignManifest(manifest []byte) (string, error) {
	body, err := CanonicalManifest(manifest, "signature")
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, body)), nil
}

// VerifyManifest checks a manifest's signature with the verifier key.
func VerifyManifest(manifest []byte, verifierKey string) error {
	pub, err := Ed25519Key(verifierKey)
	if err != nil {
		return err
	}
	var m struct {
		Signature *string `json:"signature"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return err
	}
	if m.Signature == nil {
		return errors.New("the manifest is not signed")
	}
	sig, err := base64.StdEncoding.DecodeString(*m.Signature)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	body, err := CanonicalManifest(manifest, "signature")
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, body, sig) {
		return errors.New("the signature does not match the manifest")
	}
	return nil
}

// Ed25519Key extracts the public key from a signed-note verifier key:
// <name>+<hash>+<base64(1 ‖ 32-byte key)>.
func Ed25519Key(verifierKey string) (ed25519.PublicKey, error) {
	if _, err := note.NewVerifier(verifierKey); err != nil {
		return nil, err
	}
	parts := strings.SplitN(strings.TrimSpace(verifierKey), "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 verifier key")
	}
	return ed25519.PublicKey(bytes.Clone(raw[1:])), nil
}
