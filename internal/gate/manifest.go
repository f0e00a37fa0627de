package gate

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/blobio"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/translog"
)

// The results of one check of a manifest.
const (
	CheckOK      = "ok"
	CheckFailed  = "fail"
	CheckSkipped = "skipped" // could not be checked here (an input not at hand, no log)
)

// ManifestCheck is one check of a manifest.
type ManifestCheck struct {
	What   string `json:"what"`
	Result string `json:"result"`
	Detail string `json:"detail"`
}

// ManifestReport is what VerifyManifest found.
type ManifestReport struct {
	Manifest string          `json:"manifest"`
	OK       bool            `json:"ok"` // no check failed
	Skipped  int             `json:"skipped"`
	Checks   []ManifestCheck `json:"checks"`
}

// ManifestOptions say where a manifest's files are and which to check.
type ManifestOptions struct {
	// Base is the directory a relative path the manifest records is
	// resolved against ("": the current directory): where the export ran.
	Base string
	// OutputOnly checks the signature, the output and the log alone —
	// what a dataset's recipient holds — and skips the inputs and the
	// rejects file.
	OutputOnly bool
}

// VerifyManifest checks an export manifest: its Ed25519 signature with
// verifierKey (the signed-note verifier key; "" for the store's), the
// SHA-256 and size of each file it names (the file of that name beside the
// manifest, else the path it records, resolved against o.Base; a file
// found in neither place fails, unless o.OutputOnly skips the inputs and
// the rejects file), and, with a store, that the manifest is the leaf at
// its log index under the latest checkpoint. g may be nil: then the log is
// not checked (skipped). It creates nothing; a manifest that cannot be
// read or parsed is Invalid.
func VerifyManifest(ctx context.Context, g *Gate, path, verifierKey string, o ManifestOptions) (*ManifestReport, error) {
	body, err := blobio.ReadFile(ctx, path)
	if err != nil {
		return nil, &Error{Code: Invalid, Message: err.Error(), Err: err}
	}
	var m export.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, invalid("%s is not an export manifest: %s", path, JSONProblem(err))
	}
	if verifierKey != "" {
		if err := CheckVerifierKey(verifierKey); err != nil {
			return nil, err
		}
	} else {
		if g == nil {
			return nil, invalid("a verifier key is needed to check the signature, and there is no store to take it from")
		}
		if verifierKey, err = g.VerifierKey(); err != nil {
			return nil, err
		}
	}
	rep := &ManifestReport{Manifest: path, Checks: []ManifestCheck{}}
	add := func(what, result, detail string) {
		rep.Checks = append(rep.Checks, ManifestCheck{what, result, detail})
	}
	if err := translog.VerifyManifest(body, verifierKey); err != nil {
		add("signature", CheckFailed, err.Error())
	} else {
		add("signature", CheckOK, "Ed25519 over the RFC 8785 canonical JSON, by "+strings.SplitN(verifierKey, "+", 2)[0])
	}
	type file struct {
		role string
		d    *export.FileDigest
	}
	files := []file{{"output", &m.Output}}
	if m.Rejects != nil {
		files = append(files, file{"rejects", m.Rejects})
	}
	for i := range m.Inputs {
		files = append(files, file{"input", &m.Inputs[i]})
	}
	for _, f := range files {
		p := locate(ctx, path, f.d.File, o.Base)
		sum, size, err := fileSHA256(ctx, p)
		where := ""
		if p != f.d.File {
			where = " (" + p + ")"
		}
		switch {
		case f.role != "output" && o.OutputOnly:
			// Inputs stay with the platform, and the rejects file names
			// the excluded members: a recipient has neither.
			add(f.role+" "+f.d.File, CheckSkipped, "not checked: only the output was asked for")
		case err != nil && errors.Is(err, fs.ErrNotExist):
			add(f.role+" "+f.d.File, CheckFailed, fmt.Sprintf("not found beside the manifest (%s) nor at %s", besideName(path, f.d.File), p))
		case err != nil:
			add(f.role+" "+f.d.File, CheckFailed, pathProblem(err))
		case sum != f.d.SHA256 || size != f.d.Bytes:
			add(f.role+" "+f.d.File, CheckFailed, fmt.Sprintf("sha256 %s (%d bytes)%s, the manifest says %s (%d bytes)", sum, size, where, f.d.SHA256, f.d.Bytes))
		default:
			add(f.role+" "+f.d.File, CheckOK, "sha256 "+sum+where)
		}
	}
	switch {
	case g == nil:
		add("log inclusion", CheckSkipped, "no store to check the log of")
	default:
		if detail, err := g.manifestInclusion(ctx, body, &m); err != nil {
			add("log inclusion", CheckFailed, err.Error())
		} else {
			add("log inclusion", CheckOK, detail)
		}
	}
	rep.OK = true
	for _, c := range rep.Checks {
		rep.OK = rep.OK && c.Result != CheckFailed
		if c.Result == CheckSkipped {
			rep.Skipped++
		}
	}
	return rep, nil
}

// CheckVerifierKey refuses text that is not a log verifier key: the
// signed-note form NAME+HASH+KEY of an Ed25519 key, as log.pub and
// GET /v1/log/key give it.
func CheckVerifierKey(key string) error {
	if _, err := translog.Ed25519Key(strings.TrimSpace(key)); err != nil {
		return invalid("not a log verifier key (%v): expected one line NAME+HASH+KEY, as the store's log.pub holds", err)
	}
	return nil
}

// locate finds a file a manifest names: the file of that name beside the
// manifest when there is one — what came with it, a recipient's copy —
// else the path the manifest records (as the export wrote it).
func locate(ctx context.Context, manifest, file, base string) string {
	beside := besideName(manifest, file)
	if fileExists(ctx, beside) {
		return beside
	}
	return resolveFile(base, file)
}

// pathProblem words a file error without Go's "open " prefix.
func pathProblem(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// manifestInclusion proves the manifest's leaf is at its log index in the
// tree of the latest checkpoint, checked with the merkle library's
// verifier against the checkpoint's signed root.
func (g *Gate) manifestInclusion(ctx context.Context, body []byte, m *export.Manifest) (string, error) {
	if m.LogIndex == nil {
		return "", errors.New("the manifest carries no log index")
	}
	leaf, err := translog.ManifestLeaf(m.ExportID, body)
	if err != nil {
		return "", err
	}
	cp, _, err := g.LatestCheckpoint(ctx)
	if err != nil {
		return "", err
	}
	index := int64(*m.LogIndex)
	if index >= cp.Size {
		return "", fmt.Errorf("log index %d is beyond the latest checkpoint (%d leaves)", index, cp.Size)
	}
	p, err := translog.InclusionProof(ctx, g.st, index, cp.Size)
	if err != nil {
		return "", err
	}
	root, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, uint64(index), uint64(cp.Size), translog.LeafHash(leaf), p)
	if err != nil {
		return "", fmt.Errorf("the inclusion proof of log index %d does not compute: %v", index, err)
	}
	if !bytes.Equal(root, cp.Root) {
		return "", fmt.Errorf("the manifest is not the leaf at log index %d: its leaf hash %s and the audit path give the root %s, the checkpoint of %d leaves signs %s",
			index, hex.EncodeToString(translog.LeafHash(leaf)), hex.EncodeToString(root), cp.Size, hex.EncodeToString(cp.Root))
	}
	return fmt.Sprintf("leaf %d of the checkpoint of %d leaves (root %s)", index, cp.Size, hex.EncodeToString(cp.Root)), nil
}
