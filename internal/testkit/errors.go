package testkit

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// APIErr checks that err is the API error code with HTTP status and exact
// message, and returns it for more checks.
func APIErr(t testing.TB, err error, code string, status int, msg string) smithy.APIError {
	t.Helper()
	ae := APIErrPrefix(t, err, code, status, "")
	if ae != nil && ae.ErrorMessage() != msg {
		t.Errorf("%s message:\n got: %s\nwant: %s", code, ae.ErrorMessage(), msg)
	}
	return ae
}

// APIErrPrefix is APIErr for messages checked only up to a prefix.
func APIErrPrefix(t testing.TB, err error, code string, status int, prefix string) smithy.APIError {
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
	if got := HTTPStatus(err); got != status {
		t.Errorf("%s: HTTP status = %d, want %d", code, got, status)
	}
	if !strings.HasPrefix(ae.ErrorMessage(), prefix) {
		t.Errorf("%s message:\n got: %s\nwant prefix: %s", code, ae.ErrorMessage(), prefix)
	}
	return ae
}

// HTTPStatus is the HTTP status of the response an SDK error came from, 0
// when there was none.
func HTTPStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// IsType reports whether err unwraps to the SDK's typed error T.
func IsType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// RawStatus records the HTTP status of successful SDK calls.
type RawStatus struct{ Code int }

// Option makes a client record into r.
func (r *RawStatus) Option() func(*lambda.Options) {
	return func(o *lambda.Options) {
		o.HTTPClient = statusClient{next: awshttp.NewBuildableClient(), rec: r}
	}
}

type statusClient struct {
	next aws.HTTPClient
	rec  *RawStatus
}

func (c statusClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if resp != nil {
		c.rec.Code = resp.StatusCode
	}
	return resp, err
}

// SkipClientValidation drops the SDK's own required-field check, to see what
// the server answers to a request AWS's SDKs would not send.
func SkipClientValidation(o *lambda.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		_, err := s.Initialize.Remove("OperationInputValidation")
		return err
	})
}
