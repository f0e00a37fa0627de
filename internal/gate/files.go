package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/consentgate/consentgate/internal/blobio"
)

// An export's files, as the gate reads them back — to settle a logged
// export (reconcileExports) and to verify a manifest — may be local paths
// or object-store URLs (SPEC §5, "Files anywhere"): a URL is read, checked
// and removed through blobio where it lives, a local path as a file.

// resolveFile is a file a logged export names, as a name from here: an
// object-store URL or an absolute path as it is, a relative path resolved
// against dir, where the export ran ("" for here).
func resolveFile(dir, f string) string {
	if blobio.IsURL(f) || filepath.IsAbs(f) || dir == "" {
		return f
	}
	return filepath.Join(dir, f)
}

// fileSHA256 is the SHA-256 (hex) and size of a local file or an object,
// streamed (an object in one ranged GET).
func fileSHA256(ctx context.Context, name string) (string, int64, error) {
	var rc io.ReadCloser
	if blobio.IsURL(name) {
		r, err := blobio.Open(ctx, name)
		if err != nil {
			return "", 0, err
		}
		defer r.Close()
		if rc, err = r.NewRangeReader(ctx, 0, -1); err != nil {
			return "", 0, err
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return "", 0, err
		}
		rc = f
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// fileExists reports whether a local file or an object is there.
func fileExists(ctx context.Context, name string) bool {
	if !blobio.IsURL(name) {
		_, err := os.Stat(name)
		return err == nil
	}
	r, err := blobio.Open(ctx, name)
	if err != nil {
		return false
	}
	r.Close()
	return true
}

// besideName is the file named like file in the folder of manifest (the
// prefix of its key, for an object): where a recipient's copy of an
// export's file is, beside the manifest that came with it.
func besideName(manifest, file string) string {
	base := filepath.Base(file)
	if blobio.IsURL(file) {
		name, _, _ := strings.Cut(file, "?")
		base = path.Base(name)
	}
	if !blobio.IsURL(manifest) {
		return filepath.Join(filepath.Dir(manifest), base)
	}
	name, query, _ := strings.Cut(manifest, "?")
	s := name[:strings.LastIndexByte(name, '/')+1] + base
	if query != "" {
		s += "?" + query
	}
	return s
}
