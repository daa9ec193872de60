package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// motoBucket starts moto_server with one bucket and returns its URL and a
// client of it.
func motoBucket(t testing.TB, bucket string) (string, *s3.Client) {
	t.Helper()
	url := testkit.Moto(t)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return url, c
}

// downloadCode fetches GetFunction's Code.Location.
func downloadCode(t *testing.T, c *lambda.Client, name string) []byte {
	t.Helper()
	out, err := c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(aws.ToString(out.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Code.Location: %d %s", resp.StatusCode, b)
	}
	return b
}

// TestCodeInS3: with --blobs s3://… a function's zip is in the bucket once
// CreateFunction answers; a lambdad restarted with an empty code cache runs
// it and serves it at Code.Location from S3.
func TestCodeInS3(t *testing.T) {
	endpoint, s3c := motoBucket(t, "code")
	dir := t.TempDir()
	tune := func(c *server.Config) {
		c.Isolation = "off"
		c.Blobs = "s3://code/lambdad/archives"
		c.S3Endpoint = endpoint
	}
	d := servertest.StartLambdad(t, dir, tune)
	c := servertest.InvokeClient(d)
	in := testkit.PyFunction(t, "s3-code", "def handler(e, c):\n    return {'got': e['n'] * 2}\n")
	zipped := in.Code.ZipFile
	out := testkit.Create(t, c, in)
	sum := sha256.Sum256(zipped)
	hexSum := hex.EncodeToString(sum[:])
	if aws.ToString(out.CodeSha256) != testkit.SHA256B64(zipped) {
		t.Fatalf("CodeSha256 %s", aws.ToString(out.CodeSha256))
	}
	obj, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("code"),
		Key: aws.String("lambdad/archives/" + hexSum[:2] + "/" + hexSum)})
	if err != nil {
		t.Fatalf("the zip is not in the bucket: %v", err)
	}
	inS3, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(inS3, zipped) {
		t.Fatal("the bucket holds other bytes")
	}
	testkit.WaitActive(t, c, "s3-code")
	if got := string(testkit.Call(t, c, "s3-code", `{"n": 21}`).Payload); got != `{"got": 42}` {
		t.Fatalf("invoke = %s", got)
	}
	if !bytes.Equal(downloadCode(t, c, "s3-code"), zipped) {
		t.Fatal("Code.Location served other bytes")
	}

	d.Stop()
	cache := filepath.Join(dir, "code-cache")
	if _, err := os.Stat(filepath.Join(cache, "objects", hexSum[:2], hexSum)); err != nil {
		t.Fatalf("the first run cached no archive: %v", err)
	}
	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	d = servertest.StartLambdad(t, dir, tune)
	c = servertest.InvokeClient(d)
	if got := string(testkit.Call(t, c, "s3-code", `{"n": 5}`).Payload); got != `{"got": 10}` {
		t.Fatalf("invoke after restart with an empty cache = %s", got)
	}
	if !bytes.Equal(downloadCode(t, c, "s3-code"), zipped) {
		t.Fatal("Code.Location after restart served other bytes")
	}
	// Deleting the function deletes its code in S3 too.
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("s3-code")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		list, err := s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("code")})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Contents) == 0 {
			break
		}
		if i > 200 {
			t.Fatalf("code of a deleted function left in S3: %s", aws.ToString(list.Contents[0].Key))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestInvokeWhileCodeUpdatesS3 is TestInvokeWhileCodeUpdates with code in
// S3: replaced archives leave the bucket too.
func TestInvokeWhileCodeUpdatesS3(t *testing.T) {
	t.Parallel()
	endpoint, s3c := motoBucket(t, "code")
	invokeWhileCodeUpdates(t, func(c *server.Config) {
		c.Blobs, c.S3Endpoint = "s3://code", endpoint
	}, "code-cache")
	testkit.Eventually(t, 10*time.Second, "replaced archives were left in S3", func() bool {
		list, err := s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("code")})
		return err == nil && len(list.Contents) == 1
	})
}

// TestCodeCacheEviction: with a code cache smaller than two functions'
// code, each cold start evicts the other's idle code; a function whose tree
// was evicted under the directory its runner remembers still runs.
func TestCodeCacheEviction(t *testing.T) {
	t.Parallel()
	endpoint, _ := motoBucket(t, "code")
	d, c := servertest.InvokeEnv(t, func(cfg *server.Config) {
		cfg.Isolation = "off"
		cfg.Blobs, cfg.S3Endpoint = "s3://code", endpoint
		cfg.CodeCacheMB = 1
		cfg.IdleTimeout = 200 * time.Millisecond
	})
	bulk := make([]byte, 600<<10)
	hexes := map[string]string{}
	for _, name := range []string{"fa", "fb"} {
		rand.Read(bulk) // incompressible: the archive and its tree are 600 KB each
		z := archivetest.Zip(t,
			archivetest.File{Name: "handler.py", Body: "def handler(e, c):\n    return '" + name + "'\n"},
			archivetest.File{Name: "bulk.bin", Body: string(bulk)})
		sum := sha256.Sum256(z)
		hexes[name] = hex.EncodeToString(sum[:])
		testkit.CreateActive(t, c, testkit.CreateInput(name, z))
	}
	tree := func(name string) string { return filepath.Join(d.Dir, "code-cache", "unpacked", hexes[name]) }
	call := func(name string) {
		t.Helper()
		if got := string(testkit.Call(t, c, name, `{}`).Payload); got != `"`+name+`"` {
			t.Fatalf("%s returned %s", name, got)
		}
	}
	call("fa")
	call("fb")
	// fa's environment stops when idle and lets its code go; fb's needs
	// the room.
	testkit.Eventually(t, 10*time.Second, "fa's idle tree was not evicted", func() bool {
		_, err := os.Stat(tree("fa"))
		return os.IsNotExist(err)
	})
	call("fa")
	if _, err := os.Stat(filepath.Join(tree("fa"), "handler.py")); err != nil {
		t.Fatalf("fa ran, but its tree is not back: %v", err)
	}
}

// TestCodeInS3Refused: a bucket lambdad cannot reach stops it at start.
func TestCodeInS3Refused(t *testing.T) {
	endpoint, _ := motoBucket(t, "code")
	_, err := server.New(server.Config{DataDir: t.TempDir(), Blobs: "s3://no-such-bucket/x", S3Endpoint: endpoint})
	if err == nil || !strings.Contains(err.Error(), "bucket no-such-bucket is not reachable") {
		t.Fatalf("server.New = %v", err)
	}
	_, err = server.New(server.Config{DataDir: t.TempDir(), Blobs: "https://code/x", S3Endpoint: endpoint})
	if err == nil || !strings.Contains(err.Error(), "scheme must be s3") {
		t.Fatalf("server.New with an https URL = %v", err)
	}
}

// zip1MB is a zip of 1 MB of incompressible data; each call makes new
// content, so no create is deduplicated.

// TestOrphanCodeCollectedOnSharedStore: nodes on PostgreSQL and S3 collect
// at start the archives in S3 no record refers to (an upload whose commit
// a crash stopped) once they are older than OrphanCodeAge, and nothing a
// function refers to.
func TestOrphanCodeCollectedOnSharedStore(t *testing.T) {
	url := testkit.Postgres(t)
	endpoint, s3c := motoBucket(t, "code")
	ctx := context.Background()
	tune := func(age time.Duration) func(*server.Config) {
		return func(c *server.Config) {
			c.Isolation = "off"
			c.Store = url
			c.Blobs, c.S3Endpoint = "s3://code/orphans", endpoint
			c.OrphanCodeAge = age
		}
	}
	a := servertest.StartLambdad(t, t.TempDir(), tune(0))
	ca := servertest.InvokeClient(a)
	in := testkit.PyFunction(t, "orphan-kept", "def handler(e, c):\n    return 'kept'\n")
	testkit.CreateActive(t, ca, in)
	kept := sha256.Sum256(in.Code.ZipFile)
	keptKey := "orphans/" + hex.EncodeToString(kept[:1]) + "/" + hex.EncodeToString(kept[:])
	body := []byte("an upload whose commit never came")
	sum := sha256.Sum256(body)
	orphanKey := "orphans/" + hex.EncodeToString(sum[:1]) + "/" + hex.EncodeToString(sum[:])
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("code"), Key: aws.String(orphanKey), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	exists := func(key string) bool {
		_, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("code"), Key: aws.String(key)})
		return err == nil
	}
	// A node for which it is old enough collects it, and only it (the
	// unit test TestCollectUnreferencedAge covers younger ones).
	time.Sleep(10 * time.Millisecond)
	c := servertest.StartLambdad(t, t.TempDir(), tune(5*time.Millisecond))
	testkit.Eventually(t, 10*time.Second, "the orphaned archive collected", func() bool { return !exists(orphanKey) })
	if !exists(keptKey) {
		t.Fatal("the function's archive was collected")
	}
	if got := string(testkit.Call(t, servertest.InvokeClient(c), "orphan-kept", "{}").Payload); got != `"kept"` {
		t.Fatalf("invoke = %s", got)
	}
}
