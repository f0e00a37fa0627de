package pipeline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"   // gs://
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // paths
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"    // s3://
)

// The pipeline's files — inputs, the inputs' digests, the shards and
// job.json — go through Beam's filesystem package: a path is a local (or
// shared) file, s3://bucket/key an S3 object (the AWS SDK's default
// configuration: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or
// the shared files and roles, AWS_ENDPOINT_URL_S3 for an S3-compatible
// server), gs://bucket/key a Cloud Storage object (Application Default
// Credentials). The snapshot is read by the core's own reader
// (snapshot.Open), which takes the same names and settings.

// isURL reports whether name is an object-store URL rather than a path.
func isURL(name string) bool { return strings.Contains(name, "://") }

// join names the file name in dir, a folder or an object-store prefix
// (with or without its final slash).
func join(dir, name string) string {
	if isURL(dir) {
		return strings.TrimSuffix(dir, "/") + "/" + name
	}
	return filepath.Join(dir, name)
}

// fileSystem returns the file system of name.
func fileSystem(ctx context.Context, name string) (filesystem.Interface, error) {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return fs, nil
}

// openRead opens name for reading, as a stream.
func openRead(ctx context.Context, name string) (io.ReadCloser, error) {
	fs, err := fileSystem(ctx, name)
	if err != nil {
		return nil, err
	}
	r, err := fs.OpenRead(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// readFile reads name whole.
func readFile(ctx context.Context, name string) ([]byte, error) {
	r, err := openRead(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// create opens name for writing; Close commits it (an object appears
// whole, or not at all).
func create(ctx context.Context, name string) (io.WriteCloser, error) {
	fs, err := fileSystem(ctx, name)
	if err != nil {
		return nil, err
	}
	w, err := fs.OpenWrite(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return w, nil
}

// writeFile writes data to name.
func writeFile(ctx context.Context, name string, data []byte) error {
	w, err := create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// rename moves a file within its file system (an object store copies it
// and removes the old one).
func rename(ctx context.Context, from, to string) error {
	fs, err := fileSystem(ctx, from)
	if err != nil {
		return err
	}
	if err := filesystem.Rename(ctx, fs, from, to); err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	return nil
}

// Expand lists the files a pattern names (a path, an object, or a glob
// of either: *, ? and [...] within one path segment), in name order; none
// is an error.
func Expand(ctx context.Context, pattern string) ([]string, error) {
	fs, err := fileSystem(ctx, pattern)
	if err != nil {
		return nil, err
	}
	names, err := fs.List(ctx, pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pattern, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no such file", pattern)
	}
	sort.Strings(names)
	return names, nil
}
