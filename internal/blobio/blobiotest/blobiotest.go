// Package blobiotest points tests at the S3-compatible server the tests
// use (SeaweedFS on 127.0.0.1:8333, which .ci/run builds and starts;
// CONSENTGATE_TEST_S3 names another, CONSENTGATE_TEST_S3_BUCKET its
// bucket, with the usual AWS_* keys) and reads objects back.
package blobiotest

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/consentgate/consentgate/internal/blobio"
)

// The server .ci/run starts, with the keys of .ci/seaweedfs-s3.json.
const (
	DefaultS3     = "http://127.0.0.1:8333"
	DefaultKey    = "consentgate"
	DefaultSecret = "consentgate-secret"
	DefaultBucket = "consentgate-test"
)

// Prefix points the process (and the commands it runs, which inherit its
// environment) at the test server and returns a fresh s3://BUCKET/RUN/
// prefix for one test, failing with the reason when the server does not
// answer.
func Prefix(t testing.TB) string {
	t.Helper()
	endpoint := envOr("CONSENTGATE_TEST_S3", DefaultS3)
	t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", DefaultKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", DefaultSecret)
	}
	bucket := envOr("CONSENTGATE_TEST_S3_BUCKET", DefaultBucket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := blobio.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatalf("S3 server at %s: %v (.ci/run builds and starts SeaweedFS's weed server -s3 there)", endpoint, err)
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatalf("S3 server at %s: create bucket %s: %v", endpoint, bucket, err)
		}
	}
	return fmt.Sprintf("s3://%s/%s-%d-%d/", bucket, strings.ReplaceAll(t.Name(), "/", "_"), os.Getpid(), time.Now().UnixNano())
}

// ReadAll reads name (a local path or an object) whole, holding it to
// the size Open reported.
func ReadAll(t testing.TB, name string) []byte {
	t.Helper()
	r, err := blobio.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, err := r.NewRangeReader(context.Background(), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != r.Size() {
		t.Fatalf("%s: read %d bytes, Size says %d", name, len(b), r.Size())
	}
	return b
}

// Write makes name (a local path or an object) hold data, committed.
func Write(t testing.TB, name string, data []byte) {
	t.Helper()
	ctx := context.Background()
	w, err := blobio.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// envOr is the variable's value, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
