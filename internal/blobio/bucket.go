package blobio

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	"gocloud.dev/blob/s3blob"
)

// buckets holds the buckets this process opened, one per scheme, bucket
// and options: a client is made once (credentials loaded, connections
// pooled) and shared by every file in that bucket. They live as long as
// the process.
var buckets struct {
	sync.Mutex
	m map[string]*blob.Bucket
}

// locate parses an object-store name (with its key, or a prefix) and
// opens its bucket.
func locate(ctx context.Context, name string, wantKey bool) (location, *blob.Bucket, error) {
	l, err := parse(name, wantKey)
	if err != nil {
		return l, nil, err
	}
	b, err := bucket(ctx, l)
	return l, b, err
}

// bucket returns the opened bucket of l.
func bucket(ctx context.Context, l location) (*blob.Bucket, error) {
	id := l.scheme + "://" + l.bucket + "?" + l.query
	switch l.scheme { // a test or a tool may point elsewhere later
	case "s3":
		id += " " + Endpoint()
	case "gs":
		id += " " + os.Getenv("STORAGE_EMULATOR_HOST")
	}
	buckets.Lock()
	defer buckets.Unlock()
	if b := buckets.m[id]; b != nil {
		return b, nil
	}
	var b *blob.Bucket
	var err error
	if l.scheme == "s3" && l.query == "" {
		b, err = openS3(ctx, l.bucket)
	} else {
		// gs://, azblob://, and s3:// with gocloud's own URL options
		// (region=, endpoint=, use_path_style=…).
		u := l.scheme + "://" + l.bucket
		if l.query != "" {
			u += "?" + l.query
		}
		b, err = blob.OpenBucket(ctx, u)
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s://%s: %w", l.scheme, l.bucket, err)
	}
	if buckets.m == nil {
		buckets.m = make(map[string]*blob.Bucket)
	}
	buckets.m[id] = b
	return b, nil
}

// Endpoint is the S3-compatible server the environment names
// (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL), or "" for AWS itself.
func Endpoint() string {
	if e := os.Getenv("AWS_ENDPOINT_URL_S3"); e != "" {
		return e
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}

// S3Client is the S3 client this package uses for s3:// names: the AWS
// SDK's default configuration (AWS_* variables, shared config and
// credential files, instance roles), path-style addressing and only the
// checksums a request requires when an endpoint override names an
// S3-compatible server, and us-east-1 when nothing sets a region.
func S3Client(ctx context.Context) (*s3.Client, error) {
	// The SDK's own log lines (a warning on the way to finding no
	// credentials, say) would stand apart from the command's error, which
	// says what went wrong.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithLogger(logging.Nop{}))
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	custom := Endpoint() != ""
	if custom {
		// Third-party servers differ in which of the SDK's newer default
		// checksums they accept; send them only where S3 requires one.
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	// The SDK itself reads AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3 into
	// the client's base endpoint; such a server is on an IP address or a
	// single host name, with no per-bucket DNS names: path-style.
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = custom
		o.APIOptions = append(o.APIOptions, detachAbort)
	}), nil
}

// abortTimeout bounds an AbortMultipartUpload sent for a cancelled write.
const abortTimeout = 30 * time.Second

// detachAbort lets an AbortMultipartUpload outlive the context it is sent
// on. A Writer aborts by cancelling its write's context (gocloud's only
// way), and the transfer manager then sends its abort on that same,
// cancelled context (its FailTimeout, which would give it a fresh one, is
// not reachable through gocloud): without this the abort never leaves the
// process and the upload's parts stay on the server.
func detachAbort(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("consentgateDetachAbort",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*s3.AbortMultipartUploadInput); ok {
				c, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
				defer cancel()
				ctx = c
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// openS3 opens an S3 bucket with S3Client.
func openS3(ctx context.Context, name string) (*blob.Bucket, error) {
	client, err := S3Client(ctx)
	if err != nil {
		return nil, err
	}
	opts := &s3blob.Options{}
	if Endpoint() != "" {
		opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}
	return s3blob.OpenBucket(ctx, client, name, opts)
}
