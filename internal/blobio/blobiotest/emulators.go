package blobiotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"

	"github.com/consentgate/consentgate/internal/blobio"
)

// The GCS and Azure emulators .ci/run starts (emulators, not the clouds):
// fake-gcs-server's JSON API over plain HTTP, and Azurite's blob service
// with its well-known development account and key (public, in Azurite's
// documentation; it opens nothing but the emulator).
const (
	DefaultGCS       = "127.0.0.1:4443" // as STORAGE_EMULATOR_HOST takes it: host:port
	DefaultAzurite   = "127.0.0.1:10000"
	AzuriteAccount   = "devstoreaccount1"
	AzuriteKey       = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	DefaultContainer = DefaultBucket
)

// A Store is one object store of the tests: its URL scheme and the
// function that points the process at its server and returns a fresh
// prefix there (failing the test with the reason when it does not
// answer).
type Store struct {
	Scheme string
	Prefix func(testing.TB) string
}

// Stores are the object stores every object-store test runs on: S3
// (SeaweedFS), GCS (fake-gcs-server) and Azure Blob Storage (Azurite).
var Stores = []Store{
	{"s3", Prefix},
	{"gs", GSPrefix},
	{"azblob", AzblobPrefix},
}

// answers fails the test at once when nothing accepts a connection at
// host, rather than after the clients' retries.
func answers(t testing.TB, what, host, hint string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		t.Fatalf("%s at %s: %v (%s)", what, host, err, hint)
	}
	c.Close()
}

// runPrefix is a prefix no other test or run shares.
func runPrefix(t testing.TB, scheme, bucket string) string {
	return fmt.Sprintf("%s://%s/%s-%d-%d/", scheme, bucket, strings.ReplaceAll(t.Name(), "/", "_"), os.Getpid(), time.Now().UnixNano())
}

// GSPrefix points the process (and the commands it runs) at the GCS
// emulator — STORAGE_EMULATOR_HOST, from CONSENTGATE_TEST_GCS, else
// fake-gcs-server on 127.0.0.1:4443 — and returns a fresh gs://BUCKET/RUN/
// prefix (CONSENTGATE_TEST_GCS_BUCKET, made if missing), failing with the
// reason when the emulator does not answer.
func GSPrefix(t testing.TB) string {
	t.Helper()
	host := envOr("CONSENTGATE_TEST_GCS", DefaultGCS)
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	answers(t, "GCS emulator", host, ".ci/run builds and starts fake-gcs-server there")
	name := envOr("CONSENTGATE_TEST_GCS_BUCKET", DefaultBucket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := gcsClient(t, name)
	if _, err := client.Bucket(name).Attrs(ctx); err != nil {
		if !errors.Is(err, storage.ErrBucketNotExist) {
			t.Fatalf("GCS emulator at %s: %v (.ci/run builds and starts fake-gcs-server there)", host, err)
		}
		if err := client.Bucket(name).Create(ctx, "consentgate-test", nil); err != nil {
			t.Fatalf("GCS emulator at %s: create bucket %s: %v", host, name, err)
		}
	}
	return runPrefix(t, "gs", name)
}

// gcsClient is the GCS client gocloud opens for gs://bucket.
func gcsClient(t testing.TB, bucket string) *storage.Client {
	t.Helper()
	b, err := blob.OpenBucket(context.Background(), "gs://"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var c *storage.Client
	if !b.As(&c) {
		t.Fatal("gs:// bucket: no *storage.Client")
	}
	return c
}

// AzblobPrefix points the process (and the commands it runs) at the Azure
// Blob Storage emulator — AZURE_STORAGE_DOMAIN from CONSENTGATE_TEST_AZBLOB,
// else Azurite on 127.0.0.1:10000, over http, with Azurite's account and
// key unless AZURE_STORAGE_ACCOUNT is set — and returns a fresh
// azblob://CONTAINER/RUN/ prefix (CONSENTGATE_TEST_AZBLOB_CONTAINER, made
// if missing), failing with the reason when the emulator does not answer.
//
// gocloud's azblob:// opener reads these variables once, when a process
// first opens an azblob:// URL: call AzblobPrefix before that.
func AzblobPrefix(t testing.TB) string {
	t.Helper()
	host := envOr("CONSENTGATE_TEST_AZBLOB", DefaultAzurite)
	t.Setenv("AZURE_STORAGE_DOMAIN", host)
	answers(t, "Azure emulator", host, ".ci/run installs and starts Azurite there")
	t.Setenv("AZURE_STORAGE_PROTOCOL", "http")
	t.Setenv("AZURE_STORAGE_IS_LOCAL_EMULATOR", "true")
	if os.Getenv("AZURE_STORAGE_ACCOUNT") == "" {
		t.Setenv("AZURE_STORAGE_ACCOUNT", AzuriteAccount)
		t.Setenv("AZURE_STORAGE_KEY", AzuriteKey)
	}
	name := envOr("CONSENTGATE_TEST_AZBLOB_CONTAINER", DefaultContainer)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := azureContainer(t, name).Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		t.Fatalf("Azure emulator at %s: create container %s: %v (.ci/run installs and starts Azurite there)", host, name, err)
	}
	return runPrefix(t, "azblob", name)
}

// azureContainer is the container client gocloud opens for
// azblob://container.
func azureContainer(t testing.TB, name string) *container.Client {
	t.Helper()
	b, err := blob.OpenBucket(context.Background(), "azblob://"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var c *container.Client
	if !b.As(&c) {
		t.Fatal("azblob:// bucket: no *container.Client")
	}
	return c
}

// Pending reports what the store holds for an object write that was
// begun and not committed under name (an s3:// or azblob:// URL as
// Prefix and AzblobPrefix return): S3's incomplete multipart uploads of
// the key (their ids), Azure's uncommitted blocks of the blob (their
// ids). GCS keeps a resumable upload's bytes in a session that its API
// lists nowhere, so a gs:// name fails the test.
func Pending(t testing.TB, name string) []string {
	t.Helper()
	scheme, rest, _ := strings.Cut(name, "://")
	bucket, key, _ := strings.Cut(rest, "/")
	ctx := context.Background()
	switch scheme {
	case "s3":
		return uploads(t, bucket, key)
	case "azblob":
		bl, err := azureContainer(t, bucket).NewBlockBlobClient(key).GetBlockList(ctx, blockblob.BlockListTypeUncommitted, nil)
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range bl.UncommittedBlocks {
			ids = append(ids, *b.Name)
		}
		return ids
	}
	t.Fatalf("%s: the store lists no pending writes", name)
	return nil
}

// uploads lists the incomplete multipart uploads of key.
func uploads(t testing.TB, bucket, key string) []string {
	t.Helper()
	client, err := blobio.S3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(bucket), Prefix: aws.String(key),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == key {
			ids = append(ids, aws.ToString(u.UploadId))
		}
	}
	return ids
}
