// Package testkit is the shared harness of lambdad's tests: SDK clients,
// deployment packages and the standard test functions, invoke helpers,
// waiting, AWS error assertions, and the lambdad binary run as a process.
//
// Only tests import it (it imports testing). It imports no lambdad package
// above the sandbox, so the in-package tests of any domain package can use
// it without an import cycle; starting lambdad in-process lives in
// internal/server/servertest, which imports the server.
package testkit

import (
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// The account and region most tests act as: a 12-digit access key id is
// taken as the account.
const (
	Account = "123456789012"
	Region  = "us-east-1"
	Role    = "arn:aws:iam::123456789012:role/lambda-role"
)

// The invoke tests act as the default account: an access key that is not 12
// digits, so messages name 000000000000 as AWS's own examples do.
const (
	InvokeKey     = "test"
	InvokeAccount = "000000000000"
)

// InvokeAuth is the SigV4 Authorization header raw requests carry; lambdad
// reads the identity from it and does not check signatures by default.
const InvokeAuth = "AWS4-HMAC-SHA256 Credential=" + InvokeKey + "/20250101/" + Region +
	"/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"

// UUIDRe is the form of AWS request ids.
var UUIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// FnARN is the unqualified ARN of name in Account.
func FnARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
}

// InvokeARN is the unqualified ARN of name in the invoke tests' account.
func InvokeARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + InvokeAccount + ":function:" + name
}

// Client is an SDK client for the lambdad at url, signing as accessKey with
// secret in region. A retry would hide what the server answered first, so
// there is none; opts adjust the rest.
func Client(url, accessKey, secret, region string, opts ...func(*lambda.Options)) *lambda.Client {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	return lambda.NewFromConfig(cfg, append([]func(*lambda.Options){
		func(o *lambda.Options) { o.BaseEndpoint = aws.String(url) },
	}, opts...)...)
}
