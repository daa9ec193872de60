package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestUnimplementedOperations: operations lambdad has no handler for answer
// HTTP 501 naming the operation, as the SDK sees them, even on a function
// that exists.
func TestUnimplementedOperations(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	env.Python(t, "fn-unimpl", "def handler(e, c):\n    return e\n")
	c := env.Client
	ctx := context.Background()
	calls := map[string]func() error{
		"CreateEventSourceMapping": func() error {
			_, err := c.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("fn-unimpl"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:123456789012:q")})
			return err
		},
	}
	for op, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s succeeded, want HTTP 501", op)
			continue
		}
		if got := testkit.HTTPStatus(err); got != 501 {
			t.Errorf("%s: HTTP %d, want 501 (%v)", op, got, err)
		}
		// The message itself names the operation (the SDK's error text
		// always does).
		ae := testkit.APIErr(t, err, "NotImplementedException", 501, "The operation "+op+" is not implemented by lambdad yet.")
		if ae != nil && !strings.Contains(ae.ErrorMessage(), op) {
			t.Errorf("%s: message %q does not name the operation", op, ae.ErrorMessage())
		}
	}
}
