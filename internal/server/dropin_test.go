package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestDefaultAccount checks --account: a key that is not 12 digits (moto's
// FOOBARKEY) acts as the configured account, in ARNs and in the function's
// own context; a 12-digit key still is its own account.
func TestDefaultAccount(t *testing.T) {
	t.Parallel()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) { c.Account = "123456789012"; c.Isolation = "off" })
	foobar := testkit.Client(d.URL, "FOOBARKEY", "bar", testkit.Region)
	ctx := context.Background()
	in := testkit.PyFunction(t, "acct", "def handler(e, c):\n    return c.invoked_function_arn\n")
	in.Role = aws.String("arn:aws:iam::123456789012:role/lambda-role")
	fn := testkit.CreateActive(t, foobar, in)
	if want := "arn:aws:lambda:us-east-1:123456789012:function:acct"; aws.ToString(fn.Configuration.FunctionArn) != want {
		t.Errorf("FunctionArn = %s, want %s", aws.ToString(fn.Configuration.FunctionArn), want)
	}
	out := testkit.Call(t, foobar, "acct", `{}`)
	if got := string(out.Payload); got != `"arn:aws:lambda:us-east-1:123456789012:function:acct"` {
		t.Errorf("invoked_function_arn = %s", got)
	}
	// Another account's key sees nothing of it.
	other := testkit.Client(d.URL, "111122223333", "bar", testkit.Region)
	_, err := other.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("acct")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:us-east-1:111122223333:function:acct")
	// Nor does the default account's when --account is not set.
	d0 := servertest.StartLambdad(t, t.TempDir(), nil)
	c0 := testkit.Client(d0.URL, "FOOBARKEY", "bar", testkit.Region)
	fn0 := testkit.Create(t, c0, testkit.PyFunction(t, "acct", "def handler(e, c):\n    return 1\n"))
	if arn := aws.ToString(fn0.FunctionArn); !strings.Contains(arn, ":000000000000:") {
		t.Errorf("without --account: %s", arn)
	}
}
