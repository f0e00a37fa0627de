package blobio

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// ErrNoBucket is what CheckWritable and CheckReadable return (wrapped) when the
// bucket (the container, for azblob) a URL names is not there, or these
// credentials cannot see it.
var ErrNoBucket = errors.New("the bucket does not exist")

// CheckWritable reports, before anything is written, whether a Writer for
// the object-store URL name could commit, so that a command can refuse
// its output before it reads or logs anything (SPEC §5: every output
// writable, checked before the log append). The bucket must be there
// (ErrNoBucket otherwise, naming it); for s3:// the credentials must also
// be allowed to upload under the key, which is tried by starting a
// multipart upload there and aborting it at once: it makes no object and
// leaves no parts. Credentials that may write but not list the bucket
// pass on the trial upload alone. A gs:// or azblob:// key's permission
// is known only when the write is made. A local path is the caller's to
// check (nil).
func CheckWritable(ctx context.Context, name string) error {
	if !IsURL(name) {
		return nil
	}
	l, b, err := locate(ctx, name, true)
	if err != nil {
		return err
	}
	// Listing needs a permission of its own, which credentials that may
	// only write lack: then the trial upload alone says.
	ok, err := b.IsAccessible(ctx)
	switch {
	case err == nil && !ok:
		return newBucketError(name, l)
	case err != nil && credentialsRefused(err):
		return wrap(name, err)
	case err != nil && gcerrors.Code(err) != gcerrors.PermissionDenied:
		return fmt.Errorf("%s: the %s %s cannot be reached: %w", name, bucketWord(l.scheme), l.bucket, err)
	}
	var client *s3.Client
	if !b.As(&client) {
		return nil
	}
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(l.bucket), Key: aws.String(l.key)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
			return newBucketError(name, l)
		}
		if credentialsRefused(err) {
			return wrap(name, err)
		}
		return fmt.Errorf("%s: not writable with these credentials: %w", name, err)
	}
	if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(l.bucket), Key: aws.String(l.key), UploadId: up.UploadId}); err != nil {
		return fmt.Errorf("%s: the trial upload could not be aborted: %w", name, err)
	}
	return nil
}

// CheckReadable opens name and closes it again: the size when it is
// there; an error wrapping ErrNotExist naming the URL when nothing is under
// the key, one wrapping ErrNoBucket (and ErrNotExist) when the bucket
// itself is not there.
func CheckReadable(ctx context.Context, name string) (int64, error) {
	r, err := Open(ctx, name)
	if err != nil {
		return 0, err
	}
	r.Close()
	return r.Size(), nil
}

// missing words what the store did not find under l: the bucket, when it
// is not there (one more request, made only then), else the key.
func missing(ctx context.Context, b *blob.Bucket, l location, name string) error {
	if ok, err := b.IsAccessible(ctx); err == nil && !ok {
		return newBucketError(name, l)
	}
	return &keyError{name: name, key: l.key}
}

// bucketWord is what a scheme calls a bucket.
func bucketWord(scheme string) string {
	if scheme == "azblob" {
		return "container"
	}
	return "bucket"
}

// bucketError is ErrNoBucket for one URL: "NAME: the bucket B does not
// exist" (the container, for azblob). Nothing is under its name either:
// it is ErrNotExist too.
type bucketError struct{ name, bucket, word string }

func newBucketError(name string, l location) *bucketError {
	return &bucketError{name: name, bucket: l.bucket, word: bucketWord(l.scheme)}
}

func (e *bucketError) Error() string {
	return e.name + ": the " + e.word + " " + e.bucket + " does not exist"
}
func (e *bucketError) Unwrap() []error { return []error{ErrNoBucket, ErrNotExist} }

// keyError is ErrNotExist for one URL whose bucket is there: "NAME:
// nothing under the key K".
type keyError struct{ name, key string }

func (e *keyError) Error() string {
	msg := e.name + ": nothing under the key " + e.key
	if strings.ContainsAny(e.key, "*[") {
		msg += " (a name is taken as it is, not as a pattern: name each object)"
	}
	return msg
}
func (e *keyError) Unwrap() error { return ErrNotExist }
