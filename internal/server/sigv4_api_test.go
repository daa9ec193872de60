package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestSignaturesChecked: with credentials configured, only correctly signed
// requests of known keys pass, and functions can still call lambdad back.
func TestSignaturesChecked(t *testing.T) {
	t.Parallel()
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
		servertest.IsolationOff(c)
		c.Credentials = map[string]string{"123456789012": "s3cret", "AKIDALICE": "alice-secret"}
	})
	client := func(key, secret string) *lambda.Client {
		return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.URL),
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	}
	ctx := context.Background()
	good := client("123456789012", "s3cret")
	if _, err := good.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("a correctly signed request: %v", err)
	}
	if _, err := client("AKIDALICE", "alice-secret").GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{}); err != nil {
		t.Fatalf("a second key: %v", err)
	}
	_, err := client("123456789012", "wrong").ListFunctions(ctx, &lambda.ListFunctionsInput{})
	testkit.APIErr(t, err, "InvalidSignatureException", 403, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	_, err = client("AKIDNOBODY", "x").ListFunctions(ctx, &lambda.ListFunctionsInput{})
	testkit.APIErr(t, err, "UnrecognizedClientException", 403, "The security token included in the request is invalid.")
	resp, err := http.Get(d.URL + "/2015-03-31/functions/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("an unsigned request: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	// Names with characters SigV4 escapes, and a function calling back.
	src := "import boto3, os\ndef handler(e, c):\n    l = boto3.client('lambda', endpoint_url=os.environ['AWS_ENDPOINT_URL_LAMBDA'])\n    return l.get_function(FunctionName='caller:$LATEST')['Configuration']['FunctionName']\n"
	caller := testkit.PyFunction(t, "caller", src)
	caller.Runtime = testkit.Boto3Runtime(t)
	testkit.CreateActive(t, good, caller)
	out, err := good.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("caller"), Qualifier: aws.String("$LATEST")})
	if err != nil || out.FunctionError != nil || string(out.Payload) != `"caller"` {
		t.Errorf("a function calling lambdad back: %v %s", err, out.Payload)
	}
}
