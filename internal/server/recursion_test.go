package server_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestRecursionConfig covers Put/GetFunctionRecursionConfig: AWS's default
// (Terminate), both settings, and the errors.
func TestRecursionConfig(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.CreateInput("rc", testkit.HandlerZip(t, "x = 1\n")))
	get := func() types.RecursiveLoop {
		t.Helper()
		out, err := c.GetFunctionRecursionConfig(ctx, &lambda.GetFunctionRecursionConfigInput{FunctionName: aws.String("rc")})
		if err != nil {
			t.Fatal(err)
		}
		return out.RecursiveLoop
	}
	if got := get(); got != types.RecursiveLoopTerminate {
		t.Errorf("default: %q", got)
	}
	rev := func() string {
		cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("rc")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(cfg.RevisionId)
	}
	before := rev()
	for _, mode := range []types.RecursiveLoop{types.RecursiveLoopAllow, types.RecursiveLoopTerminate, types.RecursiveLoopAllow} {
		out, err := c.PutFunctionRecursionConfig(ctx, &lambda.PutFunctionRecursionConfigInput{FunctionName: aws.String(testkit.FnARN("rc")), RecursiveLoop: mode})
		if err != nil || out.RecursiveLoop != mode {
			t.Fatalf("put %s: %v %+v", mode, err, out)
		}
		if got := get(); got != mode {
			t.Errorf("after put %s: %q", mode, got)
		}
	}
	if after := rev(); after != before {
		t.Errorf("RevisionId changed: %s -> %s", before, after)
	}

	_, err := c.PutFunctionRecursionConfig(ctx, &lambda.PutFunctionRecursionConfigInput{FunctionName: aws.String("rc"), RecursiveLoop: "Sometimes"})
	testkit.APIErr(t, err, "ValidationException", 400, "1 validation error detected: Value 'Sometimes' at 'recursiveLoop' failed to satisfy constraint: Member must satisfy enum value set: [Allow, Terminate]")
	_, err = c.PutFunctionRecursionConfig(ctx, &lambda.PutFunctionRecursionConfigInput{FunctionName: aws.String("nope"), RecursiveLoop: types.RecursiveLoopAllow})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("nope"))
	_, err = c.GetFunctionRecursionConfig(ctx, &lambda.GetFunctionRecursionConfigInput{FunctionName: aws.String("nope")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("nope"))
}

// loopFunction invokes itself synchronously through boto3 (which forwards
// _X_AMZN_TRACE_ID as X-Amzn-Trace-Id, as in Lambda) until the event's
// stop depth, and says how deep it got and whether Lambda stopped it.
const loopFunction = `import boto3, json, os
from botocore.config import Config
l = boto3.client('lambda', endpoint_url=os.environ['AWS_ENDPOINT_URL_LAMBDA'], config=Config(retries={'max_attempts': 1}, read_timeout=300))
def handler(e, c):
    d, stop = e['depth'], e['stop']
    trace = os.environ.get('_X_AMZN_TRACE_ID', '')
    if d >= stop:
        return {'depth': d, 'trace': trace}
    try:
        out = l.invoke(FunctionName=c.function_name, Payload=json.dumps({'depth': d + 1, 'stop': stop}))
    except l.exceptions.RecursiveInvocationException as x:
        return {'depth': d, 'trace': trace, 'stopped': x.response['Error']['Code'], 'message': x.response['Error']['Message']}
    return json.loads(out['Payload'].read())
`

type loopResult struct {
	Depth   int    `json:"depth"`
	Trace   string `json:"trace"`
	Stopped string `json:"stopped"`
	Message string `json:"message"`
}

var lineageRe = regexp.MustCompile(`;Lineage=([0-9a-f]{8}):(\d+)$`)

// TestRecursiveLoopSync has a Python function invoke itself through the
// SDK: Lambda lets it run 16 times in one chain and refuses the 17th
// invoke with RecursiveInvocationException; with RecursiveLoop Allow the
// chain goes on.
func TestRecursiveLoopSync(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	in := testkit.PyFunction(t, "loop", loopFunction)
	in.Runtime = testkit.Boto3Runtime(t)
	in.Timeout = aws.Int32(300)
	testkit.CreateActive(t, c, in)

	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("loop"), Payload: []byte(`{"depth": 1, "stop": 100}`)})
	r := testkit.DecodeJSON[loopResult](t, out.Payload)
	if r.Depth != 16 || r.Stopped != "RecursiveInvocationException" || !strings.Contains(r.Message, "recursive loop") {
		t.Fatalf("Terminate: %s", out.Payload)
	}
	if m := lineageRe.FindStringSubmatch(r.Trace); m == nil || m[2] != "15" {
		t.Errorf("the 16th run's trace header: %q", r.Trace)
	}

	// A chain started anew (no header) runs again: the count is per chain.
	out = testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("loop"), Payload: []byte(`{"depth": 1, "stop": 3}`)})
	if r := testkit.DecodeJSON[loopResult](t, out.Payload); r.Depth != 3 || r.Stopped != "" {
		t.Errorf("a short chain: %s", out.Payload)
	}

	if _, err := c.PutFunctionRecursionConfig(ctx, &lambda.PutFunctionRecursionConfigInput{FunctionName: aws.String("loop"), RecursiveLoop: types.RecursiveLoopAllow}); err != nil {
		t.Fatal(err)
	}
	out = testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("loop"), Payload: []byte(`{"depth": 1, "stop": 18}`)})
	r = testkit.DecodeJSON[loopResult](t, out.Payload)
	if r.Depth != 18 || r.Stopped != "" {
		t.Fatalf("Allow: %s", out.Payload)
	}
	if m := lineageRe.FindStringSubmatch(r.Trace); m == nil || m[2] != "17" {
		t.Errorf("the 18th run's trace header: %q", r.Trace)
	}
}

// TestRecursiveLoopSyncDirect sends the header a function would forward:
// a caller whose lineage says the function already ran 16 times gets
// RecursiveInvocationException (400), and the function does not run.
func TestRecursiveLoopSyncDirect(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.PyFunction(t, "trace", "import os\ndef handler(e, c):\n    return os.environ['_X_AMZN_TRACE_ID']\n"))
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("trace")})
	var first string
	json.Unmarshal(out.Payload, &first)
	m := lineageRe.FindStringSubmatch(first)
	if m == nil || m[2] != "0" {
		t.Fatalf("a first invoke's header: %q", first)
	}
	key := m[1]
	with := func(h string) func(*lambda.Options) {
		return func(o *lambda.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("X-Amzn-Trace-Id", h))
		}
	}
	root := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("trace")}, with(root+";Lineage=0badf00d:3|"+key+":14"))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	json.Unmarshal(out.Payload, &got)
	if !strings.HasPrefix(got, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=") || !strings.HasSuffix(got, ";Sampled=0;Lineage=0badf00d:3|"+key+":15") {
		t.Errorf("the 16th invoke's header: %q", got)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("trace")}, with(root+";Lineage="+key+":15"))
	testkit.APIErr(t, err, "RecursiveInvocationException", 400, "Lambda has detected your function being invoked in a recursive loop with other AWS resources and stopped your function's invocation.")
}

// TestRecursiveLoopEvent has a function invoke itself as Event invokes:
// Lambda runs it 16 times and drops the 17th event to the function's
// on-failure destination.
func TestRecursiveLoopEvent(t *testing.T) {
	t.Parallel()
	_, c, s, _ := destEnv(t)
	qurl, qarn := queue(t, s, "loop-failures")
	src := `import boto3, json, os
l = boto3.client('lambda', endpoint_url=os.environ['AWS_ENDPOINT_URL_LAMBDA'])
def handler(e, c):
    l.invoke(FunctionName=c.function_name, InvocationType='Event', Payload=json.dumps({'depth': e['depth'] + 1}))
`
	eloop := testkit.PyFunction(t, "eloop", src)
	eloop.Runtime = testkit.Boto3Runtime(t)
	testkit.CreateActive(t, c, eloop)
	putDestinations(t, c, "eloop", "", qarn)
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("eloop"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"depth": 1}`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatal(err)
	}
	m := receive(t, s, qurl)
	var rec struct {
		RequestContext struct {
			Condition string `json:"condition"`
		} `json:"requestContext"`
		RequestPayload struct {
			Depth int `json:"depth"`
		} `json:"requestPayload"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestPayload.Depth != 17 || rec.RequestContext.Condition != "RetriesExhausted" {
		t.Errorf("the dropped event's record: %s", aws.ToString(m.Body))
	}
}

// TestTracingSampled covers the sampling decision a function sees in its
// _X_AMZN_TRACE_ID: PassThrough (the default) samples only what the
// caller's header sampled; Active respects the caller's decision and
// samples a request that has none.
func TestTracingSampled(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	src := "import os\ndef handler(e, c):\n    return os.environ['_X_AMZN_TRACE_ID']\n"
	testkit.CreateActive(t, c, testkit.PyFunction(t, "pass", src))
	active := testkit.PyFunction(t, "active", src)
	active.TracingConfig = &types.TracingConfig{Mode: types.TracingModeActive}
	testkit.CreateActive(t, c, active)
	sampled := func(fn, header string) string {
		t.Helper()
		var opts []func(*lambda.Options)
		if header != "" {
			opts = append(opts, func(o *lambda.Options) {
				o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("X-Amzn-Trace-Id", header))
			})
		}
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn)}, opts...)
		if err != nil || out.FunctionError != nil {
			t.Fatalf("%s: %v %s", fn, err, out.Payload)
		}
		var h string
		json.Unmarshal(out.Payload, &h)
		_, s, ok := strings.Cut(h, ";Sampled=")
		if !ok {
			t.Fatalf("%s: no Sampled in %q", fn, h)
		}
		return s[:1]
	}
	const root = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"
	for _, tc := range []struct{ fn, header, want string }{
		{"active", "", "1"},
		{"active", root + ";Sampled=0", "0"},
		{"active", root + ";Sampled=1", "1"},
		{"pass", "", "0"},
		{"pass", root, "0"},
		{"pass", root + ";Sampled=1", "1"},
		{"pass", root + ";Sampled=0", "0"},
	} {
		if got := sampled(tc.fn, tc.header); got != tc.want {
			t.Errorf("%s with %q: Sampled=%s, want %s", tc.fn, tc.header, got, tc.want)
		}
	}
}
