package blobio

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// An Entry is one file List found.
type Entry struct {
	Name string // as Open takes it: a local path or a full URL
	Size int64
}

// List returns the files whose names begin with prefix, sorted by name,
// at any depth: for an object store the keys under prefix
// (s3://bucket/shards/part- lists s3://bucket/shards/part-00000 …), for a
// local path the regular files under prefix's directory whose path begins
// with prefix. A pending write (an uncommitted Writer) is never listed,
// nor is a local Writer's temporary file, whose name begins with a dot
// unlike the one it will be renamed to.
func List(ctx context.Context, prefix string) ([]Entry, error) {
	if !IsURL(prefix) {
		return listLocal(prefix)
	}
	l, b, err := locate(ctx, prefix, false)
	if err != nil {
		return nil, err
	}
	var out []Entry
	it := b.List(&blob.ListOptions{Prefix: l.key})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, missing(ctx, b, l, prefix)
		}
		if err != nil {
			return nil, wrap(prefix, err)
		}
		if obj.IsDir {
			continue
		}
		out = append(out, Entry{Name: l.url(obj.Key), Size: obj.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func listLocal(prefix string) ([]Entry, error) {
	dir := filepath.Dir(prefix)
	if strings.HasSuffix(prefix, string(filepath.Separator)) {
		dir = filepath.Clean(prefix)
	}
	// Compare cleaned paths (a leading ./ is dropped by WalkDir's join).
	want := filepath.Clean(prefix)
	if strings.HasSuffix(prefix, string(filepath.Separator)) {
		want += string(filepath.Separator)
	}
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			// Descend only where a match can be.
			if p != dir && !strings.HasPrefix(want, p+string(filepath.Separator)) && !strings.HasPrefix(p, want) {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(p, want) || strings.HasPrefix(d.Name(), ".") || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, Entry{Name: p, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the file name, local or remote. It fails with an error
// wrapping ErrNotExist when nothing is there.
func Remove(ctx context.Context, name string) error {
	if !IsURL(name) {
		return os.Remove(name)
	}
	l, b, err := locate(ctx, name, true)
	if err != nil {
		return err
	}
	return wrap(name, b.Delete(ctx, l.key))
}
