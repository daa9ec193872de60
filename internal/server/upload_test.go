package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// bigZip is a zip of a few MB of incompressible data: large enough that the
// upload is stored while it is decoded.
func bigZip(t testing.TB, size int) []byte {
	data := make([]byte, size)
	rand.Read(data)
	return archivetest.Zip(t, archivetest.File{Name: "handler.py", Body: "def handler(e, c):\n    return 1\n"}, archivetest.File{Name: "blob.bin", Body: string(data)})
}

func objectCount(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "blobs", "objects"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLargeZipUploads sends zips big enough to be streamed to storage
// while their request is read, through create, update and layers, and a
// large upload that is not a zip, which must leave nothing behind.
func TestLargeZipUploads(t *testing.T) {
	t.Parallel()
	d, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()

	zip1 := bigZip(t, 3<<20)
	out := testkit.Create(t, c, testkit.CreateInput("big-zip", zip1))
	if aws.ToString(out.CodeSha256) != testkit.SHA256B64(zip1) || out.CodeSize != int64(len(zip1)) {
		t.Fatalf("CodeSha256 %s CodeSize %d, want %s %d", aws.ToString(out.CodeSha256), out.CodeSize, testkit.SHA256B64(zip1), len(zip1))
	}
	fn := testkit.WaitActive(t, c, "big-zip")
	if status, body := fetch(t, aws.ToString(fn.Code.Location)); status != 200 || !bytes.Equal(body, zip1) {
		t.Fatalf("Code.Location: %d, %d bytes; want the %d bytes uploaded", status, len(body), len(zip1))
	}

	zip2 := bigZip(t, 2<<20)
	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("big-zip"), ZipFile: zip2})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up.CodeSha256) != testkit.SHA256B64(zip2) {
		t.Fatalf("update CodeSha256 %s, want %s", aws.ToString(up.CodeSha256), testkit.SHA256B64(zip2))
	}
	testkit.WaitUpdated(t, c, "big-zip")

	// A dry run stores nothing.
	before := objectCount(t, d.Dir)
	zip3 := bigZip(t, 2<<20)
	dry, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("big-zip"), ZipFile: zip3, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(dry.CodeSha256) != testkit.SHA256B64(zip3) {
		t.Errorf("dry run CodeSha256 %s, want the new code's %s", aws.ToString(dry.CodeSha256), testkit.SHA256B64(zip3))
	}
	if fn, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("big-zip")}); err != nil || aws.ToString(fn.Configuration.CodeSha256) != testkit.SHA256B64(zip2) {
		t.Errorf("after a dry run: %v, CodeSha256 %s", err, aws.ToString(fn.Configuration.CodeSha256))
	}
	if n := objectCount(t, d.Dir); n != before {
		t.Errorf("a dry run stored code: %d objects, was %d", n, before)
	}

	layer := bigZip(t, 2<<20)
	lv, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("big-layer"), Content: &types.LayerVersionContentInput{ZipFile: layer}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(lv.Content.CodeSha256) != testkit.SHA256B64(layer) {
		t.Errorf("layer CodeSha256 %s, want %s", aws.ToString(lv.Content.CodeSha256), testkit.SHA256B64(layer))
	}

	// Not a zip: refused, and the bytes written meanwhile are gone.
	before = objectCount(t, d.Dir)
	junk := make([]byte, 2<<20)
	rand.Read(junk)
	_, err = c.CreateFunction(ctx, testkit.CreateInput("big-junk", junk))
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Could not unzip uploaded file. Please check your file, then try to upload again.")
	if n := objectCount(t, d.Dir); n != before {
		t.Errorf("a refused upload left an object: %d objects, was %d", n, before)
	}
	if n := workFiles(t, filepath.Join(d.Dir, "blobs", "tmp")); n != 0 {
		t.Errorf("temporary files left: %d", n)
	}
}

// workFiles counts what the work directories under the blobs' tmp hold
// (each process using the directory has one, and its lock).
func workFiles(t *testing.T, tmp string) int {
	t.Helper()
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			in, err := os.ReadDir(filepath.Join(tmp, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			n += len(in)
		}
	}
	return n
}

// TestUpdateCodeOfAVersionIsRefusedFirst: code for a published version is
// refused before anything is stored, dry run or not.
func TestUpdateCodeOfAVersionIsRefusedFirst(t *testing.T) {
	t.Parallel()
	d, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("upd-ver", testkit.HandlerZip(t, "a\n")))
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("upd-ver")}); err != nil {
		t.Fatal(err)
	}
	before := objectCount(t, d.Dir)
	for _, dry := range []bool{false, true} {
		_, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd-ver:1"), ZipFile: bigZip(t, 2<<20), DryRun: dry})
		testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "Updating a published version is not supported")
	}
	if n := objectCount(t, d.Dir); n != before {
		t.Errorf("refused updates stored code: %d objects, was %d", n, before)
	}
}
