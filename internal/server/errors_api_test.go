package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestCreateFunctionSizeLimits(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	// The zipped limit is checked first: 52428801 bytes fit in the request
	// (base64 makes them 69.9 MB, under 70167211) but not in the zip limit.
	in := testkit.CreateInput("fn-big-zip", make([]byte, 52428801))
	_, err := c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "RequestEntityTooLargeException", 413, "Zipped size must be smaller than 52428800 bytes")
	// A request over 70167211 bytes is refused as a whole.
	in = testkit.CreateInput("fn-big-request", make([]byte, 53000000))
	_, err = c.CreateFunction(ctx, in)
	testkit.APIErr(t, err, "RequestEntityTooLargeException", 413, "Request must be smaller than 70167211 bytes for the CreateFunction operation")
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn-big-zip")})
	if !testkit.IsType[*types.ResourceNotFoundException](err) {
		t.Errorf("oversized create left a function: %v", err)
	}
}
