package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestCodeFromS3 creates and updates functions from S3Bucket/S3Key against
// an S3-compatible endpoint (a path-style stub: there is no S3 here).
func TestCodeFromS3(t *testing.T) {
	zip1 := testkit.HandlerZip(t, "def handler(e, c):\n    return 1\n")
	zip2 := testkit.HandlerZip(t, "def handler(e, c):\n    return 2\n")
	objects := map[string][]byte{"/code/v1.zip": zip1, "/code/v2.zip": zip2, "/code/bad.zip": []byte("not a zip")}
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := objects[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			return
		}
		w.Write(b)
	}))
	defer s3.Close()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) { c.S3Endpoint = s3.URL })
	c := servertest.InvokeClient(d)
	ctx := context.Background()

	in := testkit.PyFunction(t, "from-s3", "")
	in.Code = &types.FunctionCode{S3Bucket: aws.String("code"), S3Key: aws.String("v1.zip")}
	out := testkit.Create(t, c, in)
	if aws.ToString(out.CodeSha256) != testkit.SHA256B64(zip1) || out.CodeSize != int64(len(zip1)) {
		t.Errorf("CodeSha256/CodeSize = %s/%d", aws.ToString(out.CodeSha256), out.CodeSize)
	}
	testkit.WaitActive(t, c, "from-s3")
	if got := string(testkit.Call(t, c, "from-s3", `{}`).Payload); got != "1" {
		t.Errorf("invoke = %s", got)
	}
	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("from-s3"), S3Bucket: aws.String("code"), S3Key: aws.String("v2.zip")})
	if err != nil || aws.ToString(up.CodeSha256) != testkit.SHA256B64(zip2) {
		t.Fatalf("UpdateFunctionCode from S3: %v", err)
	}
	testkit.WaitUpdated(t, c, "from-s3")
	if got := string(testkit.Call(t, c, "from-s3", `{}`).Payload); got != "2" {
		t.Errorf("invoke after update = %s", got)
	}

	in = testkit.PyFunction(t, "s3-missing", "")
	in.Code = &types.FunctionCode{S3Bucket: aws.String("code"), S3Key: aws.String("nope.zip")}
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.")

	in.Code = &types.FunctionCode{S3Bucket: aws.String("code"), S3Key: aws.String("bad.zip")}
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "InvalidParameterValueException", 400, "Could not unzip uploaded file. Please check your file, then try to upload again.")
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("s3-missing")}); err == nil {
		t.Error("a refused create left a function behind")
	}
}

// TestCodeFromS3WithoutEndpoint: with no --s3-endpoint the request is refused clearly.
func TestCodeFromS3WithoutEndpoint(t *testing.T) {
	d := servertest.StartLambdad(t, t.TempDir(), nil)
	c := servertest.InvokeClient(d)
	in := testkit.PyFunction(t, "no-s3", "")
	in.Code = &types.FunctionCode{S3Bucket: aws.String("code"), S3Key: aws.String("v1.zip")}
	_, err := c.CreateFunction(context.Background(), in)
	testkit.APIErrPrefix(t, err, "InvalidParameterValueException", 400, "Code in S3 (bucket code) cannot be fetched: lambdad has no S3 endpoint.")
}
