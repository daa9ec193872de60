package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// probePy is the start of the event crash tests' Python functions:
// record(body) sends body to the SQS queue in $PROBE, on the moto server
// functions reach as AWS_ENDPOINT_URL.
const probePy = `
import json, os, urllib.request, urllib.parse, time
def record(body):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": body}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
`

// crashRig is a real lambdad binary whose event sources are on moto, with
// one Active Python function that records to a probe queue.
type crashRig struct {
	bin  string
	args []string
	p    *testkit.Proc
	cl   *lambda.Client
}

// startCrashRig starts lambdad and creates function name from src, with
// PROBE set to probe and a 30 s timeout, and waits until it is Active.
func startCrashRig(t *testing.T, moto, name, src, probe string) *crashRig {
	t.Helper()
	r := &crashRig{bin: lambdadBin.Path(t), args: []string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--transition", "20ms",
		"--log-level", "info", "--isolation", "off", "--aws-endpoint-url", moto, "--runtime-fallback"}}
	r.p = testkit.StartProcess(t, r.bin, "", nil, r.args...)
	r.cl = newLambdaClient(r.p.Addr)
	in := testkit.PyFunction(t, name, src)
	in.Timeout = aws.Int32(30)
	in.Environment = &types.Environment{Variables: map[string]string{"PROBE": probe}}
	ctx := context.Background()
	if _, err := r.cl.CreateFunction(ctx, in); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the function never became Active", func() bool {
		got, err := r.cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		return err == nil && got.Configuration.State == types.StateActive
	})
	return r
}

// killAndRestart kills lambdad with SIGKILL and starts it again on the same
// data directory; its mappings resume on their own.
func (r *crashRig) killAndRestart(t *testing.T) {
	r.p.Kill(syscall.SIGKILL)
	r.p = testkit.StartProcess(t, r.bin, "", nil, r.args...)
}
