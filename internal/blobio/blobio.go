// Package blobio opens the files an export, a snapshot or `log tiles`
// reads and writes wherever they live (SPEC §5, "Files anywhere"): a local
// path, or an object-store URL — s3://bucket/key (AWS and S3-compatible
// stores), gs://bucket/key, azblob://container/key — through one blob
// library, gocloud.dev/blob.
//
// A name without a scheme is a local path and takes the local file code
// paths unchanged: os files, and atomicfile's temporary file and rename.
//
// Reads are ranged (Reader.ReadAt, Reader.NewRangeReader): a large object
// is never downloaded whole first. Writes are atomic: a Writer's bytes
// appear under the final name only on Commit, never before; Abort, an
// error or a killed process leaves nothing there.
//
// Credentials and endpoints are each store's usual settings: the AWS_*
// variables and files for S3 (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3 names
// an S3-compatible server, which is then addressed path-style, as servers
// on an IP address need), Application Default Credentials for gs://
// (STORAGE_EMULATOR_HOST, host:port, names a GCS emulator, which is then
// sent no credentials), AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, a
// SAS token, a connection string or the Azure identity variables for
// azblob:// (AZURE_STORAGE_DOMAIN, AZURE_STORAGE_PROTOCOL and
// AZURE_STORAGE_IS_LOCAL_EMULATOR, or the URL options domain=, protocol=
// and localemu=, name another endpoint such as Azurite). A URL's query is
// its bucket's options, kept on every name List returns.
package blobio

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/aws/smithy-go"
	"gocloud.dev/gcerrors"
)

// ErrNotExist is what Open and Remove return (wrapped) for a name with
// nothing under it, local or remote; errors.Is(err, fs.ErrNotExist) holds
// for it too.
var ErrNotExist = os.ErrNotExist

// IsURL reports whether name is an object-store URL (has a scheme this
// package opens) rather than a local path.
func IsURL(name string) bool {
	scheme, _, ok := strings.Cut(name, "://")
	if !ok {
		return false
	}
	switch scheme {
	case "s3", "gs", "azblob":
		return true
	}
	return false
}

// location is an object-store name taken apart.
type location struct {
	scheme string // s3, gs, azblob
	bucket string // the bucket (the container for azblob)
	query  string // bucket options for gocloud's URL openers (region=…)
	key    string // the object's key, without a leading slash
}

// parse takes an object-store URL apart. A key must be present for an
// object; a prefix (for List) may be empty.
func parse(name string, wantKey bool) (location, error) {
	u, err := url.Parse(name)
	if err != nil {
		return location{}, fmt.Errorf("%s: not an object-store URL: %w", name, err)
	}
	if !IsURL(name) {
		return location{}, fmt.Errorf("%s: not an object-store URL (s3://, gs://, azblob://)", name)
	}
	if u.Host == "" {
		return location{}, fmt.Errorf("%s: the URL names no bucket", name)
	}
	key := strings.TrimPrefix(u.Path, "/")
	if wantKey && (key == "" || strings.HasSuffix(key, "/")) {
		return location{}, fmt.Errorf("%s: the URL names no object (want %s://%s/KEY)", name, u.Scheme, u.Host)
	}
	return location{scheme: u.Scheme, bucket: u.Host, query: u.RawQuery, key: key}, nil
}

// url is the name of key in l's bucket, as a user would write it.
func (l location) url(key string) string {
	s := l.scheme + "://" + l.bucket + "/" + key
	if l.query != "" {
		s += "?" + l.query
	}
	return s
}

// wrap words a blob library error for the user: the URL first, a missing
// object as ErrNotExist, and credentials the store refused (or none found)
// with where they come from.
func wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.NotFound {
		return &os.PathError{Op: "open", Path: name, Err: ErrNotExist}
	}
	if credentialsRefused(err) {
		return fmt.Errorf("%s: the store refused the credentials, or none were found (%s): %w", name, credentialsFrom(name), err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// credentialsRefused reports whether err is the store refusing the
// request's credentials (or the SDK finding none to sign it with).
func credentialsRefused(err error) bool {
	if gcerrors.Code(err) == gcerrors.PermissionDenied {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "ExpiredToken", "InvalidToken", "AuthorizationHeaderMalformed":
			return true
		}
	}
	return strings.Contains(err.Error(), "get credentials:") || strings.Contains(err.Error(), "failed to retrieve credentials")
}

// credentialsFrom says where a scheme's credentials are read from.
func credentialsFrom(name string) string {
	switch {
	case strings.HasPrefix(name, "gs://"):
		return "gs:// uses Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, or gcloud auth application-default login"
	case strings.HasPrefix(name, "azblob://"):
		return "azblob:// uses AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, or the Azure identity variables"
	}
	return "s3:// uses AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE and the shared config files"
}
