package blobio

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
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
	l, err := parse(name, true)
	if err != nil {
		return err
	}
	b, err := bucket(ctx, l)
	if err != nil {
		return err
	}
	// Listing needs a permission of its own, which credentials that may
	// only write lack: then the trial upload alone says.
	ok, err := b.IsAccessible(ctx)
	switch {
	case err == nil && !ok:
		return &bucketError{name: name, bucket: l.bucket}
	case err != nil && gcerrors.Code(err) != gcerrors.PermissionDenied:
		return fmt.Errorf("%s: the bucket %s cannot be reached: %w", name, l.bucket, err)
	}
	var client *s3.Client
	if !b.As(&client) {
		return nil
	}
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(l.bucket), Key: aws.String(l.key)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
			return &bucketError{name: name, bucket: l.bucket}
		}
		return fmt.Errorf("%s: not writable with these credentials: %w", name, err)
	}
	if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(l.bucket), Key: aws.String(l.key), UploadId: up.UploadId}); err != nil {
		return fmt.Errorf("%s: the trial upload could not be aborted: %w", name, err)
	}
	return nil
}

// CheckReadable opens name and closes it again, wording a missing object
// or bucket for the user: the size when it is there; an error wrapping
// ErrNotExist naming the URL when nothing is under the key, one wrapping
// ErrNoBucket when the bucket itself is not there.
func CheckReadable(ctx context.Context, name string) (int64, error) {
	r, err := Open(ctx, name)
	if err == nil {
		r.Close()
		return r.Size(), nil
	}
	if !IsURL(name) || !errors.Is(err, ErrNotExist) {
		return 0, err
	}
	l, perr := parse(name, true)
	if perr != nil {
		return 0, err
	}
	b, berr := bucket(ctx, l)
	if berr != nil {
		return 0, err
	}
	if ok, aerr := b.IsAccessible(ctx); aerr == nil && !ok {
		return 0, &bucketError{name: name, bucket: l.bucket}
	}
	return 0, &keyError{name: name, key: l.key}
}

// bucketError is ErrNoBucket for one URL: "NAME: the bucket B does not
// exist".
type bucketError struct{ name, bucket string }

func (e *bucketError) Error() string {
	return e.name + ": the bucket " + e.bucket + " does not exist"
}
func (e *bucketError) Unwrap() error { return ErrNoBucket }

// keyError is ErrNotExist for one URL whose bucket is there: "NAME:
// nothing under the key K".
type keyError struct{ name, key string }

func (e *keyError) Error() string { return e.name + ": nothing under the key " + e.key }
func (e *keyError) Unwrap() error { return ErrNotExist }
