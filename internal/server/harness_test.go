package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
)

// The account and region most tests act as: a 12-digit access key id is
// taken as the account.
const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	testRole    = "arn:aws:iam::123456789012:role/lambda-role"
	// fastTransition keeps Pending/InProgress short so tests stay quick.
	fastTransition = 50 * time.Millisecond
)

// daemon is one running lambdad on a loopback port.
type daemon struct {
	URL  string
	Dir  string
	srv  *server.Server
	stop func()
}

// startDaemon serves a lambdad over dir until the test ends (or Stop).
func startDaemon(t testing.TB, dir string, transition time.Duration) *daemon {
	t.Helper()
	srv, err := server.New(server.Config{DataDir: dir, Transition: transition})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatalf("listen: %v", err)
	}
	return serveDaemon(t, srv, ln, dir)
}

// serveDaemon serves srv on ln until the test ends (or Stop), then closes it.
func serveDaemon(t testing.TB, srv *server.Server, ln net.Listener, dir string) *daemon {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	d := &daemon{URL: "http://" + ln.Addr().String(), Dir: dir, srv: srv}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(d.stop)
	return d
}

// Stop shuts the daemon down and releases its data directory.
func (d *daemon) Stop() { d.stop() }

// client is an SDK client for the daemon acting with accessKey in region.
func (d *daemon) client(accessKey, region string) *lambda.Client {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, "secret", ""),
		// A retry would hide what the server answered first.
		Retryer: func() aws.Retryer { return aws.NopRetryer{} },
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(d.URL) })
}

// newEnv starts a daemon on a fresh data directory with the default client.
func newEnv(t testing.TB, transition time.Duration) (*daemon, *lambda.Client) {
	t.Helper()
	d := startDaemon(t, t.TempDir(), transition)
	return d, d.client(testAccount, testRegion)
}

func fnARN(name string) string {
	return "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:" + name
}

// handlerZip is a small valid Python deployment package.
func handlerZip(t testing.TB, body string) []byte {
	t.Helper()
	return archivetest.Zip(t, archivetest.File{Name: "handler.py", Body: body})
}

func sha256b64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// createInput is a minimal valid CreateFunction request.
func createInput(name string, zip []byte) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(testRole),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("handler.handler"),
		Code:         &types.FunctionCode{ZipFile: zip},
	}
}

// create makes a function and fails the test if it cannot.
func create(t testing.TB, c *lambda.Client, in *lambda.CreateFunctionInput) *lambda.CreateFunctionOutput {
	t.Helper()
	out, err := c.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

// waitActive waits with the SDK's own waiter, polling fast.
func waitActive(t testing.TB, c *lambda.Client, name string) *lambda.GetFunctionOutput {
	t.Helper()
	w := lambda.NewFunctionActiveV2Waiter(c, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	out, err := w.WaitForOutput(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 20*time.Second)
	if err != nil {
		t.Fatalf("FunctionActiveV2 waiter %s: %v", name, err)
	}
	return out
}

// waitUpdated waits until the last update of name finished.
func waitUpdated(t testing.TB, c *lambda.Client, name string) *lambda.GetFunctionOutput {
	t.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	out, err := w.WaitForOutput(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 20*time.Second)
	if err != nil {
		t.Fatalf("FunctionUpdatedV2 waiter %s: %v", name, err)
	}
	return out
}

// createActive creates a function and waits for it to be Active.
func createActive(t testing.TB, c *lambda.Client, in *lambda.CreateFunctionInput) *lambda.GetFunctionOutput {
	t.Helper()
	create(t, c, in)
	return waitActive(t, c, aws.ToString(in.FunctionName))
}

// apiErr checks that err is the API error code with HTTP status and exact
// message, and returns it for more checks.
func apiErr(t testing.TB, err error, code string, status int, msg string) smithy.APIError {
	t.Helper()
	ae := apiErrPrefix(t, err, code, status, "")
	if ae != nil && ae.ErrorMessage() != msg {
		t.Errorf("%s message:\n got: %s\nwant: %s", code, ae.ErrorMessage(), msg)
	}
	return ae
}

// apiErrPrefix is apiErr for messages checked only up to a prefix.
func apiErrPrefix(t testing.TB, err error, code string, status int, prefix string) smithy.APIError {
	t.Helper()
	if err == nil {
		t.Errorf("want %s (%d), got success", code, status)
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("want API error %s, got %T: %v", code, err, err)
		return nil
	}
	if ae.ErrorCode() != code {
		t.Errorf("error code = %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if got := httpStatus(err); got != status {
		t.Errorf("%s: HTTP status = %d, want %d", code, got, status)
	}
	if !strings.HasPrefix(ae.ErrorMessage(), prefix) {
		t.Errorf("%s message:\n got: %s\nwant prefix: %s", code, ae.ErrorMessage(), prefix)
	}
	return ae
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isType reports whether err unwraps to the SDK's typed error T.
func isType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// rawStatus records the HTTP status of successful SDK calls.
type rawStatus struct{ code int }

func (r *rawStatus) option() func(*lambda.Options) {
	return func(o *lambda.Options) {
		o.HTTPClient = statusClient{next: awshttp.NewBuildableClient(), rec: r}
	}
}

type statusClient struct {
	next aws.HTTPClient
	rec  *rawStatus
}

func (c statusClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if resp != nil {
		c.rec.code = resp.StatusCode
	}
	return resp, err
}

// skipClientValidation drops the SDK's own required-field check, to see what
// the server answers to a request AWS's SDKs would not send.
func skipClientValidation(o *lambda.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		_, err := s.Initialize.Remove("OperationInputValidation")
		return err
	})
}
